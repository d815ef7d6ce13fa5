// Which ports of a running container become services, under which ID, name,
// address and tags: a real agent, its embedded sidecar, real containers.
import t from 'tap';
import { hostPort, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { nodeServices, waitForService } from '../helpers/catalog.js';
import { HTTPD, IDLE, IMAGE_SERVICE_NAME, shortId, startDockerAgent } from '../helpers/integration.js';

t.test('a published TCP port is registered at the host address and port', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('web');
  const container = await runContainer(t, docker, { name, cmd: HTTPD, publish: ['127.0.0.1::80'] });
  const port = await hostPort(container, 80);

  const svc = await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  t.equal(svc.ID, `${agent.hostname}:${name}:80`, 'ID is hostname:container:exposed port');
  t.equal(svc.Service, IMAGE_SERVICE_NAME, 'named after the image');
  t.equal(svc.Address, '127.0.0.1', 'the address the port is published on');
  t.equal(svc.Port, port, 'the host port');
  t.same(svc.Tags, [], 'no tags');
  t.same(svc.Meta, { 'muster-sidecar': agent.hostname, 'muster-container': container.id }, 'owner marks');
});

t.test('a published UDP port gets the :udp ID suffix and the udp tag', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('dns');
  const container = await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::53/udp'] });
  const port = await hostPort(container, '53/udp');

  const svc = await waitForService(agent.url, agent.node, `${agent.hostname}:${name}:53:udp`);
  t.equal(svc.Service, IMAGE_SERVICE_NAME, 'named after the image');
  t.equal(svc.Address, '127.0.0.1', 'the address the port is published on');
  t.equal(svc.Port, port, 'the host port of the udp mapping');
  t.same(svc.Tags, ['udp'], 'tagged udp');
  t.notOk(agent.serviceId(name, 53) in (await nodeServices(agent.url, agent.node)), 'no tcp service for a udp port');
});

t.test('-internal registers the container IP and exposed ports, published or not', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t, ['-internal']);
  const name = uniqueContainerName('internal');
  const container = await runContainer(t, docker, { name, cmd: HTTPD, publish: ['127.0.0.1::80'], expose: ['8080'] });
  const ip = (await container.inspect()).NetworkSettings.Networks['bridge']?.IPAddress ?? '';
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `container IP ${ip}`);

  const web = await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  t.match(web, { Service: `${IMAGE_SERVICE_NAME}-80`, Address: ip, Port: 80 }, 'published port: container IP, exposed port');
  const unpublished = await waitForService(agent.url, agent.node, agent.serviceId(name, 8080));
  t.match(unpublished, { Service: `${IMAGE_SERVICE_NAME}-8080`, Address: ip, Port: 8080 }, 'exposed-only port is registered too');
});

t.test('-explicit registers only containers that name their service; labels beat env', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t, ['-explicit']);

  const unnamed = uniqueContainerName('unnamed');
  const skipped = await runContainer(t, docker, { name: unnamed, cmd: HTTPD, publish: ['127.0.0.1::80'] });
  const named = uniqueContainerName('named');
  await runContainer(t, docker, {
    name: named, cmd: HTTPD, publish: ['127.0.0.1::80'],
    env: { SERVICE_NAME: 'from-env' }, labels: { SERVICE_NAME: 'from-label' },
  });

  const svc = await waitForService(agent.url, agent.node, agent.serviceId(named, 80));
  t.equal(svc.Service, 'from-label', 'the label wins over the env entry');

  // The sidecar says so when it passes over a container: after that line nothing is coming for it.
  const ignored = await agent.waitForLog((l) => l.container === shortId(skipped.id) && String(l.msg).startsWith('ignored'));
  t.match(ignored.msg, /-explicit/, 'skipped for want of a name');
  t.notOk(agent.serviceId(unnamed, 80) in (await nodeServices(agent.url, agent.node)), 'the unnamed container is not registered');
});

t.test('a compose container is named after its compose service, tagged with its project', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const name = uniqueContainerName('shop_web_1');
  await runContainer(t, docker, {
    name, cmd: HTTPD, publish: ['127.0.0.1::80'],
    labels: { 'com.docker.compose.service': 'web', 'com.docker.compose.project': 'shop' },
  });

  const svc = await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  t.equal(svc.Service, 'web', 'the compose service name');
  t.same(svc.Tags, ['shop'], 'the compose project as a tag');
});
