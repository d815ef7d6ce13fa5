// What must never stop the agent: bad SERVICE_* metadata on a container (a
// warning naming container and key, the container registered with defaults)
// and a Docker endpoint that is not there (the registry still serves).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { api, startAgent } from '../helpers/agent.js';
import { requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { nodeChecks, waitForService } from '../helpers/catalog.js';
import { HTTPD, IMAGE_SERVICE_NAME, startDockerAgent } from '../helpers/integration.js';

const WARN = 40; // pino's level number for warn

t.test('bad SERVICE_* values are warned about and the containers still registered', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const badInterval = uniqueContainerName('bad-interval');
  const badName = uniqueContainerName('bad-name');
  await runContainer(t, docker, {
    name: badInterval, cmd: HTTPD, publish: ['127.0.0.1::80'],
    env: { SERVICE_CHECK_HTTP: '/', SERVICE_CHECK_INTERVAL: 'abc' },
  });
  await runContainer(t, docker, { name: badName, cmd: HTTPD, publish: ['127.0.0.1::80'], env: { SERVICE_NAME: 'has spaces' } });

  const withCheck = await waitForService(agent.url, agent.node, agent.serviceId(badInterval, 80));
  t.equal(withCheck.Service, IMAGE_SERVICE_NAME, 'registered');
  const check = (await nodeChecks(agent.url, agent.node)).find((c) => c.CheckID === `service:${withCheck.ID}`);
  t.match(check?.Definition, { HTTP: /^http:\/\/127\.0\.0\.1:\d+\/$/, Interval: '10s' }, 'the check is there, at the default interval');
  const intervalWarning = await agent.waitForLog((l) => l.level === WARN && l.container === badInterval && l.key === 'SERVICE_CHECK_INTERVAL');
  t.match(intervalWarning.msg, /abc/, 'the warning quotes the bad value');

  const renamed = await waitForService(agent.url, agent.node, agent.serviceId(badName, 80));
  t.equal(renamed.Service, IMAGE_SERVICE_NAME, 'registered under the default name');
  const nameWarning = await agent.waitForLog((l) => l.level === WARN && l.container === badName && l.key === 'SERVICE_NAME');
  t.match(nameWarning.msg, /has spaces/, 'the warning quotes the bad name');

  t.equal(agent.proc.exitCode, null, 'the agent is still running');
  t.equal((await api(agent.url, 'GET', '/v1/status/leader')).status, 200, 'and answering');
  t.equal(await agent.stop(), 0, 'and stops cleanly on SIGTERM');
});

t.test('an agent whose Docker endpoint is missing warns and still serves the API', async (t) => {
  const socket = `/nonexistent/muster-it-${randomBytes(4).toString('hex')}.sock`;
  const agent = await startAgent(t, { args: ['-docker', `unix://${socket}`] });
  const warning = await agent.waitForLog((l) => l.level === WARN && l.docker === `unix://${socket}`);
  t.match(warning.msg, /docker/i, `warned: ${String(warning.msg)}`);

  t.equal((await api(agent.url, 'GET', '/v1/status/leader')).status, 200, 'status answers');
  const reg = await api(agent.url, 'PUT', '/v1/agent/service/register', { ID: 'manual-1', Name: 'manual', Port: 8080 });
  t.equal(reg.status, 200, 'a service can be registered by hand');
  const svc = await waitForService(agent.url, agent.node, 'manual-1');
  t.equal(svc.Port, 8080, 'and is in the catalog');
  await agent.waitForLog((l) => l.msg === 'docker unavailable; will reconnect');
  t.equal(agent.proc.exitCode, null, 'the sidecar keeps trying, the agent keeps running');
  t.equal(await agent.stop(), 0, 'and stops cleanly on SIGTERM');
});
