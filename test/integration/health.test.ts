// Health of sidecar registrations: a Docker HEALTHCHECK mirrored into a TTL
// check, and SERVICE_CHECK_HTTP / SERVICE_CHECK_TCP checks run by the agent
// against a real server in a real container.
import t from 'tap';
import { execIn, hostPort, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { waitForCheck, waitForService } from '../helpers/catalog.js';
import { HTTPD, HTTPD_KILLABLE, startDockerAgent } from '../helpers/integration.js';

const CHECK_WAIT = { timeoutMs: 30_000 };

t.test('a Docker HEALTHCHECK becomes a check that follows the container health', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('healthy');
  const container = await runContainer(t, docker, {
    name, cmd: HTTPD, publish: ['127.0.0.1::80'],
    healthcheck: { test: 'cat /www/health', intervalMs: 1000, timeoutMs: 1000, retries: 1 },
  });
  const serviceId = agent.serviceId(name, 80);
  const checkId = `service:${serviceId}:docker-health`;
  await waitForService(agent.url, agent.node, serviceId);

  const passing = await waitForCheck(agent.url, agent.node, checkId, 'passing', CHECK_WAIT);
  t.equal(passing.ServiceID, serviceId, 'a check of the service');
  t.equal(passing.Type, 'ttl', 'a TTL check the sidecar updates');
  t.match(passing.Output, /healthy/, 'healthy is passing');

  const rm = await execIn(container, ['rm', '/www/health']);
  t.equal(rm.exitCode, 0, 'health file removed');
  const critical = await waitForCheck(agent.url, agent.node, checkId, 'critical', CHECK_WAIT);
  t.match(critical.Output, /unhealthy/, 'unhealthy is critical');

  const restore = await execIn(container, ['sh', '-c', 'echo ok >/www/health']);
  t.equal(restore.exitCode, 0, 'health file back');
  await waitForCheck(agent.url, agent.node, checkId, 'passing', CHECK_WAIT);
  t.pass('healthy again is passing again');
});

t.test('an HTTP check passes, then fails when the server stops in a running container', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('http-check');
  const container = await runContainer(t, docker, {
    name, cmd: HTTPD_KILLABLE, publish: ['127.0.0.1::80'],
    env: { SERVICE_CHECK_HTTP: '/', SERVICE_CHECK_INTERVAL: '1s' },
  });
  const port = await hostPort(container, 80);
  const serviceId = agent.serviceId(name, 80);
  await waitForService(agent.url, agent.node, serviceId);

  const passing = await waitForCheck(agent.url, agent.node, `service:${serviceId}`, 'passing', CHECK_WAIT);
  t.same(passing.Definition, { HTTP: `http://127.0.0.1:${port}/`, Interval: '1s' }, 'checks the published address');
  t.equal(passing.Type, 'http', 'an HTTP check');

  const kill = await execIn(container, ['sh', '-c', 'kill $(cat /tmp/pid)']);
  t.equal(kill.exitCode, 0, 'httpd stopped');
  await waitForCheck(agent.url, agent.node, `service:${serviceId}`, 'critical', CHECK_WAIT);
  t.ok((await container.inspect()).State.Running, 'the container is still up');
});

// Through a port published on 127.0.0.1 a TCP check cannot see the server stop:
// Docker's userland proxy owns the host port and accepts connections whether or
// not anything listens in the container. With -internal the check connects to
// the container itself.
t.test('a TCP check (-internal) passes, then fails when the server stops in a running container', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t, ['-internal']);
  const name = uniqueContainerName('tcp-check');
  const container = await runContainer(t, docker, {
    name, cmd: HTTPD_KILLABLE, expose: ['80'],
    env: { SERVICE_CHECK_TCP: 'true', SERVICE_CHECK_INTERVAL: '1s' },
  });
  const ip = (await container.inspect()).NetworkSettings.Networks['bridge']?.IPAddress ?? '';
  const serviceId = agent.serviceId(name, 80);
  await waitForService(agent.url, agent.node, serviceId);

  const passing = await waitForCheck(agent.url, agent.node, `service:${serviceId}`, 'passing', CHECK_WAIT);
  t.same(passing.Definition, { TCP: `${ip}:80`, Interval: '1s' }, 'checks the container address');
  t.equal(passing.Type, 'tcp', 'a TCP check');

  const kill = await execIn(container, ['sh', '-c', 'kill $(cat /tmp/pid)']);
  t.equal(kill.exitCode, 0, 'httpd stopped');
  await waitForCheck(agent.url, agent.node, `service:${serviceId}`, 'critical', CHECK_WAIT);
  t.ok((await container.inspect()).State.Running, 'the container is still up');
});
