import t, { type Test } from 'tap';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { runMuster } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

// Five real agent processes on 127.0.0.1 in one gossip pool. Failure
// detection with memberlist's LAN timers takes a few seconds (probe 1 s,
// suspicion 4 × log10(N+1) × 1 s, at least 4 s); the deadlines below leave
// room for a loaded 2-core machine.
const DETECT_MS = 30_000;

interface Member { Name: string; Status: number }
const STATUS = { alive: 1, left: 3, failed: 4 };

async function members(a: RunningAgent): Promise<Member[]> {
  const res = await fetch(`${a.url}/v1/agent/members`);
  return (await res.json()) as Member[];
}

async function gossipAddr(a: RunningAgent): Promise<string> {
  const line = await a.waitForLog((l) => l.msg === 'gossip listening');
  return String(line.addr);
}

async function cluster(t: Test, n: number, args: string[] = []): Promise<RunningAgent[]> {
  const agents = await Promise.all(Array.from({ length: n }, () => startAgent(t, { args: ['-docker', '', ...args] })));
  const seed = await gossipAddr(agents[0]!);
  for (const a of agents.slice(1)) {
    const r = await runMuster(['join', '-http-addr', `127.0.0.1:${a.port}`, seed]);
    t.equal(r.code, 0, `join: ${r.stderr}`);
  }
  for (const a of agents) {
    await waitFor(async () => (await members(a)).filter((m) => m.Status === STATUS.alive).length === n, { timeoutMs: DETECT_MS, message: `${a.node} sees ${n} alive` });
  }
  return agents;
}

async function statusOn(a: RunningAgent, name: string): Promise<number | undefined> {
  return (await members(a)).find((m) => m.Name === name)?.Status;
}

t.test('five agents join; muster members shows five alive on each; the catalog has a node per member', async (t) => {
  const agents = await cluster(t, 5);
  for (const a of agents) {
    const r = await runMuster(['members', '-http-addr', `127.0.0.1:${a.port}`]);
    t.equal(r.stdout.toString().trim().split('\n').filter((l) => /\salive\s/.test(l)).length, 5, `members on ${a.node}`);
  }
  const nodes = (await (await fetch(`${agents[0]!.url}/v1/catalog/nodes`)).json()) as Array<{ Node: string }>;
  t.same(nodes.map((n) => n.Node).sort(), agents.map((a) => a.node).sort());
});

t.test('SIGKILL one: failed everywhere, its serfHealth goes critical; graceful leave: left, and its node leaves the catalog', async (t) => {
  const agents = await cluster(t, 5);
  const [a, b, victim, leaver] = agents as [RunningAgent, RunningAgent, RunningAgent, RunningAgent, RunningAgent];
  await victim.stop('SIGKILL');
  for (const x of agents.filter((y) => y !== victim)) {
    await waitFor(async () => (await statusOn(x, victim.node)) === STATUS.failed, { timeoutMs: DETECT_MS, message: `${x.node} sees ${victim.node} failed` });
  }
  await waitFor(async () => {
    const checks = (await (await fetch(`${a.url}/v1/health/node/${victim.node}`)).json()) as Array<{ CheckID: string; Status: string }>;
    return checks.find((c) => c.CheckID === 'serfHealth')?.Status === 'critical';
  }, { timeoutMs: 10_000, message: 'serfHealth critical in the catalog' });

  const r = await runMuster(['leave', '-http-addr', `127.0.0.1:${leaver.port}`]);
  t.equal(r.code, 0, r.stderr);
  await waitFor(() => leaver.proc.exitCode !== null, { timeoutMs: 15_000, message: 'the agent that left stops by itself' });
  t.equal(leaver.proc.exitCode, 0, 'and exits 0');
  await waitFor(async () => (await statusOn(b, leaver.node)) === STATUS.left, { timeoutMs: DETECT_MS, message: 'left, not failed' });
  await waitFor(async () => {
    const nodes = (await (await fetch(`${a.url}/v1/catalog/nodes`)).json()) as Array<{ Node: string }>;
    return !nodes.some((n) => n.Node === leaver.node);
  }, { timeoutMs: 10_000, message: 'the node of a member that left is deregistered' });
});

t.test('SIGSTOP then SIGCONT: the paused member refutes the suspicion and is alive again', async (t) => {
  const agents = await cluster(t, 4);
  const [a, paused] = agents as [RunningAgent, RunningAgent];
  paused.proc.kill('SIGSTOP');
  t.teardown(() => { paused.proc.kill('SIGCONT'); });
  await waitFor(async () => (await statusOn(a, paused.node)) === STATUS.failed, { timeoutMs: DETECT_MS, message: 'paused member declared failed' });
  paused.proc.kill('SIGCONT');
  await waitFor(async () => (await statusOn(a, paused.node)) === STATUS.alive, { timeoutMs: DETECT_MS, message: 'alive again after SIGCONT' });
  t.pass('refuted');
});

t.test('an agent with another -encrypt key cannot join, and says why', async (t) => {
  const key1 = (await runMuster(['keygen'])).stdout.toString().trim();
  const key2 = (await runMuster(['keygen'])).stdout.toString().trim();
  const a = await startAgent(t, { args: ['-docker', '', '-encrypt', key1] });
  const b = await startAgent(t, { args: ['-docker', '', '-encrypt', key2] });
  const c = await startAgent(t, { args: ['-docker', '', '-encrypt', key1] });
  const seed = await gossipAddr(a);
  const bad = await runMuster(['join', '-http-addr', `127.0.0.1:${b.port}`, seed]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /encrypt|key/i, 'the error names the cause');
  const good = await runMuster(['join', '-http-addr', `127.0.0.1:${c.port}`, seed]);
  t.equal(good.code, 0, good.stderr);
  t.equal((await members(a)).length, 2, 'only the agent with the same key joined');
  const bogus = await runMuster(['agent', '-dev', '-encrypt', 'not-a-key']);
  t.equal(bogus.code, 1);
  t.match(bogus.stderr, /-encrypt/);
});

t.test('-join at start: an agent whose -join address does not answer fails to start with one line', async (t) => {
  const r = await runMuster(['agent', '-dev', '-docker', '', '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0', '-join', '127.0.0.1:1'], { timeoutMs: 30_000 });
  t.equal(r.code, 1);
  t.match(r.stderr, /failed to join 127\.0\.0\.1:1/);
});
