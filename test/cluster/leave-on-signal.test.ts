// Consul's leave_on_terminate / skip_leave_on_interrupt: which signals make an
// agent leave the cluster gracefully (members see `left`) and which just stop it
// (members see `failed`). Real agent processes on loopback.
import t, { type Test } from 'tap';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const STATUS = { alive: 1, left: 3, failed: 4 } as const;
const DETECT_MS = 30_000;

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
      t.equal(await client.stop(c.signal), 0, 'exits 0');
      const seen = await waitFor(async () => {
        const s = await statusOn(server, node);
        return s === STATUS.left || s === STATUS.failed ? s : undefined;
      }, { timeoutMs: DETECT_MS, message: `${node} still alive on the server` });
      t.equal(seen, c.want, c.want === STATUS.left ? 'left' : 'failed');
    });
  }
});
