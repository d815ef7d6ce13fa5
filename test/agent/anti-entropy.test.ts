import t from 'tap';
import type { Agent } from '../../src/agent/agent.js';
import { AntiEntropy } from '../../src/agent/anti-entropy.js';
import { LocalState } from '../../src/agent/local-state.js';
import { resolveServiceChecks } from '../../src/agent/validate.js';
import { LocalCatalogReader, LocalWriter } from '../../src/agent/writer.js';
import type { RegisterCommand } from '../../src/state/commands.js';
import { StateStore } from '../../src/state/store.js';
import { silentLogger } from '../../src/log.js';
import { NODE, serviceDef, startAgent } from '../helpers/in-process.js';

function catalogView(agent: Agent): { services: string[]; checks: string[] } {
  const c = agent.store!.catalog;
  return {
    services: c.nodeServices(NODE).value?.services.map((s) => s.id) ?? [],
    checks: c.nodeChecks(NODE).value.map((x) => x.checkId),
  };
}

/** A register command for our node, as some other writer (the catalog API, another tool) would send it. */
function foreignRegister(extra: Partial<RegisterCommand>): RegisterCommand {
  return {
    type: 'register', node: NODE, id: '', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, nodeMeta: {},
    skipNodeUpdate: true, checks: [], ...extra,
  };
}

t.test('catalog entries on our node that the agent does not own are removed', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000 }] }), { replaceExistingChecks: false });
  await agent.synced();
  await agent.writer.write(foreignRegister({
    service: { id: 'rogue', service: 'rogue', tags: [], address: '', port: 1, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false },
    checks: [
      { checkId: 'rogue-check', name: 'r', status: 'passing', notes: '', output: '', serviceId: 'rogue', type: 'ttl', definition: {} },
      { checkId: 'rogue-node-check', name: 'n', status: 'passing', notes: '', output: '', serviceId: '', type: 'ttl', definition: {} },
      { checkId: 'rogue-on-web1', name: 'w', status: 'critical', notes: '', output: '', serviceId: 'web1', type: 'ttl', definition: {} },
    ],
  }));
  t.same(catalogView(agent).services, ['consul', 'rogue', 'web1'], 'the foreign entries landed');

  await agent.synced();
  t.same(catalogView(agent), { services: ['consul', 'web1'], checks: ['serfHealth', 'service:web1'] },
    'only what the agent owns is left, plus serfHealth and consul (the leader\'s)');
  t.equal(agent.store!.catalog.getCheck(NODE, 'serfHealth')?.status, 'passing');
});

t.test('agent-owned entries removed or changed through the catalog are put back', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { port: 8080, checks: [{ ttlMs: 60_000 }] }), { replaceExistingChecks: false });
  await agent.registerCheck({ name: 'disk', ttlMs: 60_000, status: 'passing' });
  await agent.synced();

  await agent.writer.write({ type: 'deregister', node: NODE, serviceId: 'web1' });
  await agent.writer.write({ type: 'deregister', node: NODE, checkId: 'disk' });
  t.same(catalogView(agent), { services: ['consul'], checks: ['serfHealth'] });
  await agent.synced();
  t.same(catalogView(agent), { services: ['consul', 'web1'], checks: ['disk', 'serfHealth', 'service:web1'] });

  await agent.writer.write(foreignRegister({
    service: { id: 'web1', service: 'web', tags: ['changed'], address: '', port: 1, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false },
  }));
  await agent.synced();
  t.match(agent.store!.catalog.serviceInstances('web').value[0]?.service, { port: 8080, tags: [] });
});

t.test('the whole node deregistered through the catalog comes back', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web'), { replaceExistingChecks: false });
  await agent.synced();
  await agent.writer.write({ type: 'deregister', node: NODE });
  t.equal(agent.store!.catalog.getNode(NODE), undefined);
  await agent.synced();
  t.match(agent.store!.catalog.getNode(NODE), { address: '127.0.0.1' });
  t.same(catalogView(agent).services, ['web1'], 'the leader-owned entries are the leader\'s to restore, not anti-entropy\'s');
});

t.test('EnableTagOverride: tags changed in the catalog are copied into the agent', async (t) => {
  for (const override of [true, false]) {
    t.test(`EnableTagOverride=${override}`, async (t) => {
      const agent = await startAgent(t);
      await agent.registerService(serviceDef('web1', 'web', { tags: ['a'], enableTagOverride: override }), { replaceExistingChecks: false });
      await agent.synced();
      await agent.writer.write(foreignRegister({
        service: { id: 'web1', service: 'web', tags: ['b'], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: override },
      }));
      await agent.synced();
      const want = override ? ['b'] : ['a'];
      t.same(agent.store!.catalog.serviceInstances('web').value[0]?.service.tags, want, 'catalog');
      t.same(agent.services()[0]?.tags, want, 'agent');
    });
  }
});

t.test('a sync that finds the catalog in step writes nothing', async (t) => {
  const agent = await startAgent(t);
  await agent.registerService(serviceDef('web1', 'web', { checks: [{ ttlMs: 60_000 }] }), { replaceExistingChecks: false });
  await agent.registerCheck({ name: 'disk', ttlMs: 60_000 });
  await agent.synced();
  const index = agent.store!.index;
  await agent.synced();
  await agent.synced();
  t.equal(agent.store!.index, index, 'no command was written');
});

t.test('trigger: every change made before the call is in the catalog when it resolves', async (t) => {
  // Changes arrive at every point of a running sync, down to the microtask:
  // during its reads, between its writes, right after it finishes. Whatever
  // the timing, the promise a trigger returns must not settle before the
  // change that preceded it is in the catalog.
  for (let hops = 0; hops <= 40; hops++) {
    const store = new StateStore();
    const self = { node: NODE, id: 'id', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} };
    let ae: AntiEntropy | undefined;
    const local = new LocalState({ now: () => 0 }, () => { void ae?.trigger(); });
    ae = new AntiEntropy(self, local, new LocalCatalogReader(store), new LocalWriter(store), silentLogger());
    const antiEntropy = ae;

    const first = antiEntropy.trigger();
    let second: Promise<void> | undefined;
    const late = (n: number): Promise<void> => (n === 0
      ? Promise.resolve().then(() => {
        const def = serviceDef('late', 'late');
        local.addService(def, resolveServiceChecks(def, { scriptChecks: false }), false);
        second = antiEntropy.trigger();
      })
      : Promise.resolve().then(() => late(n - 1)));
    await Promise.all([first, late(hops)]);
    await second;
    const ids = store.catalog.nodeServices(NODE).value?.services.map((s) => s.id) ?? [];
    if (!ids.includes('late')) {
      t.fail(`a change ${hops} microtasks after the sync started was not synced when its trigger resolved`);
    }
  }
  t.pass('every change was synced by the time its trigger resolved');
});
