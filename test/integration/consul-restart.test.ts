// The consul:// backend against a registry that goes away: a Muster server
// (standing in for a user's Consul) is SIGKILLed and restarted with an empty
// data dir, then frozen (SIGSTOP) for longer than a resync period while a
// container goes away. Each time the sidecar's next resync brings the
// registry back to exactly what Docker runs, and its log says what it did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { spawnMuster, startSidecar, type LogLine, type MusterProcess } from '../helpers/agent.js';
import { dockerSocketPath, removeContainer, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { nodeServices, uniqueHostname, waitForService, waitForServiceGone } from '../helpers/catalog.js';
import { freePort } from '../helpers/cluster.js';
import { IDLE } from '../helpers/integration.js';
import { waitFor } from '../helpers/wait.js';

const RESYNC_S = 2;

t.test('consul:// backend: a registry restarted empty, then unreachable for a while, is brought back to what Docker runs', { timeout: 180_000 }, async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const dir = mkdtempSync(join(tmpdir(), 'muster-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [httpPort, serverPort, gossipPort] = [await freePort(), await freePort(), await freePort()];
  const node = `registry-${process.pid}`;
  const url = `http://127.0.0.1:${httpPort}`;
  const startRegistry = async (): Promise<MusterProcess> => {
    const p = spawnMuster(t, ['agent', '-server', '-bootstrap', '-data-dir', dir, '-node', node, '-bind', '127.0.0.1',
      '-http-port', String(httpPort), '-server-port', String(serverPort), '-serf-lan-port', String(gossipPort),
      '-dns-port', '-1', '-docker', '', '-log-level', 'info'], { NODE_OPTIONS: '' });
    await p.waitForLog((l) => l.msg === 'agent running', 30_000);
    return p;
  };
  let registry = await startRegistry();

  const hostname = uniqueHostname();
  const label = `muster.test.restart.${process.pid}`;
  const names = [uniqueContainerName('a'), uniqueContainerName('b')];
  const containers = await Promise.all(names.map((name) => runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'], labels: { [label]: '1' } })));
  const ids = names.map((n) => `${hostname}:${n}:80`);
  const sidecar = await startSidecar(t, {
    registry: `consul://127.0.0.1:${httpPort}`,
    args: ['-hostname', hostname, '-docker', `unix://${dockerSocketPath()}`, '-resync', String(RESYNC_S), '-require-label', label],
  });
  for (const id of ids) await waitForService(url, node, id);
  t.pass('both containers are registered');

  // 1. the registry loses everything: killed, its data dir emptied, restarted on the same address
  await registry.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  const syncsBefore = sidecar.lines.length;
  registry = await startRegistry();
  t.same(Object.keys(await nodeServices(url, node)).filter((s) => ids.includes(s)), [], 'the restarted registry has none of them');
  for (const id of ids) await waitForService(url, node, id, { timeoutMs: 30_000 });
  t.pass('both are registered again');
  const after = sidecar.lines.slice(syncsBefore);
  const readded = (id: string) => after.some((l: LogLine) => l.msg === 'added' && l.service === id);
  t.ok(ids.every(readded), 'the sidecar logged each re-registration');
  const firstSync = after.find((l) => l.msg === 'synced with docker');
  t.equal(firstSync?.registered, 2, 'the first resync after the restart re-registered both, and logged that it did');

  // 2. the registry is unreachable for longer than a resync period while a container goes away
  registry.proc.kill('SIGSTOP');
  t.teardown(() => { registry.proc.kill('SIGCONT'); });
  const frozenAt = sidecar.lines.length;
  await removeContainer(containers[1] as (typeof containers)[number]);
  await sidecar.waitForLog((l) => sidecar.lines.indexOf(l) >= frozenAt && typeof l.msg === 'string' && /unavailable|failed|retry/i.test(l.msg), 30_000);
  t.pass('the sidecar noticed the registry is unreachable');
  t.equal(sidecar.proc.exitCode, null, 'and kept running');
  registry.proc.kill('SIGCONT');
  await waitForServiceGone(url, node, ids[1] as string, { timeoutMs: 30_000 });
  t.pass('once the registry answers again, the removed container\'s service goes');
  await waitFor(async () => (ids[0] as string) in (await nodeServices(url, node)), { timeoutMs: 10_000, message: 'the running container stays' });
  t.pass('and the running one stays');
});
