import t, { type Test } from 'tap';
import { startApi, type CallResult } from '../helpers/in-process.js';

/** The three headers every catalog and health read carries, checked the way the Go client parses them. */
function indexOf(t: Test, r: CallResult): number {
  const index = r.headers.get('x-consul-index');
  t.match(index, /^\d+$/, 'X-Consul-Index is a uint64');
  t.ok(Number(index) >= 1, 'X-Consul-Index is never 0');
  t.equal(r.headers.get('x-consul-knownleader'), 'true');
  t.equal(r.headers.get('x-consul-lastcontact'), '0');
  return Number(index);
}

const REDIS = {
  Node: 'ext', Address: '10.0.0.9', NodeMeta: { rack: 'r1' },
  Service: { ID: 'redis1', Service: 'redis', Tags: ['primary', 'v7'], Port: 6379 },
  Check: { CheckID: 'redis-alive', Name: 'Redis alive', Status: 'passing', ServiceID: 'redis1' },
};

t.test('catalog and health reads carry the index headers', async (t) => {
  const { call } = await startApi(t);
  for (const path of [
    '/v1/catalog/services', '/v1/catalog/nodes', '/v1/catalog/service/consul', '/v1/catalog/service/nope',
    '/v1/catalog/node/n1', '/v1/catalog/node/ghost', '/v1/health/service/consul', '/v1/health/node/n1',
    '/v1/health/checks/consul', '/v1/health/state/any',
  ]) {
    t.test(path, async (t) => {
      const r = await call('GET', path);
      t.equal(r.status, 200);
      indexOf(t, r);
      t.match(r.headers.get('content-type'), /^application\/json/);
    });
  }
});

t.test('an empty store still reports index 1, never 0', async (t) => {
  const { call } = await startApi(t, { start: false });
  const r = await call('GET', '/v1/catalog/services');
  t.equal(r.headers.get('x-consul-index'), '1');
  t.same(r.json(), {});
});

t.test('agent endpoints carry no X-Consul-Index', async (t) => {
  const { call } = await startApi(t);
  for (const path of ['/v1/agent/services', '/v1/agent/checks', '/v1/agent/self']) {
    const r = await call('GET', path);
    t.equal(r.status, 200, path);
    t.equal(r.headers.get('x-consul-index'), null, path);
  }
});

t.test('GET /v1/catalog/services always has consul', async (t) => {
  const { call } = await startApi(t);
  t.same((await call('GET', '/v1/catalog/services')).json(), { consul: [] });
  await call('PUT', '/v1/catalog/register', REDIS);
  t.same((await call('GET', '/v1/catalog/services')).json(), { consul: [], redis: ['primary', 'v7'] });
});

t.test('GET /v1/catalog/service/:name', async (t) => {
  const { call } = await startApi(t);
  t.test('an unknown service is [] with 200', async (t) => {
    const r = await call('GET', '/v1/catalog/service/nope');
    t.equal(r.status, 200);
    t.equal(r.text, '[]');
  });
  t.test('the consul service', async (t) => {
    const [entry] = (await call('GET', '/v1/catalog/service/consul')).json() as Array<Record<string, unknown>>;
    t.match(entry, {
      Node: 'n1', Address: '127.0.0.1', Datacenter: 'dc1', ServiceID: 'consul', ServiceName: 'consul',
      ServiceTags: [], ServicePort: Number, ServiceAddress: '', ServiceWeights: { Passing: 1, Warning: 1 },
      ServiceMeta: {}, NodeMeta: {}, ServiceEnableTagOverride: false,
    });
    t.type(entry?.CreateIndex, 'number');
    t.type(entry?.ModifyIndex, 'number');
  });
  t.test('?tag= filters, case-insensitively, every tag must match', async (t) => {
    await call('PUT', '/v1/catalog/register', REDIS);
    await call('PUT', '/v1/catalog/register', {
      Node: 'ext2', Address: '10.0.0.10', Service: { ID: 'redis2', Service: 'redis', Tags: ['replica', 'v7'], Port: 6379 },
    });
    const ids = async (q: string) => ((await call('GET', `/v1/catalog/service/redis${q}`)).json() as Array<{ ServiceID: string }>).map((e) => e.ServiceID);
    t.same(await ids(''), ['redis1', 'redis2']);
    t.same(await ids('?tag=primary'), ['redis1']);
    t.same(await ids('?tag=PRIMARY'), ['redis1']);
    t.same(await ids('?tag=v7'), ['redis1', 'redis2']);
    t.same(await ids('?tag=v7&tag=replica'), ['redis2']);
    t.same(await ids('?tag=primary&tag=replica'), []);
  });
});

t.test('GET /v1/catalog/node/:node', async (t) => {
  const { call } = await startApi(t);
  t.test('an unknown node is 200 with body null', async (t) => {
    const r = await call('GET', '/v1/catalog/node/ghost');
    t.equal(r.status, 200);
    t.equal(r.text, 'null');
    indexOf(t, r);
  });
  t.test('our node with its services keyed by id', async (t) => {
    const body = (await call('GET', '/v1/catalog/node/n1')).json() as { Node: Record<string, unknown>; Services: Record<string, unknown> };
    t.match(body.Node, { Node: 'n1', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: { lan: '127.0.0.1', wan: '127.0.0.1' } });
    t.same(Object.keys(body.Services), ['consul']);
    t.match(body.Services.consul, { ID: 'consul', Service: 'consul', Tags: [], Port: Number });
  });
  t.test('a missing node name is a 400', async (t) => {
    const r = await call('GET', '/v1/catalog/node/');
    t.equal(r.status, 400);
    t.equal(r.text, 'Missing node name');
  });
});

