import t from 'tap';
import { StateStore, type ApplyResult } from '../../src/state/store.js';
import { TABLE } from '../../src/state/catalog.js';
import type { CheckInput, Command, DeregisterCommand, RegisterCommand, ServiceInput } from '../../src/state/commands.js';
import { MusterError } from '../../src/errors.js';

// ---- builders: the smallest commands that say what a scenario needs ----

function reg(node: string, extra: Partial<Omit<RegisterCommand, 'type' | 'node'>> = {}): RegisterCommand {
  return {
    type: 'register', node, id: `id-${node}`, address: '10.0.0.1', datacenter: 'dc1',
    taggedAddresses: {}, nodeMeta: {}, skipNodeUpdate: false, checks: [], ...extra,
  };
}

function svc(id: string, service: string, extra: Partial<ServiceInput> = {}): ServiceInput {
  return {
    id, service, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 },
    enableTagOverride: false, ...extra,
  };
}

function chk(checkId: string, extra: Partial<CheckInput> = {}): CheckInput {
  return {
    checkId, name: checkId, status: 'passing', notes: '', output: '', serviceId: '', type: 'ttl',
    definition: {}, ...extra,
  };
}

function dereg(node: string, extra: Partial<Omit<DeregisterCommand, 'type' | 'node'>> = {}): DeregisterCommand {
  return { type: 'deregister', node, ...extra };
}

/** Applies `cmd` at the next log index, as a single server does. */
function apply(store: StateStore, cmd: Command): ApplyResult {
  return store.apply(store.index + 1, cmd);
}

/** Applies `cmd` at the next index and fails loudly if the state machine rejected it. */
function applyOk(store: StateStore, cmd: Command): number {
  const r = apply(store, cmd);
  if (!r.ok) throw r.error;
  return r.index;
}

function snapshot(store: StateStore): string {
  return JSON.stringify(store.catalog.dump());
}

t.test('nodes', async (t) => {
  t.test('register creates the node with CreateIndex = ModifyIndex = the command index', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, reg('n1', { address: '10.0.0.5', nodeMeta: { rack: 'r1' } }));
    const n = store.catalog.getNode('n1');
    t.match(n, { node: 'n1', address: '10.0.0.5', meta: { rack: 'r1' }, createIndex: idx, modifyIndex: idx });
    t.equal(store.catalog.tableIndex(TABLE.nodes), idx);
    t.same(store.catalog.nodeList().value.map((x) => x.node), ['n1']);
  });

  t.test('a changed address moves ModifyIndex, not CreateIndex', async (t) => {
    const store = new StateStore();
    const first = applyOk(store, reg('n1'));
    const second = applyOk(store, reg('n1', { address: '10.0.0.2' }));
    t.match(store.catalog.getNode('n1'), { address: '10.0.0.2', createIndex: first, modifyIndex: second });
    t.equal(store.catalog.tableIndex(TABLE.nodes), second);
  });

  t.test('skipNodeUpdate leaves an existing node alone but creates a missing one', async (t) => {
    const store = new StateStore();
    const created = applyOk(store, reg('n1', { skipNodeUpdate: true }));
    applyOk(store, reg('n1', { address: '10.9.9.9', skipNodeUpdate: true }));
    t.match(store.catalog.getNode('n1'), { address: '10.0.0.1', modifyIndex: created });
  });

  t.test('a new node without an address is rejected', async (t) => {
    const store = new StateStore();
    const r = apply(store, reg('n1', { address: '' }));
    t.equal(r.ok, false);
    if (!r.ok) t.equal(r.error.code, 'ERR_BAD_REQUEST');
    t.equal(store.catalog.getNode('n1'), undefined);
  });

  t.test('nodeList is sorted by name', async (t) => {
    const store = new StateStore();
    for (const n of ['c', 'a', 'b']) applyOk(store, reg(n));
    t.same(store.catalog.nodeList().value.map((x) => x.node), ['a', 'b', 'c']);
  });

  t.test('deregistering a node removes its services and checks and reports them', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1', { service: svc('web1', 'web'), checks: [chk('web-ttl', { serviceId: 'web1' }), chk('serfHealth')] }));
    applyOk(store, reg('n2', { service: svc('web2', 'web') }));
    const r = apply(store, dereg('n1'));
    t.ok(r.ok);
    if (r.ok) {
      t.same(r.change?.removedNodes, ['n1']);
      t.same(r.change?.removedChecks.map((c) => c.checkId).sort(), ['serfHealth', 'web-ttl']);
    }
    t.equal(store.catalog.getNode('n1'), undefined);
    t.same(store.catalog.serviceInstances('web').value.map((x) => x.service.id), ['web2']);
    t.same(store.catalog.nodeChecks('n1').value, []);
    t.equal(store.catalog.tableIndex(TABLE.nodes), r.index);
    t.equal(store.catalog.serviceIndex('web'), r.index, 'the service lost an instance');
    t.equal(store.catalog.tableIndex(TABLE.checks), r.index);
  });

  t.test('deregistering an unknown node changes nothing and moves no index', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1'));
    const before = snapshot(store);
    const r = apply(store, dereg('ghost'));
    t.ok(r.ok, 'not an error');
    t.equal(snapshot(store), before);
  });
});

