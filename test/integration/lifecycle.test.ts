// Containers come and go: the initial sync, and what each way of ending
// (stop, kill, exit 0, exit 1, removal) does to the registrations under
// -deregister always and -deregister on-success.
import t from 'tap';
import type Docker from 'dockerode';
import { hostPort, removeContainer, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { nodeServices, waitForService, waitForServiceGone } from '../helpers/catalog.js';
import { IDLE, shortId, startDockerAgent } from '../helpers/integration.js';
import { waitFor } from '../helpers/wait.js';

/** Resolves with the exit code once the container has stopped. */
async function exitCodeOf(container: Docker.Container): Promise<number> {
  return waitFor(async () => {
    const state = (await container.inspect()).State;
    return state.Running ? undefined : state.ExitCode;
  }, { timeoutMs: 20_000, intervalMs: 50, message: `container ${shortId(container.id)} still running` });
}

t.test('a container started before the agent is registered by the initial sync', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const name = uniqueContainerName('early');
  await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });

  const agent = await startDockerAgent(t);
  const sync = await agent.waitForLog((l) => l.msg === 'synced with docker');
  t.ok(Number(sync.containers) >= 1, `the first sync saw ${String(sync.containers)} running container(s)`);
  const svc = await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  t.equal(svc.Address, '127.0.0.1', 'at its published address');
});

t.test('-deregister always: stop, kill and a failed exit all deregister', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t, ['-deregister', 'always']);
  const names = { stopped: uniqueContainerName('stop'), killed: uniqueContainerName('kill'), failed: uniqueContainerName('fail') };
  const stopped = await runContainer(t, docker, { name: names.stopped, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const killed = await runContainer(t, docker, { name: names.killed, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const failed = await runContainer(t, docker, { name: names.failed, cmd: IDLE, publish: ['127.0.0.1::80'] });
  for (const name of Object.values(names)) await waitForService(agent.url, agent.node, agent.serviceId(name, 80));

  await stopped.stop({ t: 5 });
  await killed.kill({ signal: 'SIGKILL' });
  await failed.kill({ signal: 'SIGUSR1' });
  t.same(
    [await exitCodeOf(stopped), await exitCodeOf(killed), await exitCodeOf(failed)], [0, 137, 1],
    'exit codes: stop 0, kill 137, failure 1',
  );

  for (const name of Object.values(names)) {
    await waitForServiceGone(agent.url, agent.node, agent.serviceId(name, 80));
    t.pass(`${name} deregistered`);
  }
});

t.test('-deregister on-success: a failed container stays registered until removed', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  // -resync 1: the reconciliations that follow must keep the failed container's service too.
  const agent = await startDockerAgent(t, ['-deregister', 'on-success', '-resync', '1']);
  const names = { failed: uniqueContainerName('fail'), succeeded: uniqueContainerName('ok'), killed: uniqueContainerName('kill') };
  const failed = await runContainer(t, docker, { name: names.failed, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const succeeded = await runContainer(t, docker, { name: names.succeeded, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const killed = await runContainer(t, docker, { name: names.killed, cmd: IDLE, publish: ['127.0.0.1::80'] });
  for (const name of Object.values(names)) await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  const failedId = agent.serviceId(names.failed, 80);
  const before = (await nodeServices(agent.url, agent.node))[failedId];

  await failed.kill({ signal: 'SIGUSR1' });
  await succeeded.kill({ signal: 'SIGUSR2' });
  await killed.kill({ signal: 'SIGKILL' });
  t.same(
    [await exitCodeOf(failed), await exitCodeOf(succeeded), await exitCodeOf(killed)], [1, 0, 137],
    'exit codes: failure 1, success 0, kill 137',
  );

  await waitForServiceGone(agent.url, agent.node, agent.serviceId(names.succeeded, 80));
  t.pass('exit 0 deregistered');
  await waitForServiceGone(agent.url, agent.node, agent.serviceId(names.killed, 80));
  t.pass('killed by a signal deregistered');

  const kept = await agent.waitForLog((l) => l.container === shortId(failed.id) && String(l.msg).startsWith('container failed'));
  t.equal(kept.exitCode, 1, 'the sidecar decided to keep the failed container\'s services');
  const mark = agent.lines.length;
  await waitFor(() => agent.lines.slice(mark).some((l) => l.msg === 'synced with docker'), {
    timeoutMs: 10_000, message: 'a resync after the failure',
  });
  const after = (await nodeServices(agent.url, agent.node))[failedId];
  t.ok(after, 'exit 1 stays registered, through a resync');
  t.equal(after?.ModifyIndex, before?.ModifyIndex, 'and untouched');

  // Registrator kept it forever (until -cleanup); here removing the container removes it.
  await removeContainer(failed);
  await waitForServiceGone(agent.url, agent.node, failedId);
  t.pass('removing the failed container deregisters it');
});

t.test('a restarted container ends up registered, at its new host port', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t, ['-deregister', 'always']);
  const name = uniqueContainerName('restart');
  const container = await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const serviceId = agent.serviceId(name, 80);
  await waitForService(agent.url, agent.node, serviceId);

  const oldPort = await hostPort(container, 80);
  const mark = agent.lines.length;
  await container.restart({ t: 5 });
  const port = await hostPort(container, 80);
  // die then start, handled in that order: the last word on the service is "added".
  await waitFor(() => agent.lines.slice(mark).some((l) => l.service === serviceId && l.msg === 'added'), {
    timeoutMs: 20_000, message: `${serviceId} added again after the restart`,
  });
  const svc = await waitForService(agent.url, agent.node, serviceId, { until: (s) => s.Port === port });
  t.equal(svc.Port, port, `registered at the host port after the restart (${oldPort} before, ${port} after)`);
});

t.test('a renamed container is registered under its new name', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('old');
  const container = await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  await waitForService(agent.url, agent.node, agent.serviceId(name, 80));

  const renamed = uniqueContainerName('new');
  await container.rename({ name: renamed });
  await waitForService(agent.url, agent.node, agent.serviceId(renamed, 80));
  t.pass('registered under the new name');
  await waitForServiceGone(agent.url, agent.node, agent.serviceId(name, 80));
  t.pass('the old name is gone');
});
