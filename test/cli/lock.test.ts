// `muster lock` as `consul lock`: the child runs holding the lock, and is stopped when it is lost.
import t from 'tap';
import { startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { runMuster, spawnLines } from '../helpers/cli.js';
import { MUSTER_BIN } from '../helpers/agent.js';
import { MusterClient, Lock } from '../../src/client/index.js';

t.test('muster lock against an agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const client = new MusterClient({ address: agent.url });
  const env = { MUSTER_HTTP_ADDR: agent.url };
  const lock = (args: string[]) => runMuster(['lock', ...args], { env });

  t.test('runs the child holding the lock, then releases and cleans up', async (t) => {
    const r = await lock(['-verbose', '/jobs/one', 'echo held=$CONSUL_LOCK_HELD; echo prefix is free: no']);
    t.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    t.match(out, /Setting up lock at path: jobs\/one\/\.lock/, 'the leading / is dropped; the key is <prefix>/.lock');
    t.match(out, /held=true/, 'the child sees CONSUL_LOCK_HELD=true');
    t.match(out, /Cleanup succeeded/);
    t.equal(await client.kv.get('jobs/one/.lock'), undefined, 'the lock key is gone after');
    t.same((await client.session.list()).filter((s) => s.name.startsWith('Consul lock for')), [], 'and its session');
  });

  t.test('exit codes', async (t) => {
    const plain = await lock(['jobs/two', 'exit 3']);
    t.equal(plain.code, 0, 'a failing child: 0 without -child-exit-code');
    t.match(plain.stderr, /Error running handler: exit status 3/);
    t.equal((await lock(['-child-exit-code', 'jobs/two', 'exit 3'])).code, 2, 'and 2 with it');
    t.equal((await lock(['-child-exit-code', 'jobs/two', 'true'])).code, 0);
    const direct = await lock(['-shell=false', 'jobs/two', 'sh', '-c', 'echo $0 $1', 'a', 'b']);
    t.equal(direct.stdout.toString(), 'a b\n', '-shell=false execs the command with its arguments');
  });

  t.test('usage and errors', async (t) => {
    const n0 = await lock(['-n', '0', 'p', 'true']);
    t.equal(n0.code, 2);
    t.equal(n0.stderr, 'muster: Lock holder limit must be positive\n');
    const missing = await lock(['p']);
    t.equal(missing.code, 2);
    t.equal(missing.stderr, 'muster: Key prefix and child command must be specified\n');
    t.equal((await lock(['-bogus', 'p', 'true'])).code, 2, 'an unknown flag');

    await client.kv.put('conflict/.lock', 'x', { flags: 7n });
    const conflict = await lock(['conflict', 'true']);
    t.equal(conflict.code, 1);
    t.equal(conflict.stderr, 'muster: Lock acquisition failed: Existing key does not match lock use\n');

    const down = await runMuster(['lock', 'p', 'true'], { env: { MUSTER_HTTP_ADDR: '127.0.0.1:1' } });
    t.equal(down.code, 1);
    t.match(down.stderr, /^muster: Error querying Consul agent: /);
  });

  t.test('-timeout gives up while another holds the lock', async (t) => {
    const holder = new Lock(client, { key: 'busy/.lock' });
    await holder.lock();
    t.teardown(() => holder.unlock());
    const started = Date.now();
    const r = await lock(['-timeout', '500ms', 'busy', 'echo should not run']);
    t.equal(r.code, 1);
    t.equal(r.stderr, 'muster: Shutdown triggered or timeout during lock acquisition\n');
    t.equal(r.stdout.toString(), '', 'the child never ran');
    t.ok(Date.now() - started < 10_000, 'it did not wait the default 15s');
  });

  t.test('a lost lock stops the child with SIGTERM', async (t) => {
    const script = 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.05; done';
    const p = spawnLines(t, process.execPath, [MUSTER_BIN, 'lock', '-verbose', 'lost', script], env);
    await waitFor(() => p.lines.includes('started'), { timeoutMs: 10_000, message: 'the child started' });
    const session = (await client.kv.get('lost/.lock'))?.session;
    t.ok(session, 'the lock is held');
    await client.session.destroy(session as string);
    t.equal(await p.exited, 0, 'muster lock exits 0');
    t.ok(p.lines.includes('Lock lost, killing child'), 'it noticed');
    t.ok(p.lines.includes('got-term'), 'the child got SIGTERM');
  });

  t.test('SIGTERM to muster lock reaches the child, then the lock is released', async (t) => {
    const script = 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.05; done';
    const p = spawnLines(t, process.execPath, [MUSTER_BIN, 'lock', 'sig', script], env);
    await waitFor(() => p.lines.includes('started'), { timeoutMs: 10_000, message: 'the child started' });
    p.proc.kill('SIGTERM');
    t.equal(await p.exited, 0);
    t.ok(p.lines.includes('got-term'), 'forwarded to the child');
    t.equal(await client.kv.get('sig/.lock'), undefined, 'released and cleaned up');
  });

  t.test('a child that ignores SIGTERM is killed after the grace period', async (t) => {
    const script = 'trap "echo ignoring" TERM; echo started; while :; do sleep 0.05; done';
    const p = spawnLines(t, process.execPath, [MUSTER_BIN, 'lock', '-verbose', 'stubborn', script], env);
    await waitFor(() => p.lines.includes('started'), { timeoutMs: 10_000, message: 'the child started' });
    const session = (await client.kv.get('stubborn/.lock'))?.session as string;
    const at = Date.now();
    await client.session.destroy(session);
    t.equal(await p.exited, 0);
    const took = Date.now() - at;
    t.ok(p.lines.includes('Child did not exit after grace period of 5s'), 'waited the grace period');
    t.ok(p.lines.some((l) => l.startsWith('Killing child pid')), 'then SIGKILL');
    t.ok(took >= 4500 && took < 15_000, `about 5 s (${took} ms)`);
  });
});
