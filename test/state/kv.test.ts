import t from 'tap';
import { StateStore, type ApplyResult } from '../../src/state/store.js';
import type { Command, KvCommand, KvWriteVerb, RegisterCommand } from '../../src/state/commands.js';

// ---- builders: the smallest commands that say what a scenario needs ----

interface KvArgs {
  /** Plain text; the builder base64-encodes it as the command carries it. */
  value?: string;
  flags?: string;
  index?: number;
  session?: string;
  at?: number;
}

function kv(verb: KvWriteVerb, key: string, args: KvArgs = {}): Command {
  const cmd: KvCommand & { at?: number } = { type: 'kv', verb, key };
  if (args.value !== undefined) cmd.value = Buffer.from(args.value).toString('base64');
  if (args.flags !== undefined) cmd.flags = args.flags;
  if (args.index !== undefined) cmd.index = args.index;
  if (args.session !== undefined) cmd.session = args.session;
  if (args.at !== undefined) cmd.at = args.at;
  return cmd;
}

/** Node n1 with a passing serfHealth: what a session needs to be created. */
function nodeWithSerfHealth(): RegisterCommand {
  return {
    type: 'register', node: 'n1', id: 'id-n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {},
    nodeMeta: {}, skipNodeUpdate: false,
    checks: [{ checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', notes: '', output: '', serviceId: '', type: '', definition: {} }],
  };
}

function createSession(id: string): Command {
  return {
    type: 'session-create',
    session: { id, name: '', node: 'n1', nodeChecks: ['serfHealth'], serviceChecks: [], lockDelayMs: 15_000, behavior: 'release', ttl: '' },
  };
}

function apply(store: StateStore, cmd: Command): ApplyResult {
  return store.apply(store.index + 1, cmd);
}

/** Applies at the next index; fails loudly if the state machine rejected it. Returns the index and the result value. */
function applyOk(store: StateStore, cmd: Command): { index: number; value: unknown } {
  const r = apply(store, cmd);
  if (!r.ok) throw r.error;
  return { index: r.index, value: r.value };
}

/** A store with node n1 and sessions s1 and s2 on it. */
function storeWithSessions(): StateStore {
  const store = new StateStore();
  applyOk(store, nodeWithSerfHealth());
  applyOk(store, createSession('s1'));
  applyOk(store, createSession('s2'));
  return store;
}

function text(store: StateStore, key: string): string | undefined {
  return store.kv.get(key)?.value.toString();
}

function dumpText(store: StateStore): string {
  return JSON.stringify(store.kv.dump(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

t.test('set and get', async (t) => {
  t.test('a new key has CreateIndex = ModifyIndex = the command index, LockIndex 0, no session', async (t) => {
    const store = new StateStore();
    const { index, value } = applyOk(store, kv('set', 'app/config', { value: 'hello', flags: '42' }));
    t.equal(value, true);
    t.match(store.kv.get('app/config'), { key: 'app/config', flags: 42n, lockIndex: 0, session: '', createIndex: index, modifyIndex: index });
    t.equal(text(store, 'app/config'), 'hello');
    t.equal(store.kv.index, index, 'the table index moved');
  });

  t.test('an overwrite moves ModifyIndex and keeps CreateIndex; value and flags are replaced', async (t) => {
    const store = new StateStore();
    const first = applyOk(store, kv('set', 'k', { value: 'one', flags: '7' })).index;
    const second = applyOk(store, kv('set', 'k', { value: 'two' })).index;
    t.match(store.kv.get('k'), { flags: 0n, createIndex: first, modifyIndex: second });
    t.equal(text(store, 'k'), 'two');
  });

  t.test('an empty value is stored as zero bytes', async (t) => {
    const store = new StateStore();
    applyOk(store, kv('set', 'empty'));
    t.equal(store.kv.get('empty')?.value.length, 0);
  });

  t.test('a missing key reads as undefined and its index is the table index', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, kv('set', 'other')).index;
    t.equal(store.kv.get('missing'), undefined);
    t.equal(store.kv.keyIndex('missing'), idx);
    t.equal(store.kv.keyIndex('other'), idx);
  });
});

t.test('list is a plain string prefix match, ascending', async (t) => {
  const store = new StateStore();
  for (const k of ['web/b', 'webby', 'web/a', 'db/x', 'web/a/deep']) applyOk(store, kv('set', k));
  t.same(store.kv.list('web').map((e) => e.key), ['web/a', 'web/a/deep', 'web/b', 'webby']);
  t.same(store.kv.list('web/').map((e) => e.key), ['web/a', 'web/a/deep', 'web/b']);
  t.same(store.kv.list('').map((e) => e.key), ['db/x', 'web/a', 'web/a/deep', 'web/b', 'webby']);
  t.same(store.kv.list('nope'), []);
});

t.test('keys with a separator: cut after the first separator past the prefix, names keep it, deduplicated', async (t) => {
  const store = new StateStore();
  for (const k of ['web/bar', 'web/foo', 'web/subdir/a', 'web/subdir/b', 'web/subdir/c/d', 'web2/x', 'other', 'a::b::c', 'a::b::d', 'a::e']) {
    applyOk(store, kv('set', k));
  }
  const cases: Array<{ prefix: string; sep: string; want: string[] }> = [
    { prefix: 'web/', sep: '/', want: ['web/bar', 'web/foo', 'web/subdir/'] },
    { prefix: 'web/subdir/', sep: '/', want: ['web/subdir/a', 'web/subdir/b', 'web/subdir/c/'] },
    { prefix: '', sep: '/', want: ['a::b::c', 'a::b::d', 'a::e', 'other', 'web/', 'web2/'] },
    { prefix: 'web', sep: '/', want: ['web/', 'web2/'] },
    { prefix: 'web/s', sep: '/', want: ['web/subdir/'] },
    { prefix: 'web/', sep: '', want: ['web/bar', 'web/foo', 'web/subdir/a', 'web/subdir/b', 'web/subdir/c/d'] },
    { prefix: 'a', sep: '::', want: ['a::'] },
    { prefix: 'a::', sep: '::', want: ['a::b::', 'a::e'] },
    { prefix: 'nope/', sep: '/', want: [] },
  ];
  for (const c of cases) {
    t.same(store.kv.keys(c.prefix, c.sep), c.want, `prefix ${JSON.stringify(c.prefix)} separator ${JSON.stringify(c.sep)}`);
  }
});

t.test('indexes', async (t) => {
  t.test('the table index moves on deletes, not on deleting a missing key', async (t) => {
    const store = new StateStore();
    applyOk(store, kv('set', 'a'));
    const setB = applyOk(store, kv('set', 'b')).index;
    t.equal(store.kv.index, setB);
    const del = applyOk(store, kv('delete', 'a')).index;
    t.equal(store.kv.index, del, 'a delete moves the table index');
    t.equal(store.kv.keyIndex('a'), del, 'a deleted key reports the table index');
    applyOk(store, kv('delete', 'never-was'));
    t.equal(store.kv.index, del, 'deleting a missing key changes nothing');
  });

  t.test('prefixIndex is the highest ModifyIndex under the prefix, tombstones of deleted keys included', async (t) => {
    const store = new StateStore();
    applyOk(store, kv('set', 'web/a'));
    const webB = applyOk(store, kv('set', 'web/b')).index;
    const other = applyOk(store, kv('set', 'other')).index;
    t.equal(store.kv.prefixIndex('web/'), webB, 'before any delete: web/b');
    t.equal(store.kv.prefixIndex('other'), other);

    const unrelated = applyOk(store, kv('set', 'zzz')).index;
    t.equal(store.kv.prefixIndex('web/'), webB, 'a write elsewhere does not move it');

    const delA = applyOk(store, kv('delete', 'web/a')).index;
    t.equal(store.kv.prefixIndex('web/'), delA, 'the tombstone of web/a counts');
    t.equal(store.kv.prefixIndex('zzz'), unrelated, 'other prefixes are not moved by the delete');

    const delB = applyOk(store, kv('delete', 'web/b')).index;
    t.same(store.kv.list('web/'), [], 'the prefix is empty');
    t.equal(store.kv.prefixIndex('web/'), delB, 'an emptied prefix still reports its last delete');
  });

  t.test('a re-created key drops its tombstone', async (t) => {
    const store = new StateStore();
    applyOk(store, kv('set', 'p/k'));
    applyOk(store, kv('delete', 'p/k'));
    t.equal(store.kv.dump().tombstones.length, 1);
    const again = applyOk(store, kv('set', 'p/k')).index;
    t.same(store.kv.dump().tombstones, []);
    t.equal(store.kv.prefixIndex('p/'), again);
  });

  t.test('a prefix that never had a key reports the table index', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, kv('set', 'a')).index;
    t.equal(store.kv.prefixIndex('nothing/'), idx);
  });
});

t.test('check-and-set', async (t) => {
  t.test('cas 0 creates a missing key only', async (t) => {
    const store = new StateStore();
    const created = applyOk(store, kv('cas', 'k', { value: 'first', index: 0 }));
    t.equal(created.value, true);
    t.equal(text(store, 'k'), 'first');
    const again = applyOk(store, kv('cas', 'k', { value: 'second', index: 0 }));
    t.equal(again.value, false, 'the key exists: refused');
    t.equal(text(store, 'k'), 'first');
    t.equal(store.kv.get('k')?.modifyIndex, created.index);
    t.equal(store.kv.index, created.index, 'a refused cas does not move the table index');
  });

  t.test('cas N writes only when ModifyIndex is N', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, kv('set', 'k', { value: 'v1' })).index;
    t.equal(applyOk(store, kv('cas', 'k', { value: 'stale', index: idx + 100 })).value, false);
    t.equal(text(store, 'k'), 'v1');
    const ok = applyOk(store, kv('cas', 'k', { value: 'v2', flags: '9', index: idx }));
    t.equal(ok.value, true);
    t.match(store.kv.get('k'), { flags: 9n, createIndex: idx, modifyIndex: ok.index });
    t.equal(text(store, 'k'), 'v2');
    t.equal(applyOk(store, kv('cas', 'k', { value: 'v3', index: idx })).value, false, 'the old index is now stale');
  });

  t.test('cas N on a missing key is refused', async (t) => {
    const store = new StateStore();
    t.equal(applyOk(store, kv('cas', 'k', { value: 'x', index: 5 })).value, false);
    t.equal(store.kv.get('k'), undefined);
  });
});

