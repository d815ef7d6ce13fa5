import t from 'tap';
import { startApi } from '../helpers/in-process.js';

type Json = Record<string, unknown>;

t.test('PUT /v1/agent/service/register', async (t) => {
  t.test('python-consul style: lower-case keys, check.http + check.interval', async (t) => {
    const { call, agent } = await startApi(t);
    const r = await call('PUT', '/v1/agent/service/register', {
      name: 'py', port: 8080, tags: ['x'], check: { http: 'http://127.0.0.1:1/health', interval: '10s' },
    });
    t.equal(r.status, 200);
    t.equal(r.text, '', 'agent writes answer an empty body');
    const services = (await call('GET', '/v1/agent/services')).json() as Record<string, Json>;
    t.match(services.py, { ID: 'py', Service: 'py', Port: 8080, Tags: ['x'], Meta: {}, Weights: { Passing: 1, Warning: 1 } });
    const checks = (await call('GET', '/v1/agent/checks')).json() as Record<string, Json>;
    t.match(checks['service:py'], {
      CheckID: 'service:py', ServiceID: 'py', ServiceName: 'py', Type: 'http',
      Definition: { HTTP: 'http://127.0.0.1:1/health', Interval: '10s' },
    });
    await agent.synced();
    const [entry] = (await call('GET', '/v1/catalog/service/py')).json() as Json[];
    t.match(entry, { ServiceID: 'py', ServicePort: 8080, ServiceTags: ['x'] });
  });

  t.test('snake_case keys', async (t) => {
    const { call } = await startApi(t);
    const r = await call('PUT', '/v1/agent/service/register', {
      name: 'snake', enable_tag_override: true,
      check: { check_id: 'snake-ttl', ttl: '30s', deregister_critical_service_after: '90m' },
    });
    t.equal(r.status, 200);
    const services = (await call('GET', '/v1/agent/services')).json() as Record<string, Json>;
    t.match(services.snake, { EnableTagOverride: true });
    const checks = (await call('GET', '/v1/agent/checks')).json() as Record<string, Json>;
    t.match(checks['snake-ttl'], { Type: 'ttl', Definition: { TTL: '30s', DeregisterCriticalServiceAfter: '1h30m0s' } });
  });

  t.test('PascalCase keys (Go client, node-consul)', async (t) => {
    const { call } = await startApi(t);
    const r = await call('PUT', '/v1/agent/service/register', {
      ID: 'web1', Name: 'web', Tags: ['a', 'b'], Address: '10.1.1.1', Port: 80, Meta: { version: '2' },
      Weights: { Passing: 3, Warning: 1 }, Checks: [{ TTL: '15s', Status: 'passing' }, { Name: 'tcp', TCP: '127.0.0.1:1', Interval: '30s' }],
    });
    t.equal(r.status, 200);
    const services = (await call('GET', '/v1/agent/services')).json() as Record<string, Json>;
    t.match(services.web1, { Service: 'web', Address: '10.1.1.1', Meta: { version: '2' }, Weights: { Passing: 3, Warning: 1 } });
    const checks = (await call('GET', '/v1/agent/checks')).json() as Record<string, Json>;
    t.same(Object.keys(checks).sort(), ['service:web1:1', 'service:web1:2']);
    t.match(checks['service:web1:1'], { Status: 'passing', Type: 'ttl' });
    t.match(checks['service:web1:2'], { Name: 'tcp', Type: 'tcp' });
  });

  t.test('bad requests', async (t) => {
    const { call } = await startApi(t);
    const cases: Array<{ name: string; body: unknown; text: string | RegExp }> = [
      { name: 'bad JSON', body: '{"Name": "web",', text: /^Request decode failed/ },
      { name: 'a body that is not an object', body: '[1]', text: /^Request decode failed/ },
      { name: 'a wrongly typed field', body: { Name: 'web', Port: 'eighty' }, text: /^Request decode failed/ },
      { name: 'missing name', body: { Port: 80 }, text: 'Missing service name' },
      { name: 'no body at all', body: undefined, text: 'Missing service name' },
      { name: 'Address 0.0.0.0', body: { Name: 'web', Address: '0.0.0.0' }, text: 'Invalid service address' },
      { name: 'a bad check status', body: { Name: 'web', Check: { TTL: '10s', Status: 'ok' } }, text: "Status for checks must 'passing', 'warning', 'critical'" },
      { name: 'an HTTP check without interval', body: { Name: 'web', Check: { HTTP: 'http://127.0.0.1/' } }, text: /^Invalid check/ },
      { name: 'a bad duration', body: { Name: 'web', Check: { TTL: '10' } }, text: /^Request decode failed/ },
      { name: 'a reserved meta key', body: { Name: 'web', Meta: { 'consul-x': '1' } }, text: /^Invalid Service Meta/ },
    ];
    for (const c of cases) {
      t.test(c.name, async (t) => {
        const r = await call('PUT', '/v1/agent/service/register', c.body);
        t.equal(r.status, 400);
        if (typeof c.text === 'string') t.equal(r.text, c.text);
        else t.match(r.text, c.text);
        t.match(r.headers.get('content-type'), /^text\/plain/);
        t.same((await call('GET', '/v1/agent/services')).json(), {}, 'nothing registered');
      });
    }
  });

  t.test('?replace-existing-checks=true drops checks the new definition leaves out', async (t) => {
    const { call } = await startApi(t);
    const checkIds = async () => Object.keys((await call('GET', '/v1/agent/checks')).json() as Json).sort();
    await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Checks: [{ CheckID: 'a', TTL: '1m' }, { CheckID: 'b', TTL: '1m' }] });
    await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Checks: [{ CheckID: 'a', TTL: '1m' }] });
    t.same(await checkIds(), ['a', 'b'], 'kept without the flag');
    await call('PUT', '/v1/agent/service/register?replace-existing-checks=true', { ID: 'web1', Name: 'web', Checks: [{ CheckID: 'a', TTL: '1m' }] });
    t.same(await checkIds(), ['a']);
  });
});

