import t from 'tap';
import { StateStore, MAX_TXN_OPS, type ApplyResult, type TxnResult } from '../../src/state/store.js';
import type { Command, KvOp, RegisterCommand } from '../../src/state/commands.js';

// ---- builders ----

/** A txn op; `value` is plain text, encoded as the command carries it. */
function op(verb: KvOp['verb'], key: string, args: { value?: string; flags?: string; index?: number; session?: string } = {}): KvOp {
  const o: KvOp = { verb, key };
  if (args.value !== undefined) o.value = Buffer.from(args.value).toString('base64');
  if (args.flags !== undefined) o.flags = args.flags;
  if (args.index !== undefined) o.index = args.index;
  if (args.session !== undefined) o.session = args.session;
  return o;
}

function txn(ops: KvOp[], at = 0): Command {
  return { type: 'txn', ops, at };
}

function nodeWithSerfHealth(): RegisterCommand {
  return {
    type: 'register', node: 'n1', id: 'id-n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {},
    nodeMeta: {}, skipNodeUpdate: false,
    checks: [{ checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', notes: '', output: '', serviceId: '', type: '', definition: {} }],
  };
}

function apply(store: StateStore, cmd: Command): ApplyResult {
  return store.apply(store.index + 1, cmd);
}

function applyOk(store: StateStore, cmd: Command): { index: number; value: unknown } {
  const r = apply(store, cmd);
  if (!r.ok) throw r.error;
  return { index: r.index, value: r.value };
}

/** Applies a txn and returns its result (a txn whose ops fail still applies: the errors are its answer). */
function runTxn(store: StateStore, ops: KvOp[], at = 0): TxnResult & { index: number } {
  const r = applyOk(store, txn(ops, at));
  return { ...(r.value as TxnResult), index: r.index };
}

function set(store: StateStore, key: string, value = ''): number {
  return runTxn(store, [op('set', key, { value })]).index;
}

/** Sessions s1 and s2 on node n1. */
function withSessions(store: StateStore): void {
  applyOk(store, nodeWithSerfHealth());
  for (const id of ['s1', 's2']) {
    applyOk(store, {
      type: 'session-create',
      session: { id, name: '', node: 'n1', nodeChecks: ['serfHealth'], serviceChecks: [], lockDelayMs: 1000, behavior: 'release', ttl: '' },
    });
  }
}

function dumpText(store: StateStore): string {
  return JSON.stringify(store.kv.dump(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

t.test('a successful txn applies every op at the one command index', async (t) => {
  const store = new StateStore();
  set(store, 'old');
  const r = runTxn(store, [op('set', 'a', { value: 'A' }), op('set', 'b', { value: 'B', flags: '3304740253564472344' }), op('delete', 'old')]);
  t.same(r.errors, []);
  t.match(store.kv.get('a'), { createIndex: r.index, modifyIndex: r.index });
  t.match(store.kv.get('b'), { flags: 3304740253564472344n, modifyIndex: r.index });
  t.equal(store.kv.get('old'), undefined);
  t.equal(store.kv.index, r.index);
});

t.test('later ops see earlier writes of the same txn', async (t) => {
  const store = new StateStore();
  const idx = store.index + 1;
  const r = runTxn(store, [
    op('check-not-exists', 'k'),
    op('cas', 'k', { value: 'v1', index: 0 }),
    op('check-index', 'k', { index: idx }),
    op('cas', 'k', { value: 'v2', index: idx }),
    op('get', 'k'),
  ]);
  t.same(r.errors, []);
  t.equal(r.index, idx);
  t.equal(store.kv.get('k')?.value.toString(), 'v2');
});

t.test('all or nothing', async (t) => {
  t.test('a failing op rolls back the earlier writes, deletes, tombstones and the table index', async (t) => {
    const store = new StateStore();
    set(store, 'keep', 'original');
    set(store, 'doomed', 'd');
    set(store, 'tree/a');
    set(store, 'tree/b');
    set(store, 'gone');
    runTxn(store, [op('delete', 'gone')]); // a tombstone the failed txn must not disturb
    const before = dumpText(store);
    const kvIndex = store.kv.index;

    const r = runTxn(store, [
      op('set', 'keep', { value: 'changed', flags: '9' }),
      op('set', 'new', { value: 'n' }),
      op('delete', 'doomed'),
      op('delete-tree', 'tree/'),
      op('set', 'gone', { value: 'back' }),
      op('cas', 'keep', { value: 'x', index: 1 }),
    ]);
    t.same(r.errors, [{ opIndex: 5, what: 'failed to set key "keep", index is stale' }]);
    t.same(r.results, [], 'no results from a rolled-back txn');
    t.equal(dumpText(store), before, 'rows, tombstones, lock-delays and the table index as before');
    t.equal(store.kv.index, kvIndex);
    t.equal(store.kv.get('keep')?.value.toString(), 'original');
    t.equal(store.kv.get('new'), undefined);
    t.same(store.kv.list('tree/').map((e) => e.key), ['tree/a', 'tree/b']);
    t.equal(store.index, r.index, 'the command still used its log index');
  });

  t.test('a rolled-back lock leaves the key unheld and the session holding nothing', async (t) => {
    const store = new StateStore();
    withSessions(store);
    const r = runTxn(store, [op('lock', 'k', { session: 's1' }), op('get', 'missing')]);
    t.equal(r.errors.length, 1);
    t.equal(store.kv.get('k'), undefined);
    t.same(store.kv.heldBy('s1'), []);
    t.equal(applyOk(store, { type: 'kv', verb: 'lock', key: 'k', session: 's2' }).value, true, 'another session can take it');
  });

  t.test('a rolled-back unlock leaves the lock held', async (t) => {
    const store = new StateStore();
    withSessions(store);
    runTxn(store, [op('lock', 'k', { value: 'held', session: 's1' })]);
    const r = runTxn(store, [op('unlock', 'k', { value: 'released', session: 's1' }), op('check-not-exists', 'k')]);
    t.same(r.errors, [{ opIndex: 1, what: 'key "k" exists' }]);
    t.match(store.kv.get('k'), { session: 's1', lockIndex: 1 });
    t.equal(store.kv.get('k')?.value.toString(), 'held');
    t.same(store.kv.heldBy('s1'), ['k']);
  });

  t.test('a txn with an op the state machine cannot decode changes nothing', async (t) => {
    const store = new StateStore();
    set(store, 'a', 'before');
    const before = dumpText(store);
    const r = apply(store, txn([op('set', 'a', { value: 'after' }), op('set', 'b', { flags: 'not-a-number' })]));
    t.equal(r.ok, false);
    t.equal(dumpText(store), before, 'the first op was rolled back too');
  });
});

t.test('per-op errors carry their op index and Consul\'s text', async (t) => {
  interface Case { name: string; setup?: (s: StateStore) => void; ops: KvOp[]; errors: Array<{ opIndex: number; what: string }> }
  const cases: Case[] = [
    { name: 'cas with a stale index', setup: (s) => set(s, 'k'), ops: [op('cas', 'k', { index: 99 })], errors: [{ opIndex: 0, what: 'failed to set key "k", index is stale' }] },
    { name: 'cas 0 on an existing key', setup: (s) => set(s, 'k'), ops: [op('cas', 'k', { index: 0 })], errors: [{ opIndex: 0, what: 'failed to set key "k", index is stale' }] },
    { name: 'get of a missing key', ops: [op('get', 'k')], errors: [{ opIndex: 0, what: 'key "k" doesn\'t exist' }] },
    { name: 'check-index on a missing key', ops: [op('check-index', 'k', { index: 1 })], errors: [{ opIndex: 0, what: 'failed to check index, key "k" doesn\'t exist' }] },
    { name: 'check-index with another index', setup: (s) => set(s, 'k'), ops: [op('check-index', 'k', { index: 2 })], errors: [{ opIndex: 0, what: 'failed index check for key "k", current modify index 1 != 2' }] },
    { name: 'check-not-exists on an existing key', setup: (s) => set(s, 'k'), ops: [op('check-not-exists', 'k')], errors: [{ opIndex: 0, what: 'key "k" exists' }] },
    {
      name: 'check-session with another session', setup: (s) => { withSessions(s); runTxn(s, [op('lock', 'k', { session: 's1' })]); },
      ops: [op('check-session', 'k', { session: 's2' })], errors: [{ opIndex: 0, what: 'failed session check for key "k", current session "s1" != "s2"' }],
    },
    { name: 'check-session on a missing key', ops: [op('check-session', 'k', { session: 's1' })], errors: [{ opIndex: 0, what: 'failed to check session, key "k" doesn\'t exist' }] },
    { name: 'lock without a session', ops: [op('lock', 'k')], errors: [{ opIndex: 0, what: 'missing session' }] },
    { name: 'unlock without a session', setup: (s) => set(s, 'k'), ops: [op('unlock', 'k')], errors: [{ opIndex: 0, what: 'missing session' }] },
    { name: 'delete-cas with a stale index', setup: (s) => set(s, 'k'), ops: [op('delete-cas', 'k', { index: 7 })], errors: [{ opIndex: 0, what: 'failed to delete key "k", index is stale' }] },
    { name: 'lock with an unknown session', ops: [op('lock', 'k', { session: 'nope' })], errors: [{ opIndex: 0, what: 'invalid session "nope"' }] },
    {
      name: 'lock held by another session', setup: (s) => { withSessions(s); runTxn(s, [op('lock', 'k', { session: 's1' })]); },
      ops: [op('lock', 'k', { session: 's2' })], errors: [{ opIndex: 0, what: 'failed to lock key "k", lock is already held' }],
    },
    {
      name: 'lock during a lock-delay',
      setup: (s) => { withSessions(s); runTxn(s, [op('lock', 'k', { session: 's1' })]); applyOk(s, { type: 'session-destroy', id: 's1', at: 10_000 }); },
      ops: [op('lock', 'k', { session: 's2' })], errors: [{ opIndex: 0, what: 'failed to lock key "k" due to lock delay' }],
    },
    {
      name: 'unlock by a non-holder', setup: (s) => { withSessions(s); runTxn(s, [op('lock', 'k', { session: 's1' })]); },
      ops: [op('unlock', 'k', { session: 's2' })], errors: [{ opIndex: 0, what: 'failed to unlock key "k", lock isn\'t held, or is held by another session' }],
    },
    {
      name: 'every failing op is reported, in order',
      setup: (s) => set(s, 'present'),
      ops: [op('set', 'fine'), op('get', 'absent'), op('check-not-exists', 'present'), op('set', 'fine2')],
      errors: [{ opIndex: 1, what: 'key "absent" doesn\'t exist' }, { opIndex: 2, what: 'key "present" exists' }],
    },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const store = new StateStore();
      c.setup?.(store);
      const before = dumpText(store);
      const r = runTxn(store, c.ops, 10_500);
      t.same(r.errors, c.errors);
      t.same(r.results, []);
      t.equal(dumpText(store), before, 'state untouched');
    });
  }
});

t.test('results', async (t) => {
  t.test('get and get-tree return entries with values; writes and checks theirs without, in op order', async (t) => {
    const store = new StateStore();
    const aIdx = set(store, 'dir/a', 'A');
    set(store, 'dir/b', 'B');
    set(store, 'other', 'O');
    const r = runTxn(store, [
      op('get', 'dir/a'),
      op('set', 'dir/c', { value: 'C' }),
      op('get-tree', 'dir/'),
      op('check-index', 'dir/a', { index: aIdx }),
      op('check-not-exists', 'nope'),
      op('delete', 'other'),
    ]);
    t.same(r.errors, []);
    t.same(r.results.map((x) => [x.entry.key, x.read]), [
      ['dir/a', true],
      ['dir/c', false],
      ['dir/a', true], ['dir/b', true], ['dir/c', true],
      ['dir/a', false],
    ], 'check-index reports its entry without the value; check-not-exists and delete add no result');
    t.equal(r.results[0]?.entry.value.toString(), 'A');
  });

  t.test('lock, unlock and check-session report the entry', async (t) => {
    const store = new StateStore();
    withSessions(store);
    const r = runTxn(store, [op('lock', 'k', { value: 'v', session: 's1' }), op('check-session', 'k', { session: 's1' })]);
    t.same(r.errors, []);
    t.same(r.results.map((x) => [x.entry.key, x.entry.session, x.read]), [['k', 's1', false], ['k', 's1', false]]);
    const u = runTxn(store, [op('unlock', 'k', { session: 's1' })]);
    t.same(u.results.map((x) => [x.entry.key, x.entry.session, x.entry.lockIndex]), [['k', '', 1]]);
  });

  t.test('get-tree on an empty prefix is no error and no result', async (t) => {
    const store = new StateStore();
    const r = runTxn(store, [op('get-tree', 'nothing/')]);
    t.same(r, { results: [], errors: [], index: r.index });
  });
});

t.test(`at most ${MAX_TXN_OPS} operations`, async (t) => {
  t.equal(MAX_TXN_OPS, 128);
  const ops = (n: number) => Array.from({ length: n }, (_, i) => op('set', `k${i}`));

  const store = new StateStore();
  const full = runTxn(store, ops(128));
  t.same(full.errors, []);
  t.equal(store.kv.size, 128, '128 ops are fine');

  const fresh = new StateStore();
  const r = apply(fresh, txn(ops(129)));
  t.equal(r.ok, false);
  if (!r.ok) t.equal(r.error.code, 'ERR_TXN_TOO_MANY');
  t.equal(fresh.kv.size, 0, '129 are refused whole');
});
