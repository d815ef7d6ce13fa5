import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, startAgent } from '../helpers/agent.js';
import { runMuster } from '../helpers/cli.js';
import { tmpfsDir } from '../helpers/tmpfs.js';

/**
 * A single server with a data dir, as an operator runs one: what it
 * acknowledged survives a restart, and a log damaged in the middle stops it
 * with a clear error instead of starting with less data.
 */
const KEYS = 40;

function serverArgs(dir: string, node: string): string[] {
  return ['agent', '-server', '-bootstrap', '-data-dir', dir, '-node', node, '-bind', '127.0.0.1',
    '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0', '-dns-port', '-1', '-docker', '', '-log-level', 'info'];
}

const value = (i: number) => `value-${String(i).padStart(4, '0')}-durable`;

t.test('a server keeps what it acknowledged across a restart, and refuses a log corrupted in the middle', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-disk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const node = `disk-${process.pid}`;

  const first = await startAgent(t, { command: serverArgs(dir, node) });
  for (let i = 0; i < KEYS; i++) {
    const r = await api(first.url, 'PUT', `/v1/kv/durable/${i}`, value(i));
    t.equal(r.status, 200, `put ${i}`);
  }
  t.equal(await first.stop('SIGKILL'), null, 'killed without a chance to flush anything');

  const second = await startAgent(t, { command: serverArgs(dir, node) });
  const list = await api(second.url, 'GET', '/v1/kv/durable/?recurse');
  t.equal(list.status, 200);
  const values = (list.body as Array<{ Value: string }>).map((e) => Buffer.from(e.Value, 'base64').toString());
  t.equal(values.length, KEYS, 'every acknowledged key is back after the restart');
  t.ok(values.includes(value(KEYS - 1)), 'including the last one');
  await second.stop();

  // damage one value in the middle of the log: records after it are intact, so this is not a torn tail
  const walDir = join(dir, 'raft', 'wal');
  const segment = readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort()[0];
  t.ok(segment, 'the WAL has a segment');
  const path = join(walDir, segment as string);
  const buf = readFileSync(path);
  // commands carry KV values in base64
  const at = buf.indexOf(Buffer.from(Buffer.from(value(Math.floor(KEYS / 2))).toString('base64')));
  t.ok(at > 0, 'the middle key\'s value is in the log');
  buf[at + 3] = (buf[at + 3] as number) ^ 0x01;
  writeFileSync(path, buf);

  const r = await runMuster(serverArgs(dir, node), { timeoutMs: 30_000 });
  t.not(r.code, 0, 'the server refuses to start');
  const out = `${r.stdout.toString()}${r.stderr.toString()}`;
  t.match(out, /corrupt/, 'and says the log is corrupt');
  t.match(out, segment as string, 'naming the file');
});

t.test('a full disk: the server stops taking writes with a clear error, keeps answering, and loses nothing it acknowledged', async (t) => {
  const dir = tmpfsDir(t, 'muster-full-', '2m');
  if (dir === undefined) return;
  const node = `full-${process.pid}`;
  const big = (i: number) => `${String(i).padStart(4, '0')}:${'x'.repeat(100 * 1024)}`;

  const server = await startAgent(t, { command: serverArgs(dir, node) });
  const acked: number[] = [];
  let failure: { status: number; text: string } | undefined;
  // 2 MiB hold fewer than 20 such values: the disk fills well before the bound
  for (let i = 0; i < 60 && failure === undefined; i++) {
    const r = await api(server.url, 'PUT', `/v1/kv/full/${i}`, big(i));
    if (r.status === 200 && r.text.trim() === 'true') acked.push(i);
    else failure = { status: r.status, text: r.text.trim() };
  }
  t.ok(failure, `a write failed once the disk was full (after ${acked.length} acknowledged)`);
  t.ok(acked.length > 0, 'writes were acknowledged before that');
  t.equal(failure?.status, 500, 'the failed write answers 500');
  t.match(failure?.text ?? '', /ENOSPC|no space/i, `naming the cause (${failure?.text ?? ''})`);
  const line = await server.waitForLog((l) => l.msg === 'raft stopped: cannot persist its log', 10_000);
  t.match(String(line.err), /ENOSPC|no space/i, 'the log says raft stopped because the disk is full');

  // still alive: later writes fail at once with the same reason, reads answer
  const again = await api(server.url, 'PUT', '/v1/kv/full/again', 'small');
  t.equal(again.status, 500, 'a later write is refused too');
  t.match(again.text, /ENOSPC|no space/i, 'with the same reason');
  const read = await api(server.url, 'GET', `/v1/kv/full/${acked[0] ?? 0}?stale&raw`);
  t.equal(read.status, 200, 'an acknowledged key still reads');
  t.equal(server.proc.exitCode, null, 'the process did not crash');
  t.equal(await server.stop(), 0, 'and stops cleanly on SIGTERM');

  // more room, a restart: everything acknowledged is there, and writes work again
  const grow = spawnSync('mount', ['-o', 'remount,size=64m', dir], { encoding: 'utf8' });
  t.equal(grow.status, 0, `the tmpfs grows (${grow.stderr.trim()})`);
  const restarted = await startAgent(t, { command: serverArgs(dir, node) });
  const list = await api(restarted.url, 'GET', '/v1/kv/full/?keys');
  t.equal(list.status, 200);
  const keys = new Set(list.body as string[]);
  const missing = acked.filter((i) => !keys.has(`full/${i}`));
  t.same(missing, [], `every one of the ${acked.length} acknowledged keys is there after the restart`);
  const last = acked.at(-1) ?? 0;
  const lastValue = await api(restarted.url, 'GET', `/v1/kv/full/${last}?raw`);
  t.equal(lastValue.text, big(last), 'the last acknowledged value is whole');
  const after = await api(restarted.url, 'PUT', '/v1/kv/full/after', 'ok');
  t.equal(after.status, 200, 'writes work again');
  await restarted.stop();
});
