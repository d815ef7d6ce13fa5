// The Docker daemon restarts under a running agent: the sidecar reconnects,
// resyncs, registers what runs now and drops what stopped with the old daemon.
// The daemon is a private one (see helpers/private-dockerd.ts): the machine's
// engine is shared with every other test and is never restarted.
import t from 'tap';
import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../helpers/agent.js';
import { requireDocker, TEST_IMAGE, TEST_LABEL, TEST_RUN_LABEL, uniqueContainerName } from '../helpers/docker.js';
import { uniqueHostname, waitForService, waitForServiceGone } from '../helpers/catalog.js';
import { startPrivateDockerd } from '../helpers/private-dockerd.js';
import { IDLE } from '../helpers/integration.js';

/** Copies the test image from the machine's engine into `to`. */
async function copyImage(from: Docker, to: Docker): Promise<void> {
  const tar = await from.getImage(TEST_IMAGE).get();
  const progress = await to.loadImage(tar);
  await new Promise<void>((resolve, reject) => {
    to.modem.followProgress(progress, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/**
 * Starts a `--net=host` container exposing `port`: with host networking the
 * exposed port is registered as the host port, no publishing involved. Removed
 * by the private daemon's teardown, not its own (the daemon may be down by then).
 */
async function runHostNetContainer(docker: Docker, name: string, port: number): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name, Image: TEST_IMAGE, Cmd: IDLE, StopTimeout: 1,
    ExposedPorts: { [`${port}/tcp`]: {} },
    Labels: { [TEST_LABEL]: '1', [TEST_RUN_LABEL]: process.env['MUSTER_TEST_RUN'] ?? 'adhoc' },
    HostConfig: { NetworkMode: 'host' },
  });
  await container.start();
  return container;
}

function randomPort(): number {
  return 20_000 + (randomBytes(2).readUInt16BE(0) % 10_000);
}

t.test('after the Docker daemon restarts the agent reconnects and resyncs', async (t) => {
  const main = await requireDocker(t);
  if (!main) return;
  const engine = await startPrivateDockerd(t);
  if (!engine) return;
  await copyImage(main, engine.docker);

  const hostname = uniqueHostname();
  const agent = await startAgent(t, { args: ['-hostname', hostname, '-docker', engine.endpoint, '-ip', '127.0.0.1'] });
  await agent.waitForLog((l) => l.msg === 'listening for docker events');

  const before = { name: uniqueContainerName('before'), port: randomPort() };
  const old = await runHostNetContainer(engine.docker, before.name, before.port);
  const beforeId = `${hostname}:${before.name}:${before.port}`;
  const svc = await waitForService(agent.url, agent.node, beforeId);
  t.match(svc, { Address: '127.0.0.1', Port: before.port }, 'host network: the exposed port is the host port');

  await engine.stop();
  t.pass('daemon stopped');
  await agent.waitForLog((l) => l.msg === 'docker unavailable; will reconnect');
  t.pass('the agent noticed');

  await engine.start();
  t.notOk((await old.inspect()).State.Running, 'the old container stopped with the daemon (no live-restore)');
  const after = { name: uniqueContainerName('after'), port: before.port + 1 };
  await runHostNetContainer(engine.docker, after.name, after.port);

  const reconnected = await agent.waitForLog(
    (l) => l.msg === 'docker events reconnected' || l.msg === 'resyncing after reconnect', 60_000,
  );
  t.pass(`reconnected: ${String(reconnected.msg)}`);
  await waitForService(agent.url, agent.node, `${hostname}:${after.name}:${after.port}`, { timeoutMs: 30_000 });
  t.pass('the container started after the restart is registered');
  await waitForServiceGone(agent.url, agent.node, beforeId, { timeoutMs: 30_000 });
  t.pass('the container that stopped with the daemon is not');
  t.equal(agent.proc.exitCode, null, 'the agent kept running throughout');
  t.equal(await agent.stop(), 0, 'and stops cleanly on SIGTERM');
});
