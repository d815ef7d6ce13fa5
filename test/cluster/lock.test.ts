// Mutual exclusion with real processes against a real agent: lock-demo instances
// incrementing one counter under the lock, a holder killed with SIGKILL, and
// `muster lock -n 2` never admitting a third.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, MUSTER_BIN, ROOT } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { spawnLines, type LineProcess } from '../helpers/cli.js';
import { MusterClient } from '../../src/client/index.js';

const DEMO = join(ROOT, 'examples/lock-demo/index.mjs');

interface DemoLine { at: number; instance: string; text: string }

function parse(lines: readonly string[]): DemoLine[] {
  const out: DemoLine[] = [];
  for (const l of lines) {
    const m = /^(\S+) \[([^\]]+)\] (.*)$/.exec(l);
    if (m) out.push({ at: Date.parse(m[1] as string), instance: m[2] as string, text: m[3] as string });
  }
  return out;
}

/** The `before` value of every increment an instance logged. */
function increments(lines: readonly string[]): number[] {
  return parse(lines).flatMap((l) => {
    const m = /^counter (\d+) -> (\d+)/.exec(l.text);
    return m ? [Number(m[1])] : [];
  });
}

t.test('lock-demo and muster lock against one agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const client = new MusterClient({ address: agent.url });
  const demo = (name: string, env: NodeJS.ProcessEnv) => spawnLines(t, process.execPath, [DEMO], {
    MUSTER_HTTP_ADDR: agent.url, INSTANCE: name, SESSION_TTL: '10s', LOCK_DELAY: '1s', LOCK_RETRY_MS: '200', ...env,
  });

  t.test('4 instances × 50 increments under the lock: exactly 200', async (t) => {
    const env = { PREFIX: 'demo-200', ITERATIONS: '50', HOLD_MS: '2', PAUSE_MS: '0' };
    const procs = ['a', 'b', 'c', 'd'].map((n) => demo(n, env));
    const codes = await Promise.all(procs.map((p) => p.exited));
    t.same(codes, [0, 0, 0, 0], `all exit 0 ${procs.map((p) => p.stderr()).join('')}`);
    const counter = await client.kv.get('demo-200/counter');
    t.equal(counter?.value.toString(), '200', 'the counter is exactly 200');
    const seen = procs.flatMap((p) => increments(p.lines)).sort((x, y) => x - y);
    t.same(seen, Array.from({ length: 200 }, (_, i) => i), 'each value 0..199 was read by exactly one holder');
    for (const p of procs) t.equal(increments(p.lines).length, 50, 'each instance made its 50');
    const holders = new Set(procs.map((p) => parse(p.lines).find((l) => l.text.startsWith('holds the lock'))?.instance));
    t.equal(holders.size, 4, 'every instance held the lock');
    t.equal((await client.kv.get('demo-200/.lock'))?.session, undefined, 'nobody holds it at the end');
  });

  t.test('a holder killed with SIGKILL keeps the lock until its session is invalidated; the others go on', async (t) => {
    const env = { PREFIX: 'demo-kill', ITERATIONS: '5', HOLD_MS: '300', PAUSE_MS: '50' };
    const procs: Record<string, LineProcess> = { a: demo('a', env), b: demo('b', env), c: demo('c', env) };
    // the first instance seen holding the lock is the victim
    const victim = await waitFor(() => Object.entries(procs).find(([, p]) => parse(p.lines).some((l) => l.text.startsWith('holds the lock'))), {
      timeoutMs: 15_000, message: 'an instance holds the lock',
    });
    const [victimName, victimProc] = victim;
    victimProc.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await victimProc.exited;
    const held = await client.kv.get('demo-kill/.lock');
    t.ok(held?.session, 'the key is still held after the kill');
    const info = await client.session.info(held?.session as string);
    t.equal(info?.name, `lock-demo ${victimName}`, 'by the dead instance\'s session');

    const expired = await agent.waitForLog((l) => l.msg === 'session ttl expired; invalidating' && l.session === held?.session, 28_000);
    const invalidatedAt = Number(expired.time);
    t.ok(invalidatedAt - killedAt <= 22_000, `invalidated within 2×TTL of the kill (${invalidatedAt - killedAt} ms)`);

    const survivors = Object.entries(procs).filter(([n]) => n !== victimName).map(([, p]) => p);
    const codes = await Promise.all(survivors.map((p) => p.exited));
    t.same(codes, [0, 0], 'the others finish');
    const after = survivors.flatMap((p) => parse(p.lines)).filter((l) => l.text.startsWith('holds the lock') && l.at > killedAt);
    t.ok(after.length > 0, 'the others held the lock after the kill');
    const first = Math.min(...after.map((l) => l.at));
    t.ok(first >= invalidatedAt, `nobody else held it before the dead session was invalidated (${first - invalidatedAt} ms after)`);
    for (const p of survivors) t.ok(p.lines.some((l) => l.endsWith('] done')), 'each survivor did all its iterations');

    const total = Object.values(procs).reduce((n, p) => n + increments(p.lines).length, 0);
    t.equal((await client.kv.get('demo-kill/counter'))?.value.toString(), String(total), 'no increment lost or doubled');
  });

  t.test('muster lock -n 2 never admits a third', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-sem-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const running = join(dir, 'running');
    mkdirSync(running);
    const child = join(dir, 'child.sh');
    writeFileSync(child, [
      'd="$1"',
      'touch "$d/running/$$"',
      'n=$(ls "$d/running" | wc -l)',
      'echo "$n" >> "$d/counts"',
      'echo "$CONSUL_LOCK_HELD" >> "$d/held"',
      'sleep 0.4',
      'rm -f "$d/running/$$"',
      '',
    ].join('\n'));
    const procs = Array.from({ length: 6 }, () => spawnLines(t, process.execPath,
      [MUSTER_BIN, 'lock', '-n', '2', 'sem-2', `sh ${child} ${dir}`], { MUSTER_HTTP_ADDR: agent.url }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    t.same(codes, [0, 0, 0, 0, 0, 0], `all exit 0 ${procs.map((p) => p.stderr()).join('')}`);
    const counts = readFileSync(join(dir, 'counts'), 'utf8').trim().split('\n').map(Number);
    t.equal(counts.length, 6, 'every child ran once');
    t.ok(Math.max(...counts) <= 2, `never more than 2 at once (${counts.join(',')})`);
    t.ok(counts.includes(2), 'and 2 at once did happen');
    t.same(readFileSync(join(dir, 'held'), 'utf8').trim().split('\n'), Array(6).fill('true'), 'CONSUL_LOCK_HELD=true in each');
    t.same(await client.kv.list('sem-2/'), [], 'the semaphore is cleaned up');
  });
});