t.test('services', async (t) => {
  t.test('register puts the instance in the catalog with its indexes', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, reg('n1', { service: svc('web1', 'web', { tags: ['v1'], port: 8080 }) }));
    const [inst] = store.catalog.serviceInstances('web').value;
    t.match(inst?.service, { id: 'web1', service: 'web', tags: ['v1'], port: 8080, createIndex: idx, modifyIndex: idx });
    t.equal(inst?.node.node, 'n1');
    t.equal(store.catalog.tableIndex(TABLE.services), idx);
    t.equal(store.catalog.serviceIndex('web'), idx);
  });

  t.test('an updated instance keeps CreateIndex and moves ModifyIndex', async (t) => {
    const store = new StateStore();
    const first = applyOk(store, reg('n1', { service: svc('web1', 'web') }));
    const second = applyOk(store, reg('n1', { service: svc('web1', 'web', { port: 81 }) }));
    t.match(store.catalog.serviceInstances('web').value[0]?.service, { port: 81, createIndex: first, modifyIndex: second });
  });

  t.test('a missing service name is rejected', async (t) => {
    const store = new StateStore();
    const r = apply(store, reg('n1', { service: svc('x', '') }));
    t.equal(r.ok, false);
    if (!r.ok) t.equal(r.error.code, 'ERR_MISSING_SERVICE_NAME');
    t.equal(store.catalog.getNode('n1'), undefined, 'the node was not created either');
  });

  t.test('serviceNames: every name with its deduplicated, sorted tags', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1', { service: svc('web1', 'web', { tags: ['v2', 'primary'] }) }));
    applyOk(store, reg('n2', { service: svc('web2', 'web', { tags: ['primary', 'v1'] }) }));
    applyOk(store, reg('n2', { service: svc('db1', 'db') }));
    t.same(Object.fromEntries(store.catalog.serviceNames().value), { db: [], web: ['primary', 'v1', 'v2'] });
  });

  t.test('deregistering a service removes its checks, not the node or other checks', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1', { service: svc('web1', 'web'), checks: [chk('web-ttl', { serviceId: 'web1' }), chk('node-check')] }));
    const r = apply(store, dereg('n1', { serviceId: 'web1' }));
    t.ok(r.ok);
    t.same(store.catalog.serviceInstances('web').value, []);
    t.same(store.catalog.nodeChecks('n1').value.map((c) => c.checkId), ['node-check']);
    t.ok(store.catalog.getNode('n1'));
    t.equal(store.catalog.tableIndex(TABLE.services), r.index);
    t.equal(store.catalog.tableIndex(TABLE.checks), r.index);
    if (r.ok) t.same(r.change?.removedChecks, [{ node: 'n1', checkId: 'web-ttl' }]);
  });

  t.test('renaming a service under the same id moves both names and the checks follow', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1', { service: svc('s1', 'old'), checks: [chk('s1-ttl', { serviceId: 's1' })] }));
    const idx = applyOk(store, reg('n1', { service: svc('s1', 'new', { tags: ['t'] }) }));
    t.equal(store.catalog.serviceIndex('old'), idx);
    t.equal(store.catalog.serviceIndex('new'), idx);
    t.same(store.catalog.serviceInstances('old').value, []);
    t.match(store.catalog.getCheck('n1', 's1-ttl'), { serviceName: 'new', serviceTags: ['t'], modifyIndex: idx });
  });
});

