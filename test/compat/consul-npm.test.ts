// The `consul` npm client (v2), unchanged, against a running Muster agent: the
// register → list → health → deregister round trip an application does.
import t from 'tap';
import Consul from 'consul';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

interface CatalogEntry { ServiceID: string; ServiceName: string; ServicePort: number; ServiceTags: string[]; Node: string }
interface HealthEntry { Service: { ID: string }; Checks: Array<{ CheckID: string; Status: string }> }

t.test('consul npm client: register with a TTL check, list, pass, read health, deregister', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const consul = new Consul({ host: '127.0.0.1', port: agent.port });
  const name = `compat-${randomBytes(4).toString('hex')}`;
  const id = `${name}-1`;
  const checkId = `service:${id}`;

  await consul.agent.service.register({
    name, id, tags: ['npm', 'v2'], address: '127.0.0.1', port: 9090, meta: { client: 'consul-npm' },
    check: { name: 'ttl', ttl: '30s', timeout: '5s' }, // the package's typings require timeout
  });

  const local = (await consul.agent.service.list()) as Record<string, { ID: string; Service: string; Port: number; Tags: string[]; Meta: Record<string, string> }>;
  t.match(local[id], { ID: id, Service: name, Port: 9090, Tags: ['npm', 'v2'], Meta: { client: 'consul-npm' } }, 'agent.service.list has it');

  const nodes = await waitFor(async () => {
    const list = (await consul.catalog.service.nodes(name)) as CatalogEntry[];
    return list.length > 0 ? list : undefined;
  }, { timeoutMs: 10_000, message: `${name} in catalog.service.nodes` });
  t.match(nodes, [{ ServiceID: id, ServiceName: name, ServicePort: 9090, Node: agent.node }], 'catalog.service.nodes has it');

  t.same(await consul.health.service({ service: name, passing: true }), [], 'not passing before the first heartbeat');
  await consul.agent.check.pass({ id: checkId, note: 'alive' });
  const healthy = await waitFor(async () => {
    const list = (await consul.health.service({ service: name, passing: true })) as HealthEntry[];
    return list.length > 0 ? list : undefined;
  }, { timeoutMs: 10_000, message: `${name} passing in health.service` });
  t.equal(healthy.length, 1, 'health.service with passing: one instance');
  t.equal(healthy[0]?.Service.ID, id, 'the one registered');
  t.match(healthy[0]?.Checks.find((c) => c.CheckID === checkId), { Status: 'passing' }, 'its check passes');

  await consul.agent.service.deregister(id);
  t.notOk(id in ((await consul.agent.service.list()) as Record<string, unknown>), 'gone from the agent');
  await waitFor(async () => ((await consul.catalog.service.nodes(name)) as CatalogEntry[]).length === 0,
    { timeoutMs: 10_000, message: `${name} gone from catalog.service.nodes` });
  t.pass('gone from the catalog');
});
