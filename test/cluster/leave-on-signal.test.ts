// Consul's leave_on_terminate / skip_leave_on_interrupt: which signals make an
// agent leave the cluster gracefully (members see `left`) and which just stop it
// (members see `failed`). Real agent processes on loopback.
import t, { type Test } from 'tap';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const STATUS = { alive: 1, left: 3, failed: 4 } as const;
// generous: this runs beside image builds that load the machine
const DETECT_MS = 60_000;
const EXIT_MS = 20_000;

async function statusOn(a: RunningAgent, name: string): Promise<number | undefined> {
  const res = await fetch(`${a.url}/v1/agent/members`);
  return ((await res.json()) as Array<{ Name: string; Status: number }>).find((m) => m.Name === name)?.Status;
}

/** A client agent (no -server) joined to `seed`. */
async function startClient(t: Test, seed: RunningAgent, node: string, args: string[]): Promise<RunningAgent> {
  const serf = String((await seed.waitForLog((l) => l.msg === 'gossip listening')).addr);
  const client = await startAgent(t, {
    command: ['agent', '-node', node, '-bind', '127.0.0.1', '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0',
      '-dns-port', '-1', '-docker', '', '-join', serf, ...args],
  });
  await waitFor(async () => (await statusOn(seed, node)) === STATUS.alive, { timeoutMs: DETECT_MS, message: `${node} never alive` });
  return client;
}

t.test('which signal leaves the cluster', async (t) => {
  const server = await startAgent(t, { args: ['-docker', ''] });
  const cases: Array<{ name: string; args: string[]; signal: NodeJS.Signals; want: number }> = [
    { name: 'a client on SIGTERM leaves (leave_on_terminate defaults to true for clients)', args: [], signal: 'SIGTERM', want: STATUS.left },
    { name: 'a client on SIGINT leaves (skip_leave_on_interrupt defaults to false)', args: [], signal: 'SIGINT', want: STATUS.left },
    { name: '-leave-on-terminate=false: SIGTERM just stops', args: ['-leave-on-terminate=false'], signal: 'SIGTERM', want: STATUS.failed },
    { name: '-skip-leave-on-interrupt: SIGINT just stops', args: ['-skip-leave-on-interrupt'], signal: 'SIGINT', want: STATUS.failed },
  ];
  let n = 0;
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const node = `signal-${process.pid}-${++n}`;
      const client = await startClient(t, server, node, c.args);
      // not client.stop(): it sends SIGKILL after 5 s, which a loaded machine can take to exit
      client.proc.kill(c.signal);
      await waitFor(() => client.proc.exitCode !== null || client.proc.signalCode !== null,
        { timeoutMs: EXIT_MS, intervalMs: 50, message: `${node} did not exit after ${c.signal}` });
      t.equal(client.proc.exitCode, 0, `exits 0 (stderr: ${client.stderr()})`);
      const seen = await waitFor(async () => {
        const s = await statusOn(server, node);
        return s === STATUS.left || s === STATUS.failed ? s : undefined;
      }, { timeoutMs: DETECT_MS, message: `${node} still alive on the server` });
      t.equal(seen, c.want, c.want === STATUS.left ? 'left' : 'failed');
    });
  }
});
