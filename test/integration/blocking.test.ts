// Blocking queries (`?index=&wait=`) on a service the sidecar registers: held
// until a container of that name starts, or until the wait runs out.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { api } from '../helpers/agent.js';
import { requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { waitForService } from '../helpers/catalog.js';
import { IDLE, startDockerAgent } from '../helpers/integration.js';

interface Instance { ServiceID: string }

function indexOf(r: { headers: Headers }): number {
  return Number(r.headers.get('x-consul-index'));
}

t.test('a blocking query is held until a container with that name starts', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const service = `blocking-${randomBytes(4).toString('hex')}`;
  const first = uniqueContainerName('first');
  await runContainer(t, docker, { name: first, cmd: IDLE, publish: ['127.0.0.1::80'], env: { SERVICE_NAME: service } });
  await waitForService(agent.url, agent.node, agent.serviceId(first, 80));

  const now = await api(agent.url, 'GET', `/v1/catalog/service/${service}`);
  const index = indexOf(now);
  t.ok(index > 0, `current index ${index}`);

  let answered = false;
  const started = Date.now();
  const held = api(agent.url, 'GET', `/v1/catalog/service/${service}?index=${index}&wait=30s`).finally(() => { answered = true; });

  // Creating a container takes far longer than answering a query: a query that
  // was not held would have been answered by now. Only a running container counts.
  const second = uniqueContainerName('second');
  const container = await runContainer(t, docker, { name: second, cmd: IDLE, publish: ['127.0.0.1::80'], env: { SERVICE_NAME: service }, start: false });
  t.notOk(answered, 'still held while the second container is created');
  await container.start();

  const r = await held;
  const elapsed = Date.now() - started;
  t.equal(r.status, 200, 'answered 200');
  t.ok(indexOf(r) > index, `answered with a higher index (${indexOf(r)} > ${index})`);
  t.same((r.body as Instance[]).map((i) => i.ServiceID).sort(), [agent.serviceId(first, 80), agent.serviceId(second, 80)].sort(), 'with the new instance');
  t.ok(elapsed < 30_000, `answered on the change (${elapsed} ms), not at the end of the wait`);
});

t.test('a blocking query with a short wait returns the same index when nothing changes', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  const service = `quiet-${randomBytes(4).toString('hex')}`;
  const name = uniqueContainerName('quiet');
  await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'], env: { SERVICE_NAME: service } });
  await waitForService(agent.url, agent.node, agent.serviceId(name, 80));
  const index = indexOf(await api(agent.url, 'GET', `/v1/catalog/service/${service}`));

  const started = Date.now();
  const r = await api(agent.url, 'GET', `/v1/catalog/service/${service}?index=${index}&wait=1s`);
  const elapsed = Date.now() - started;
  t.equal(r.status, 200, 'answered 200');
  t.equal(indexOf(r), index, 'same index');
  t.ok(elapsed >= 1000 && elapsed < 5000, `held for the wait (${elapsed} ms)`);
  t.same((r.body as Instance[]).map((i) => i.ServiceID), [agent.serviceId(name, 80)], 'same answer');
});