t.test('deletes', async (t) => {
  t.test('delete-cas: 0 never deletes, a stale index is refused, the current one deletes', async (t) => {
    const store = new StateStore();
    const idx = applyOk(store, kv('set', 'k')).index;
    t.equal(applyOk(store, kv('delete-cas', 'k', { index: 0 })).value, false, 'index 0');
    t.equal(applyOk(store, kv('delete-cas', 'k', { index: idx + 1 })).value, false, 'stale index');
    t.ok(store.kv.get('k'), 'still there');
    const del = applyOk(store, kv('delete-cas', 'k', { index: idx }));
    t.equal(del.value, true);
    t.equal(store.kv.get('k'), undefined);
    t.equal(store.kv.index, del.index);
    t.equal(applyOk(store, kv('delete-cas', 'k', { index: idx })).value, false, 'a missing key');
  });

  t.test('delete returns true whether or not the key existed', async (t) => {
    const store = new StateStore();
    applyOk(store, kv('set', 'k'));
    t.equal(applyOk(store, kv('delete', 'k')).value, true);
    t.equal(applyOk(store, kv('delete', 'k')).value, true);
    t.equal(store.kv.size, 0);
  });

  t.test('delete-tree removes every key with the prefix and tombstones them at one index', async (t) => {
    const store = new StateStore();
    for (const k of ['app/a', 'app/b/c', 'apple', 'other']) applyOk(store, kv('set', k));
    const del = applyOk(store, kv('delete-tree', 'app/'));
    t.equal(del.value, true);
    t.same(store.kv.list('').map((e) => e.key), ['apple', 'other']);
    t.same(store.kv.dump().tombstones, [['app/a', del.index], ['app/b/c', del.index]]);
    t.equal(store.kv.prefixIndex('app/'), del.index);
  });

  t.test('delete-tree with an empty prefix wipes everything', async (t) => {
    const store = new StateStore();
    for (const k of ['a', 'b', 'c/d']) applyOk(store, kv('set', k));
    applyOk(store, kv('delete-tree', ''));
    t.equal(store.kv.size, 0);
  });
});

