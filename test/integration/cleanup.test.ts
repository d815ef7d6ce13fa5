// A standalone sidecar (`muster sidecar ... consul://`) writing into a separate
// agent: what a crashed sidecar left behind is put right by the next one, and
// registrator-style leftovers of this host go only with -cleanup.
import t from 'tap';
import { api, startAgent, startSidecar, type RunningAgent, type Teardown } from '../helpers/agent.js';
import { dockerSocketPath, removeContainer, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { nodeServices, uniqueHostname, waitForService, waitForServiceGone } from '../helpers/catalog.js';
import { IDLE } from '../helpers/integration.js';

/** The registry: a dev agent with its own sidecar off. */
function startRegistry(t: Teardown): Promise<RunningAgent> {
  return startAgent(t, { args: ['-docker', ''] });
}

function sidecarArgs(hostname: string, ...extra: string[]): string[] {
  return ['-hostname', hostname, '-docker', `unix://${dockerSocketPath()}`, ...extra];
}

t.test('a sidecar started after a crash removes what went away meanwhile and keeps the rest', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const registry = await startRegistry(t);
  const uri = `consul://127.0.0.1:${registry.port}`;
  const hostname = uniqueHostname();
  const staying = uniqueContainerName('stay');
  const leaving = uniqueContainerName('leave');
  await runContainer(t, docker, { name: staying, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const goner = await runContainer(t, docker, { name: leaving, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const stayingId = `${hostname}:${staying}:80`;
  const leavingId = `${hostname}:${leaving}:80`;

  const first = await startSidecar(t, { registry: uri, args: sidecarArgs(hostname, '-cleanup') });
  const kept = await waitForService(registry.url, registry.node, stayingId);
  await waitForService(registry.url, registry.node, leavingId);

  await first.stop('SIGKILL');
  t.equal(first.proc.signalCode, 'SIGKILL', 'the first sidecar crashed');
  await removeContainer(goner);
  t.ok(leavingId in (await nodeServices(registry.url, registry.node)), 'with no sidecar running, the removed container stays registered');

  const second = await startSidecar(t, { registry: uri, args: sidecarArgs(hostname, '-cleanup') });
  await waitForServiceGone(registry.url, registry.node, leavingId);
  t.pass('the service of the container removed meanwhile is gone');
  t.ok(second.lines.some((l) => l.service === leavingId && String(l.msg).startsWith('removing dangling service')), 'logged as dangling');
  const still = (await nodeServices(registry.url, registry.node))[stayingId];
  t.ok(still, 'the running container stays registered');
  t.equal(still?.CreateIndex, kept.CreateIndex, 'never deregistered in between');
});

t.test('a registrator-style leftover of this host is removed only with -cleanup', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const registry = await startRegistry(t);
  const uri = `consul://127.0.0.1:${registry.port}`;
  const hostname = uniqueHostname();
  const leftover = `${hostname}:oldname:80`;
  const otherHost = `${uniqueHostname()}:oldname:80`;
  const customId = `custom-${hostname}`;
  for (const ID of [leftover, otherHost, customId]) {
    const r = await api(registry.url, 'PUT', '/v1/agent/service/register', { ID, Name: 'oldname', Address: '127.0.0.1', Port: 80 });
    t.equal(r.status, 200, `registered ${ID} (no owner marks, as registrator would)`);
  }
  const running = uniqueContainerName('run');
  await runContainer(t, docker, { name: running, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const runningId = `${hostname}:${running}:80`;
  for (const id of [leftover, otherHost, customId]) await waitForService(registry.url, registry.node, id);

  // Without -cleanup: the first sync decides everything it removes before it logs "synced".
  const plain = await startSidecar(t, { registry: uri, args: sidecarArgs(hostname) });
  await waitForService(registry.url, registry.node, runningId);
  t.notOk(plain.lines.some((l) => String(l.msg).startsWith('removing dangling')), 'nothing removed without -cleanup');
  t.ok(leftover in (await nodeServices(registry.url, registry.node)), 'the leftover stays without -cleanup');
  t.equal(await plain.stop(), 0, 'the sidecar stops cleanly on SIGTERM');

  const cleaning = await startSidecar(t, { registry: uri, args: sidecarArgs(hostname, '-cleanup') });
  await waitForServiceGone(registry.url, registry.node, leftover);
  t.ok(cleaning.lines.some((l) => l.service === leftover && String(l.msg).startsWith('removing dangling service')), 'logged');
  const services = await nodeServices(registry.url, registry.node);
  t.ok(otherHost in services, 'another host\'s service is left alone');
  t.ok(customId in services, 'a service whose ID is not registrator\'s pattern is left alone');
  t.ok(runningId in services, 'the running container stays registered');
});
