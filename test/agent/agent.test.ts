import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Agent } from '../../src/agent/agent.js';
import type { CheckRow } from '../../src/state/types.js';
import { NODE, serviceDef, startAgent } from '../helpers/in-process.js';

/** The catalog's checks on our node, by id. */
function catalogChecks(agent: Agent): Map<string, CheckRow> {
  return new Map(agent.store!.catalog.nodeChecks(NODE).value.map((c) => [c.checkId, c]));
}

function catalogServiceIds(agent: Agent): string[] {
  return agent.store!.catalog.nodeServices(NODE).value?.services.map((s) => s.id) ?? [];
}

/** An HTTP check against a port nothing listens on: a check that has no TTL. */
const HTTP_CHECK = { http: 'http://127.0.0.1:1/health', intervalMs: 60_000 };

t.test('start: the node, serfHealth and the consul service are in the catalog', async (t) => {
  const agent = await startAgent(t);
  const node = agent.store!.catalog.getNode(NODE);
  t.match(node, { node: NODE, address: '127.0.0.1', datacenter: 'dc1' });
  t.same(catalogServiceIds(agent), ['consul']);
  t.match(catalogChecks(agent).get('serfHealth'), { status: 'passing', serviceId: '', name: 'Serf Health Status' });
  t.match(agent.leaderAddress(), /^127\.0\.0\.1:\d+$/, 'the bound server RPC port');
});

t.test('registerService puts the service and its checks into the catalog', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { tags: ['v1'], port: 8080, checks: [{ ttlMs: 30_000 }] }), { replaceExistingChecks: false });
  await agent.synced();
  const [inst] = agent.store!.catalog.serviceInstances('web').value;
  t.match(inst?.service, { id: 'web1', service: 'web', tags: ['v1'], port: 8080 });
  t.match(catalogChecks(agent).get('service:web1'), {
    checkId: 'service:web1', name: "Service 'web' check", status: 'critical', serviceId: 'web1', serviceName: 'web',
    serviceTags: ['v1'], type: 'ttl', definition: { ttlMs: 30_000 },
  });
  t.same(agent.services().map((s) => s.id), ['web1']);
});

t.test('check ids, names and initial status', async (t) => {
  const cases: Array<{ name: string; checks: Array<Record<string, unknown>>; want: Array<{ checkId: string; name: string; status: string }> }> = [
    {
      name: 'one check: service:<id>, default name, critical',
      checks: [{ ttlMs: 10_000 }],
      want: [{ checkId: 'service:web1', name: "Service 'web' check", status: 'critical' }],
    },
    {
      name: 'several checks: service:<id>:<n>, 1-based',
      checks: [{ ttlMs: 10_000 }, { ttlMs: 20_000, status: 'passing' }],
      want: [
        { checkId: 'service:web1:1', name: "Service 'web' check", status: 'critical' },
        { checkId: 'service:web1:2', name: "Service 'web' check", status: 'passing' },
      ],
    },
    {
      name: 'given id, name and status are kept',
      checks: [{ checkId: 'alive', name: 'Alive', ttlMs: 10_000, status: 'warning' }],
      want: [{ checkId: 'alive', name: 'Alive', status: 'warning' }],
    },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const agent = await startAgent(t);
      await agent.registerService(serviceDef('web1', 'web', { checks: c.checks }), { replaceExistingChecks: false });
      await agent.synced();
      const rows = [...catalogChecks(agent).values()].filter((r) => r.serviceId === 'web1');
      t.same(rows.map((r) => ({ checkId: r.checkId, name: r.name, status: r.status })), c.want);
      t.same(agent.checks().map((l) => l.def.checkId).sort(), c.want.map((w) => w.checkId).sort(), 'the agent keeps the same ids');
    });
  }
});

t.test('a TTL check: pass, warn, fail and update flow to the catalog', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000 }] }), { replaceExistingChecks: false });
  const steps: Array<[status: 'passing' | 'warning' | 'critical', output: string]> = [
    ['passing', 'all good'],
    ['warning', 'slow'],
    ['critical', 'down'],
    ['passing', ''],
  ];
  for (const [status, output] of steps) {
    await agent.updateTtlCheck('service:web1', status, output);
    await agent.synced();
    t.match(catalogChecks(agent).get('service:web1'), { status, output }, `${status} "${output}"`);
  }
  const health = agent.store!.catalog.serviceHealth('web').value[0];
  t.same(health?.checks.map((c) => [c.checkId, c.status]), [['serfHealth', 'passing'], ['service:web1', 'passing']]);
});

