import t, { type Test } from 'tap';
import { startApi } from '../helpers/in-process.js';

interface HealthEntry {
  Node: { Node: string };
  Service: { ID: string; Service: string; Tags: string[] };
  Checks: Array<{ CheckID: string; Status: string; ServiceID: string }>;
}

/** Three instances of web: one passing, one warning, one critical (each has serfHealth too). */
async function webInstances(t: Test) {
  const ctx = await startApi(t);
  const { call } = ctx;
  const instances: Array<[string, string, string[]]> = [
    ['web-ok', 'passing', ['primary', 'v1']],
    ['web-slow', 'warning', ['v1']],
    ['web-down', 'critical', ['v2']],
  ];
  for (const [id, status, tags] of instances) {
    const r = await call('PUT', '/v1/agent/service/register', { ID: id, Name: 'web', Tags: tags, Port: 80, Check: { TTL: '1m', Status: status } });
    t.equal(r.status, 200, `registered ${id}`);
  }
  return ctx;
}

t.test('GET /v1/health/service/:name', async (t) => {
  const { call } = await webInstances(t);
  const ids = async (q: string) => ((await call('GET', `/v1/health/service/web${q}`)).json() as HealthEntry[]).map((e) => e.Service.ID);

  t.test('each entry: the node, the service, node checks plus its own checks', async (t) => {
    const entries = (await call('GET', '/v1/health/service/web')).json() as HealthEntry[];
    t.same(entries.map((e) => e.Service.ID), ['web-down', 'web-ok', 'web-slow']);
    for (const e of entries) {
      t.equal(e.Node.Node, 'n1');
      t.same(e.Checks.map((c) => c.CheckID), ['serfHealth', `service:${e.Service.ID}`]);
    }
  });

  t.test('?passing keeps entries whose every check passes', async (t) => {
    for (const q of ['?passing', '?passing=', '?passing=1', '?passing=true', '?passing=T']) {
      t.same(await ids(q), ['web-ok'], q);
    }
  });

  t.test('?passing=false does not filter', async (t) => {
    for (const q of ['?passing=false', '?passing=0', '']) {
      t.same(await ids(q), ['web-down', 'web-ok', 'web-slow'], q || '(no flag)');
    }
  });

  t.test('?passing=maybe is a 400', async (t) => {
    const r = await call('GET', '/v1/health/service/web?passing=maybe');
    t.equal(r.status, 400);
    t.equal(r.text, 'Invalid value for ?passing');
  });

  t.test('?tag= filters, every tag must match', async (t) => {
    t.same(await ids('?tag=v1'), ['web-ok', 'web-slow']);
    t.same(await ids('?tag=V1&tag=PRIMARY'), ['web-ok']);
    t.same(await ids('?tag=v1&passing'), ['web-ok']);
    t.same(await ids('?tag=v3'), []);
  });

  t.test('a node check that fails takes every service on the node out of ?passing', async (t) => {
    const r = await call('PUT', '/v1/agent/check/register', { Name: 'node-down', TTL: '1m', Status: 'critical' });
    t.equal(r.status, 200);
    t.same(await ids('?passing'), []);
    t.equal((await call('PUT', '/v1/agent/check/deregister/node-down')).status, 200);
    t.same(await ids('?passing'), ['web-ok']);
  });

  t.test('an unknown service is []; a missing name is a 400', async (t) => {
    t.equal((await call('GET', '/v1/health/service/nope')).text, '[]');
    const r = await call('GET', '/v1/health/service/');
    t.equal(r.status, 400);
    t.equal(r.text, 'Missing service name');
  });
});

t.test('GET /v1/health/checks/:service, /node/:node, /state/:state', async (t) => {
  const { call } = await webInstances(t);
  const checkIds = async (path: string) => ((await call('GET', path)).json() as Array<{ CheckID: string }>).map((c) => c.CheckID);
  t.same(await checkIds('/v1/health/checks/web'), ['service:web-down', 'service:web-ok', 'service:web-slow'], 'no node checks');
  t.same(await checkIds('/v1/health/node/n1'), ['serfHealth', 'service:web-down', 'service:web-ok', 'service:web-slow']);
  t.same(await checkIds('/v1/health/node/ghost'), []);
  t.same(await checkIds('/v1/health/state/passing'), ['serfHealth', 'service:web-ok']);
  t.same(await checkIds('/v1/health/state/warning'), ['service:web-slow']);
  t.same(await checkIds('/v1/health/state/critical'), ['service:web-down']);
  t.equal((await checkIds('/v1/health/state/any')).length, 4);
  const r = await call('GET', '/v1/health/state/');
  t.equal(r.status, 400);
  t.equal(r.text, 'Missing check state');
});

t.test('the HealthCheck wire form', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Tags: ['a'], Check: { TTL: '90s', Notes: 'n' } });
  const [check] = (await call('GET', '/v1/health/checks/web')).json() as Array<Record<string, unknown>>;
  t.match(check, {
    Node: 'n1', CheckID: 'service:web1', Name: "Service 'web' check", Status: 'critical', Notes: 'n', Output: '',
    ServiceID: 'web1', ServiceName: 'web', ServiceTags: ['a'], Type: 'ttl', Definition: { TTL: '1m30s' },
  });
  t.type(check?.CreateIndex, 'number');
});