t.test('checks', async (t) => {
  t.test('a service check carries the service name and tags', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, reg('n1', { service: svc('web1', 'web', { tags: ['a'] }), checks: [chk('web-ttl', { serviceId: 'web1' })] }));
    t.match(store.catalog.getCheck('n1', 'web-ttl'), {
      serviceId: 'web1', serviceName: 'web', serviceTags: ['a'], createIndex: idx, modifyIndex: idx,
    });
    t.equal(store.catalog.tableIndex(TABLE.checks), idx);
  });

  t.test('a status change moves ModifyIndex; turning critical is reported', async (t) => {
    const store = new StateStore();
    const first = applyOk(store, reg('n1', { checks: [chk('c1')] }));
    const r = apply(store, reg('n1', { checks: [chk('c1', { status: 'critical' })] }));
    t.ok(r.ok);
    if (r.ok) t.same(r.change?.criticalChecks, [{ node: 'n1', checkId: 'c1' }]);
    t.match(store.catalog.getCheck('n1', 'c1'), { status: 'critical', createIndex: first, modifyIndex: r.index });
    const again = apply(store, reg('n1', { checks: [chk('c1', { status: 'critical', output: 'still down' })] }));
    if (again.ok) t.same(again.change?.criticalChecks, [], 'staying critical is not news');
  });

  t.test('deregistering one check', async (t) => {
    const store = new StateStore();
    applyOk(store, reg('n1', { checks: [chk('c1'), chk('c2')] }));
    const r = apply(store, dereg('n1', { checkId: 'c1' }));
    t.same(store.catalog.nodeChecks('n1').value.map((c) => c.checkId), ['c2']);
    t.equal(store.catalog.tableIndex(TABLE.checks), r.index);
  });

  t.test('a check for a service id the node does not have is rejected and changes nothing', async (t) => {
    const cases: Array<{ name: string; setup: Command[]; cmd: RegisterCommand }> = [
      { name: 'on a new node', setup: [], cmd: reg('n1', { checks: [chk('c', { serviceId: 'nope' })] }) },
      {
        name: 'with a valid service in the same command',
        setup: [reg('n1')],
        cmd: reg('n1', { address: '10.0.0.2', service: svc('web1', 'web'), checks: [chk('ok', { serviceId: 'web1' }), chk('bad', { serviceId: 'nope' })] }),
      },
      {
        name: 'when the service lives on another node',
        setup: [reg('n2', { service: svc('web1', 'web') }), reg('n1')],
        cmd: reg('n1', { checks: [chk('c', { serviceId: 'web1' })] }),
      },
    ];
    for (const c of cases) {
      t.test(c.name, async (t) => {
        const store = new StateStore();
        for (const cmd of c.setup) applyOk(store, cmd);
        const before = snapshot(store);
        const r = apply(store, c.cmd);
        t.equal(r.ok, false);
        if (!r.ok) {
          t.type(r.error, MusterError);
          t.equal(r.error.code, 'ERR_BAD_REQUEST');
        }
        t.equal(snapshot(store), before, 'no row and no table index moved');
      });
    }
  });

  t.test('a check may name the service registered in the same command', async (t) => {
    const store = new StateStore();
    const r = apply(store, reg('n1', { service: svc('web1', 'web'), checks: [chk('c', { serviceId: 'web1' })] }));
    t.ok(r.ok);
    t.equal(store.catalog.getCheck('n1', 'c')?.serviceName, 'web');
  });

  t.test('checksInState', async (t) => {
    const store = new StateStore();
    const last = applyOk(store, reg('n1', {
      checks: [chk('a', { status: 'passing' }), chk('b', { status: 'critical' }), chk('c', { status: 'warning' })],
    }));
    applyOk(store, reg('n2', { checks: [chk('a', { status: 'critical' })] }));
    const ids = (s: Parameters<typeof store.catalog.checksInState>[0]) =>
      store.catalog.checksInState(s).value.map((c) => `${c.node}/${c.checkId}`);
    t.same(ids('passing'), ['n1/a']);
    t.same(ids('critical'), ['n1/b', 'n2/a']);
    t.same(ids('warning'), ['n1/c']);
    t.same(ids('any'), ['n1/a', 'n1/b', 'n1/c', 'n2/a']);
    t.same(ids('maintenance'), []);
    t.equal(store.catalog.checksInState('any').index, last + 1, 'the checks table index');
  });
});