t.test('GET /v1/catalog/nodes and /v1/catalog/datacenters', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/catalog/register', REDIS);
  const nodes = (await call('GET', '/v1/catalog/nodes')).json() as Array<Record<string, unknown>>;
  t.same(nodes.map((n) => n.Node), ['ext', 'n1'], 'sorted by name');
  t.match(nodes[0], { Address: '10.0.0.9', Meta: { rack: 'r1' }, Datacenter: 'dc1' });
  t.same((await call('GET', '/v1/catalog/datacenters')).json(), ['dc1']);
});

t.test('PUT /v1/catalog/register and /v1/catalog/deregister round trip', async (t) => {
  const { call } = await startApi(t);
  const reg = await call('PUT', '/v1/catalog/register', REDIS);
  t.equal(reg.status, 200);
  t.equal(reg.text, 'true');

  const [entry] = (await call('GET', '/v1/catalog/service/redis')).json() as Array<Record<string, unknown>>;
  t.match(entry, { Node: 'ext', Address: '10.0.0.9', ServiceID: 'redis1', ServicePort: 6379, ServiceTags: ['primary', 'v7'] });
  const [health] = (await call('GET', '/v1/health/service/redis')).json() as Array<{ Checks: Array<Record<string, unknown>> }>;
  t.match(health?.Checks, [{ CheckID: 'redis-alive', Name: 'Redis alive', Status: 'passing', ServiceID: 'redis1', ServiceName: 'redis' }]);

  const dereg = await call('PUT', '/v1/catalog/deregister', { Node: 'ext', ServiceID: 'redis1' });
  t.equal(dereg.text, 'true');
  t.equal((await call('GET', '/v1/catalog/service/redis')).text, '[]');
  t.same((await call('GET', '/v1/health/node/ext')).json(), [], 'the service checks went with it');

  t.equal((await call('PUT', '/v1/catalog/deregister', { Node: 'ext' })).text, 'true');
  t.equal((await call('GET', '/v1/catalog/node/ext')).text, 'null');
});

t.test('catalog register: lower-case keys, defaults and errors', async (t) => {
  const { call } = await startApi(t);
  t.test('case-insensitive keys; Service.ID defaults to the name; Check status to critical', async (t) => {
    const r = await call('PUT', '/v1/catalog/register', {
      node: 'ext', address: '10.0.0.9', service: { service: 'web', port: 80 }, check: { name: 'web up', serviceid: 'web' },
    });
    t.equal(r.text, 'true');
    const [e] = (await call('GET', '/v1/health/service/web')).json() as Array<{ Service: { ID: string }; Checks: Array<{ CheckID: string; Status: string }> }>;
    t.equal(e?.Service.ID, 'web');
    t.same(e?.Checks.map((c) => [c.CheckID, c.Status]), [['web up', 'critical']]);
  });
  const bad: Array<{ name: string; body: unknown; status: number }> = [
    { name: 'no node', body: { Address: '10.0.0.1' }, status: 400 },
    { name: 'no address', body: { Node: 'x' }, status: 400 },
    { name: 'a service without a name', body: { Node: 'x', Address: '10.0.0.1', Service: { Port: 1 } }, status: 400 },
    { name: 'a check for an unknown service', body: { Node: 'x', Address: '10.0.0.1', Check: { Name: 'c', ServiceID: 'nope' } }, status: 400 },
    { name: 'a bad check status', body: { Node: 'x', Address: '10.0.0.1', Check: { Name: 'c', Status: 'fine' } }, status: 400 },
    { name: 'bad JSON', body: '{"Node":', status: 400 },
  ];
  for (const c of bad) {
    t.test(c.name, async (t) => {
      const r = await call('PUT', '/v1/catalog/register', c.body);
      t.equal(r.status, c.status);
      t.equal((await call('GET', '/v1/catalog/node/x')).text, 'null', 'nothing was written');
    });
  }
});

t.test('method enforcement on the catalog', async (t) => {
  const { call } = await startApi(t);
  const cases: Array<{ method: string; path: string; allow: string }> = [
    { method: 'POST', path: '/v1/catalog/services', allow: 'GET' },
    { method: 'PUT', path: '/v1/catalog/service/web', allow: 'GET' },
    { method: 'DELETE', path: '/v1/catalog/nodes', allow: 'GET' },
    { method: 'GET', path: '/v1/catalog/register', allow: 'PUT' },
    { method: 'POST', path: '/v1/catalog/deregister', allow: 'PUT' },
  ];
  for (const c of cases) {
    t.test(`${c.method} ${c.path}`, async (t) => {
      const r = await call(c.method, c.path);
      t.equal(r.status, 405);
      t.equal(r.headers.get('allow'), c.allow);
      t.equal(r.text, `method ${c.method} not allowed`);
    });
  }
});