t.test('deregister', async (t) => {
  const { call } = await startApi(t);
  t.test('an unknown id is a 404 with Consul\'s text', async (t) => {
    const r = await call('PUT', '/v1/agent/service/deregister/x');
    t.equal(r.status, 404);
    t.equal(r.text, 'Unknown service ID "x". Ensure that the service ID is passed, not the service name.');
  });
  t.test('GET works too (python-consul), and the catalog follows', async (t) => {
    await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web' });
    t.equal(((await call('GET', '/v1/catalog/service/web')).json() as unknown[]).length, 1);
    const r = await call('GET', '/v1/agent/service/deregister/web1');
    t.equal(r.status, 200);
    t.equal(r.text, '');
    t.equal((await call('GET', '/v1/catalog/service/web')).text, '[]');
    t.same((await call('GET', '/v1/agent/services')).json(), {});
  });
});

t.test('TTL check endpoints', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Check: { TTL: '1m' } });
  const catalogCheck = async () => ((await call('GET', '/v1/health/checks/web')).json() as Json[])[0];

  const steps: Array<{ method: string; path: string; status: string; output: string }> = [
    { method: 'GET', path: '/v1/agent/check/pass/service:web1?note=fine', status: 'passing', output: 'fine' },
    { method: 'PUT', path: '/v1/agent/check/warn/service%3Aweb1?note=slow', status: 'warning', output: 'slow' },
    { method: 'POST', path: '/v1/agent/check/fail/service:web1', status: 'critical', output: '' },
  ];
  for (const s of steps) {
    t.test(`${s.method} ${s.path}`, async (t) => {
      const r = await call(s.method, s.path);
      t.equal(r.status, 200);
      t.equal(r.text, '');
      t.match(await catalogCheck(), { Status: s.status, Output: s.output });
    });
  }

  t.test('PUT /v1/agent/check/update/:id', async (t) => {
    const r = await call('PUT', '/v1/agent/check/update/service:web1', { Status: 'passing', Output: 'updated' });
    t.equal(r.status, 200);
    t.match(await catalogCheck(), { Status: 'passing', Output: 'updated' });
    const lower = await call('PUT', '/v1/agent/check/update/service:web1', { status: 'warning', output: 'lower-case keys' });
    t.equal(lower.status, 200);
    t.match(await catalogCheck(), { Status: 'warning', Output: 'lower-case keys' });
  });

  t.test('update with a bad status is a 400', async (t) => {
    const r = await call('PUT', '/v1/agent/check/update/service:web1', { Status: 'bogus' });
    t.equal(r.status, 400);
    t.equal(r.text, "Invalid check status: 'bogus'");
    t.match(await catalogCheck(), { Status: 'warning' }, 'unchanged');
  });

  t.test('an unknown check is a 404; a check without TTL an error', async (t) => {
    t.equal((await call('PUT', '/v1/agent/check/pass/nope')).status, 404);
    await call('PUT', '/v1/agent/check/register', { Name: 'tcp', TCP: '127.0.0.1:1', Interval: '1m' });
    const r = await call('PUT', '/v1/agent/check/pass/tcp');
    t.equal(r.status, 500);
    t.equal(r.text, 'CheckID "tcp" does not have associated TTL');
  });
});

t.test('PUT /v1/agent/check/register and deregister', async (t) => {
  const { call } = await startApi(t);
  t.equal((await call('PUT', '/v1/agent/check/register', { Name: 'disk', TTL: '1m', Status: 'passing' })).status, 200);
  const checks = (await call('GET', '/v1/agent/checks')).json() as Record<string, Json>;
  t.match(checks.disk, { CheckID: 'disk', Name: 'disk', Status: 'passing', ServiceID: '', Type: 'ttl' });
  const missing = await call('PUT', '/v1/agent/check/register', { TTL: '1m' });
  t.equal(missing.status, 400);
  t.equal(missing.text, 'Missing check name');
  t.equal((await call('GET', '/v1/agent/check/deregister/disk')).status, 200);
  t.same((await call('GET', '/v1/agent/checks')).json(), {});
  t.equal((await call('PUT', '/v1/agent/check/deregister/disk')).status, 404);
});

t.test('GET /v1/agent/self and /v1/agent/members', async (t) => {
  const { call } = await startApi(t);
  const self = (await call('GET', '/v1/agent/self')).json() as { Config: Json; Member: Json };
  t.match(self.Config, { NodeName: 'n1', Datacenter: 'dc1', Server: true });
  t.type(self.Config.NodeID, 'string');
  t.type(self.Config.Version, 'string');
  t.type(self.Config.Revision, 'string');
  t.match(self.Member, { Name: 'n1', Addr: '127.0.0.1' });

  const members = (await call('GET', '/v1/agent/members')).json() as Array<{ Name: string; Status: number; Tags: Record<string, string> }>;
  t.equal(members.length, 1);
  t.match(members[0], { Name: 'n1', Addr: '127.0.0.1', Status: 1 });
  t.ok(Number((members[0] as unknown as { Port: number }).Port) > 0, 'the gossip port it is bound to');
  t.match(members[0]?.Tags, { role: 'consul', dc: 'dc1', port: /^\d+$/ });
});

t.test('GET /v1/agent/service/:id', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Port: 81 });
  t.match((await call('GET', '/v1/agent/service/web1')).json(), { ID: 'web1', Service: 'web', Port: 81 });
  t.equal((await call('GET', '/v1/agent/service/nope')).status, 404);
});