t.test('the per-service index', async (t) => {
  // One scenario, step by step: which service answers (catalog and health for
  // that name) must wake a blocking query, and which must not.
  const store = new StateStore();
  applyOk(store, reg('n1', { service: svc('web1', 'web'), checks: [chk('web-ttl', { serviceId: 'web1' })] }));
  applyOk(store, reg('n1', { service: svc('db1', 'db'), checks: [chk('db-ttl', { serviceId: 'db1' })] }));
  applyOk(store, reg('n2', { service: svc('cache1', 'cache') }));

  const steps: Array<{ step: string; cmd: Command; moves: string[]; stays: string[] }> = [
    { step: 'an instance changes (port)', cmd: reg('n1', { service: svc('web1', 'web', { port: 81 }) }), moves: ['web'], stays: ['db', 'cache'] },
    { step: 'an instance gains a tag', cmd: reg('n1', { service: svc('web1', 'web', { port: 81, tags: ['x'] }) }), moves: ['web'], stays: ['db', 'cache'] },
    { step: "that service's check changes", cmd: reg('n1', { checks: [chk('web-ttl', { serviceId: 'web1', status: 'critical' })] }), moves: ['web'], stays: ['db', 'cache'] },
    { step: "another service's check changes", cmd: reg('n1', { checks: [chk('db-ttl', { serviceId: 'db1', status: 'warning' })] }), moves: ['db'], stays: ['web', 'cache'] },
    { step: 'a node check appears', cmd: reg('n1', { checks: [chk('serfHealth')] }), moves: ['web', 'db'], stays: ['cache'] },
    { step: 'a node check changes', cmd: reg('n1', { checks: [chk('serfHealth', { status: 'critical' })] }), moves: ['web', 'db'], stays: ['cache'] },
    { step: 'a second instance on another node', cmd: reg('n2', { service: svc('web2', 'web') }), moves: ['web'], stays: ['db', 'cache'] },
    { step: 'the node address changes', cmd: reg('n2', { address: '10.0.0.99' }), moves: ['web', 'cache'], stays: ['db'] },
    { step: 'a service check is deregistered', cmd: dereg('n1', { checkId: 'web-ttl' }), moves: ['web'], stays: ['db', 'cache'] },
    { step: 'a node check is deregistered', cmd: dereg('n1', { checkId: 'serfHealth' }), moves: ['web', 'db'], stays: ['cache'] },
    { step: 'an instance is deregistered', cmd: dereg('n1', { serviceId: 'web1' }), moves: ['web'], stays: ['db', 'cache'] },
    { step: 'an identical re-register', cmd: reg('n1', { service: svc('db1', 'db') }), moves: [], stays: ['web', 'db', 'cache'] },
    { step: 'deregistering an unknown service', cmd: dereg('n1', { serviceId: 'nope' }), moves: [], stays: ['web', 'db', 'cache'] },
  ];
  for (const s of steps) {
    t.test(s.step, async (t) => {
      const before = new Map(['web', 'db', 'cache'].map((n) => [n, store.catalog.serviceIndex(n)]));
      const idx = applyOk(store, s.cmd);
      for (const n of s.moves) t.equal(store.catalog.serviceIndex(n), idx, `${n} moves to ${idx}`);
      for (const n of s.stays) t.equal(store.catalog.serviceIndex(n), before.get(n), `${n} stays`);
      for (const n of ['web', 'db', 'cache']) {
        t.equal(store.catalog.serviceHealth(n).index, Math.max(store.catalog.serviceIndex(n), 1), `health answers for ${n} use it`);
        t.equal(store.catalog.serviceInstances(n).index, store.catalog.serviceIndex(n), `catalog answers for ${n} use it`);
      }
    });
  }

  t.test('after its last instance goes, the name keeps the index of its removal', async (t) => {
    const idx = applyOk(store, dereg('n2', { serviceId: 'web2' }));
    applyOk(store, reg('n2', { service: svc('other', 'other') }));
    t.same(store.catalog.serviceInstances('web').value, []);
    t.equal(store.catalog.serviceIndex('web'), idx);
  });

  t.test('a name never seen falls back to the services table index', async (t) => {
    t.equal(store.catalog.serviceIndex('never'), store.catalog.tableIndex(TABLE.services));
  });
});