t.test('updateTtlCheck errors', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { checks: [HTTP_CHECK] }), { replaceExistingChecks: false });
  await t.rejects(agent.updateTtlCheck('service:web1', 'passing', ''), { code: 'ERR_NOT_TTL_CHECK' }, 'an HTTP check has no TTL');
  await t.rejects(agent.updateTtlCheck('nope', 'passing', ''), { code: 'ERR_UNKNOWN_CHECK' });
});

t.test('deregisterService removes the service and its checks from the catalog', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000 }] }), { replaceExistingChecks: false });
  await agent.registerService(serviceDef('web2', 'web'), { replaceExistingChecks: false });
  await agent.deregisterService('web1');
  await agent.synced();
  t.same(catalogServiceIds(agent), ['consul', 'web2']);
  t.notOk(catalogChecks(agent).has('service:web1'));
  t.same(agent.checks(), []);
  await t.rejects(agent.updateTtlCheck('service:web1', 'passing', ''), { code: 'ERR_UNKNOWN_CHECK' }, 'its TTL runner is gone too');
});

t.test('deregisterService of an unknown id', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web'), { replaceExistingChecks: false });
  await t.rejects(agent.deregisterService('web'), { code: 'ERR_UNKNOWN_SERVICE' }, 'the name is not the id');
  await t.rejects(agent.deregisterService('consul'), { code: 'ERR_UNKNOWN_SERVICE' }, 'the leader-owned service is not the agent\'s');
});

t.test('invalid registrations are rejected and change nothing', async (t) => {
  const cases: Array<{ name: string; def: Parameters<typeof serviceDef>[2] & { id?: string; name?: string }; code: string; message?: string }> = [
    // the exact wording is what Consul clients show their users
    { name: 'missing name', def: { name: '' }, code: 'ERR_MISSING_SERVICE_NAME', message: 'Missing service name' },
    { name: 'address 0.0.0.0', def: { address: '0.0.0.0' }, code: 'ERR_INVALID_SERVICE', message: 'Invalid service address' },
    { name: 'address ::', def: { address: '::' }, code: 'ERR_INVALID_SERVICE' },
    { name: 'port out of range', def: { port: 70_000 }, code: 'ERR_INVALID_SERVICE' },
    { name: 'reserved meta key', def: { meta: { 'consul-x': '1' } }, code: 'ERR_INVALID_SERVICE' },
    { name: 'bad meta key', def: { meta: { 'a.b': '1' } }, code: 'ERR_INVALID_SERVICE' },
    { name: 'weights.passing 0', def: { weights: { passing: 0, warning: 1 } }, code: 'ERR_INVALID_SERVICE' },
    { name: 'HTTP check without interval', def: { checks: [{ http: 'http://127.0.0.1/' }] }, code: 'ERR_INVALID_CHECK' },
    { name: 'check that is neither HTTP, TCP nor TTL', def: { checks: [{ name: 'x' }] }, code: 'ERR_INVALID_CHECK' },
    { name: 'script check', def: { checks: [{ args: ['/bin/true'], intervalMs: 10_000 }] }, code: 'ERR_INVALID_CHECK' },
    { name: 'TTL and interval together', def: { checks: [{ tcp: 'localhost:1', intervalMs: 1000, ttlMs: 1000 }] }, code: 'ERR_INVALID_CHECK' },
    { name: 'bad initial status', def: { checks: [{ ttlMs: 1000, status: 'bogus' as 'passing' }] }, code: 'ERR_INVALID_CHECK_STATUS' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const agent = await startAgent(t);
      const before = JSON.stringify(agent.store!.catalog.dump());
      const def = serviceDef(c.def.id ?? 'web1', c.def.name ?? 'web', c.def);
      const err = await t.rejects(agent.registerService(def, { replaceExistingChecks: false }), { code: c.code });
      if (c.message !== undefined) t.match(err, { message: c.message });
      await agent.synced();
      t.same(agent.services(), []);
      t.same(agent.checks(), []);
      t.equal(JSON.stringify(agent.store!.catalog.dump()), before, 'the catalog did not move');
    });
  }
});