t.test('locks', async (t) => {
  t.test('the first acquire creates the key with LockIndex 1 and the session', async (t) => {
    const store = storeWithSessions();
    const r = applyOk(store, kv('lock', 'lock/k', { value: 'holder-1', session: 's1' }));
    t.equal(r.value, true);
    t.match(store.kv.get('lock/k'), { lockIndex: 1, session: 's1', createIndex: r.index, modifyIndex: r.index });
    t.same(store.kv.heldBy('s1'), ['lock/k']);
  });

  t.test('re-acquire by the holder keeps LockIndex and takes the new value', async (t) => {
    const store = storeWithSessions();
    const first = applyOk(store, kv('lock', 'k', { value: 'v1', session: 's1' })).index;
    const again = applyOk(store, kv('lock', 'k', { value: 'v2', flags: '3', session: 's1' }));
    t.equal(again.value, true);
    t.match(store.kv.get('k'), { lockIndex: 1, session: 's1', flags: 3n, createIndex: first, modifyIndex: again.index });
    t.equal(text(store, 'k'), 'v2');
  });

  t.test('another session is refused and the key is untouched', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { value: 'mine', session: 's1' }));
    const before = dumpText(store);
    t.equal(applyOk(store, kv('lock', 'k', { value: 'theirs', session: 's2' })).value, false);
    t.equal(dumpText(store), before);
  });

  t.test('unlock by the holder clears Session, keeps LockIndex, and takes the new value and flags', async (t) => {
    const store = storeWithSessions();
    const created = applyOk(store, kv('lock', 'k', { value: 'locked', flags: '1', session: 's1' })).index;
    const r = applyOk(store, kv('unlock', 'k', { value: 'released', flags: '2', session: 's1' }));
    t.equal(r.value, true);
    t.match(store.kv.get('k'), { session: '', lockIndex: 1, flags: 2n, createIndex: created, modifyIndex: r.index });
    t.equal(text(store, 'k'), 'released');
    t.same(store.kv.heldBy('s1'), []);
  });

  t.test('unlock by a non-holder is refused', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { value: 'locked', session: 's1' }));
    const before = dumpText(store);
    t.equal(applyOk(store, kv('unlock', 'k', { value: 'x', session: 's2' })).value, false);
    t.equal(applyOk(store, kv('unlock', 'missing', { session: 's1' })).value, false, 'a missing key');
    t.equal(dumpText(store), before);
  });

  t.test('a new holder after a release gets LockIndex 2', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { session: 's1' }));
    applyOk(store, kv('unlock', 'k', { session: 's1' }));
    t.equal(applyOk(store, kv('lock', 'k', { session: 's2' })).value, true);
    t.match(store.kv.get('k'), { lockIndex: 2, session: 's2' });
  });

  t.test('acquire with an unknown session fails with ERR_INVALID_SESSION and changes nothing', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('set', 'k', { value: 'v' }));
    const before = dumpText(store);
    const r = apply(store, kv('lock', 'k', { value: 'x', session: 'nope' }));
    t.equal(r.ok, false);
    if (!r.ok) {
      t.equal(r.error.code, 'ERR_INVALID_SESSION');
      t.equal(r.error.message, 'invalid session "nope"');
    }
    t.equal(apply(store, kv('lock', 'fresh', { session: 'nope' })).ok, false, 'nor on a missing key');
    t.equal(dumpText(store), before, 'no row and no index changed');
  });

  t.test('acquire or release without a session fails with ERR_MISSING_SESSION', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { session: 's1' }));
    const before = dumpText(store);
    for (const verb of ['lock', 'unlock'] as const) {
      const r = apply(store, kv(verb, 'k', { session: '' }));
      t.equal(r.ok, false, verb);
      if (!r.ok) t.same([r.error.code, r.error.message], ['ERR_MISSING_SESSION', 'missing session'], verb);
    }
    t.equal(dumpText(store), before);
  });

  t.test('a plain set on a held key keeps the lock', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { value: 'locked', session: 's1' }));
    const r = applyOk(store, kv('set', 'k', { value: 'overwritten', flags: '5' }));
    t.match(store.kv.get('k'), { session: 's1', lockIndex: 1, flags: 5n, modifyIndex: r.index });
    t.equal(text(store, 'k'), 'overwritten');
    t.same(store.kv.heldBy('s1'), ['k']);
  });

  t.test('deleting a held key drops the lock', async (t) => {
    const store = storeWithSessions();
    applyOk(store, kv('lock', 'k', { session: 's1' }));
    applyOk(store, kv('delete', 'k'));
    t.same(store.kv.heldBy('s1'), []);
    t.equal(applyOk(store, kv('lock', 'k', { session: 's2' })).value, true);
    t.match(store.kv.get('k'), { lockIndex: 1, session: 's2' }, 'a re-created key starts its LockIndex again');
  });
});

t.test('uint64 flags round-trip exactly', async (t) => {
  const cases = [
    { name: 'Consul lock flag', flags: 3304740253564472344n },
    { name: 'Consul semaphore flag', flags: 16209093007834647008n },
    { name: 'max uint64', flags: 2n ** 64n - 1n },
    { name: 'zero', flags: 0n },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const store = storeWithSessions();
      applyOk(store, kv('set', 'set', { flags: c.flags.toString() }));
      applyOk(store, kv('lock', 'lock', { flags: c.flags.toString(), session: 's1' }));
      applyOk(store, kv('set', 'cas', { value: 'x' }));
      applyOk(store, kv('cas', 'cas', { flags: c.flags.toString(), index: store.kv.get('cas')?.modifyIndex ?? 0 }));
      for (const key of ['set', 'lock', 'cas']) {
        const got = store.kv.get(key)?.flags;
        t.equal(typeof got, 'bigint', `${key}: a bigint`);
        t.ok(got === c.flags, `${key}: ${String(got)} === ${c.flags}`);
      }
    });
  }
});