t.test('an identical re-register moves no index', async (t) => {
  const store = new StateStore();
  const cmd = reg('n1', {
    nodeMeta: { a: '1', b: '2' },
    service: svc('web1', 'web', { tags: ['x', 'y'], meta: { k: 'v' } }),
    checks: [chk('web-ttl', { serviceId: 'web1', definition: { ttlMs: 10_000 } }), chk('serfHealth')],
  });
  const first = applyOk(store, cmd);
  const before = snapshot(store);
  const reordered = { ...cmd, nodeMeta: { b: '2', a: '1' } }; // map order is not a change
  const second = applyOk(store, reordered);
  t.equal(second, first + 1, 'the command still consumed its index');
  t.equal(store.index, second);
  t.equal(snapshot(store), before, 'rows and table indexes are unchanged');
});

t.test('tag filter: case-insensitive, every tag must match', async (t) => {
  const store = new StateStore();
  applyOk(store, reg('n1', { service: svc('a', 'web', { tags: ['Primary', 'v1'] }) }));
  applyOk(store, reg('n2', { service: svc('b', 'web', { tags: ['secondary', 'v1'] }) }));
  applyOk(store, reg('n3', { service: svc('c', 'web') }));
  const cases: Array<{ tags: string[]; want: string[] }> = [
    { tags: [], want: ['a', 'b', 'c'] },
    { tags: ['primary'], want: ['a'] },
    { tags: ['PRIMARY'], want: ['a'] },
    { tags: ['V1'], want: ['a', 'b'] },
    { tags: ['primary', 'v1'], want: ['a'] },
    { tags: ['primary', 'v2'], want: [] },
    { tags: ['prim'], want: [] },
  ];
  for (const c of cases) {
    t.same(store.catalog.serviceInstances('web', c.tags).value.map((x) => x.service.id), c.want, `catalog ?tag=${c.tags.join('&tag=')}`);
    t.same(store.catalog.serviceHealth('web', c.tags).value.map((x) => x.service.id), c.want, `health ?tag=${c.tags.join('&tag=')}`);
  }
});