t.test('replace-existing-checks', async (t) => {
  const first = serviceDef('web1', 'web', { checks: [{ checkId: 'a', ttlMs: 60_000 }, { checkId: 'b', ttlMs: 60_000 }] });
  const second = serviceDef('web1', 'web', { checks: [{ checkId: 'a', ttlMs: 60_000 }] });

  t.test('off: checks the new definition leaves out are kept', async (t) => {
    const agent = await startAgent(t);
    await agent.registerService(first, { replaceExistingChecks: false });
    await agent.registerService(second, { replaceExistingChecks: false });
    await agent.synced();
    t.same(agent.checks().map((c) => c.def.checkId).sort(), ['a', 'b']);
    t.ok(catalogChecks(agent).has('b'));
    await agent.updateTtlCheck('b', 'passing', '');
  });

  t.test('on: they are removed, runners and catalog entries too', async (t) => {
    const agent = await startAgent(t);
    await agent.registerService(first, { replaceExistingChecks: false });
    await agent.synced();
    await agent.registerService(second, { replaceExistingChecks: true });
    await agent.synced();
    t.same(agent.checks().map((c) => c.def.checkId), ['a']);
    t.notOk(catalogChecks(agent).has('b'));
    t.ok(catalogChecks(agent).has('a'));
    await t.rejects(agent.updateTtlCheck('b', 'passing', ''), { code: 'ERR_UNKNOWN_CHECK' });
  });

  t.test('on: other services keep their checks', async (t) => {
    const agent = await startAgent(t);
    await agent.registerService(serviceDef('db1', 'db', { checks: [{ checkId: 'db', ttlMs: 60_000 }] }), { replaceExistingChecks: false });
    await agent.registerService(first, { replaceExistingChecks: false });
    await agent.registerService(second, { replaceExistingChecks: true });
    await agent.synced();
    t.same(agent.checks().map((c) => c.def.checkId).sort(), ['a', 'db']);
  });
});

t.test('re-registering a service keeps the status of its checks unless one is given', async (t) => {
  const agent = await startAgent(t);
  const def = serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000 }] });
  await agent.registerService(def, { replaceExistingChecks: false });
  await agent.updateTtlCheck('service:web1', 'passing', 'fine');
  await agent.registerService({ ...def, port: 81 }, { replaceExistingChecks: false });
  await agent.synced();
  t.match(catalogChecks(agent).get('service:web1'), { status: 'passing', output: 'fine' });
  await agent.registerService(serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000, status: 'warning' }] }), { replaceExistingChecks: false });
  await agent.synced();
  t.match(catalogChecks(agent).get('service:web1'), { status: 'warning', output: '' });
});

t.test('stand-alone checks', async (t) => {
  t.test('a node check: the id defaults to the name', async (t) => {
    const agent = await startAgent(t);
    await agent.registerCheck({ name: 'disk', ttlMs: 60_000, status: 'passing' });
    await agent.synced();
    t.match(catalogChecks(agent).get('disk'), { name: 'disk', serviceId: '', status: 'passing' });
    await agent.updateTtlCheck('disk', 'warning', '90% full');
    await agent.synced();
    t.match(catalogChecks(agent).get('disk'), { status: 'warning', output: '90% full' });
    await agent.deregisterCheck('disk');
    await agent.synced();
    t.notOk(catalogChecks(agent).has('disk'));
  });

  t.test('a check attached to a local service', async (t) => {
    const agent = await startAgent(t);
    await agent.registerService(serviceDef('web1', 'web'), { replaceExistingChecks: false });
    await agent.registerCheck({ checkId: 'extra', name: 'Extra', serviceId: 'web1', ttlMs: 60_000 });
    await agent.synced();
    t.match(catalogChecks(agent).get('extra'), { serviceId: 'web1', serviceName: 'web', status: 'critical' });
  });

  t.test('errors', async (t) => {
    const agent = await startAgent(t);
    await t.rejects(agent.registerCheck({ ttlMs: 1000 }), { code: 'ERR_MISSING_CHECK_NAME', message: 'Missing check name' });
    await t.rejects(agent.registerCheck({ name: 'x', serviceId: 'nope', ttlMs: 1000 }), { code: 'ERR_BAD_REQUEST' });
    await t.rejects(agent.deregisterCheck('nope'), { code: 'ERR_UNKNOWN_CHECK' });
    t.same(agent.checks(), []);
  });
});

t.test('services and checks from config files are registered at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'services.json');
  writeFileSync(file, JSON.stringify({
    services: [{ id: 'api1', name: 'api', port: 9000, tags: ['v2'], check: { ttl: '30s', status: 'passing' } }],
    check: { name: 'disk', ttl: '1m' },
  }));
  const agent = await startAgent(t, { args: ['-config-file', file] });
  await agent.synced();
  t.match(agent.store!.catalog.serviceInstances('api').value[0]?.service, { id: 'api1', port: 9000, tags: ['v2'] });
  t.match(catalogChecks(agent).get('service:api1'), { status: 'passing', definition: { ttlMs: 30_000 } });
  t.match(catalogChecks(agent).get('disk'), { status: 'critical', serviceId: '' });
});