t.test('serviceHealth: node checks plus the instance\'s own checks only', async (t) => {
  const store = new StateStore();
  applyOk(store, reg('n1', { service: svc('web1', 'web'), checks: [chk('web1-ttl', { serviceId: 'web1' })] }));
  applyOk(store, reg('n1', { service: svc('web2', 'web'), checks: [chk('web2-ttl', { serviceId: 'web2', status: 'critical' })] }));
  applyOk(store, reg('n1', { service: svc('db1', 'db'), checks: [chk('db-ttl', { serviceId: 'db1' })] }));
  applyOk(store, reg('n1', { checks: [chk('serfHealth'), chk('_node_maintenance', { status: 'warning' })] }));
  applyOk(store, reg('n2', { checks: [chk('serfHealth')] }));

  const health = store.catalog.serviceHealth('web').value;
  t.same(health.map((h) => [h.service.id, h.checks.map((c) => `${c.node}/${c.checkId}`)]), [
    ['web1', ['n1/_node_maintenance', 'n1/serfHealth', 'n1/web1-ttl']],
    ['web2', ['n1/_node_maintenance', 'n1/serfHealth', 'n1/web2-ttl']],
  ]);
  t.same(health.map((h) => h.node.node), ['n1', 'n1']);
  t.same(store.catalog.serviceHealth('nope').value, []);
  t.ok(store.catalog.serviceHealth('nope').index >= 1, 'the index of an empty answer is never 0');
  t.same(store.catalog.serviceChecks('web').value.map((c) => c.checkId), ['web1-ttl', 'web2-ttl'], 'serviceChecks has no node checks');
});

t.test('nodeServices: unknown node is undefined, known node lists its services by id', async (t) => {
  const store = new StateStore();
  applyOk(store, reg('n1', { service: svc('b', 'web') }));
  applyOk(store, reg('n1', { service: svc('a', 'db') }));
  t.equal(store.catalog.nodeServices('ghost').value, undefined);
  t.equal(store.catalog.nodeServices('ghost').index, store.index);
  t.same(store.catalog.nodeServices('n1').value?.services.map((s) => s.id), ['a', 'b']);
});

t.test('the store', async (t) => {
  t.test('apply with an index not after the applied one throws and changes nothing', async (t) => {
    const store = new StateStore();
    store.apply(5, reg('n1'));
    const before = snapshot(store);
    for (const idx of [5, 4, 0]) {
      t.throws(() => store.apply(idx, reg('n2')), { code: 'ERR_INTERNAL' }, `index ${idx}`);
    }
    t.equal(store.index, 5);
    t.equal(snapshot(store), before);
    t.equal(store.catalog.getNode('n2'), undefined);
  });

  t.test('indexes may skip (other commands in the log), rows take the command index', async (t) => {
    const store = new StateStore();
    store.apply(10, reg('n1'));
    store.apply(42, reg('n2'));
    t.equal(store.catalog.getNode('n2')?.createIndex, 42);
    t.equal(store.index, 42);
  });

  t.test('a failed command still consumes its index and is heard by listeners', async (t) => {
    const store = new StateStore();
    const heard: Array<[number, string]> = [];
    const unsubscribe = store.subscribe((index, cmd) => heard.push([index, cmd.type]));
    const bad = store.apply(1, reg('n1', { checks: [chk('c', { serviceId: 'nope' })] }));
    t.equal(bad.ok, false);
    t.equal(bad.index, 1);
    t.equal(store.index, 1, 'the index is consumed');
    t.throws(() => store.apply(1, reg('n1')), { code: 'ERR_INTERNAL' }, 'and cannot be reused');
    const good = store.apply(2, reg('n1'));
    t.ok(good.ok);
    t.equal(store.catalog.getNode('n1')?.createIndex, 2);
    t.same(heard, [[1, 'register'], [2, 'register']]);
    unsubscribe();
    store.apply(3, dereg('n1'));
    t.equal(heard.length, 2, 'an unsubscribed listener hears nothing more');
  });

  t.test('the register result value is true', async (t) => {
    const store = new StateStore();
    const r = store.apply(1, reg('n1'));
    t.ok(r.ok);
    if (r.ok) t.equal(r.value, true);
  });
});
