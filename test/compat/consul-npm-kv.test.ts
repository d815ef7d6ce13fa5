// The `consul` npm client (v2), unchanged, against a running Muster agent:
// the KV, session, lock, txn and watch calls an application makes.
import t from 'tap';
import Consul from 'consul';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

interface KvEntry { Key: string; Value: string | null; Flags: number; LockIndex: number; Session?: string; CreateIndex: number; ModifyIndex: number }
interface SessionEntry { ID: string; Name: string; Node: string; TTL: string; Behavior: string; LockDelay: number }
interface TxnResult { Results: Array<{ KV: KvEntry }> | null; Errors: Array<{ OpIndex: number; What: string }> | null }

const b64 = (s: string) => Buffer.from(s).toString('base64');

// kv.set resolves with the parsed body, except that node-consul's request
// pipeline turns a falsy body into undefined: a refused write (`false` on the
// wire) arrives as undefined, so refusals are asserted with notOk plus the
// state they left.

t.test('consul npm client: kv, sessions, locks, txn and a watch', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const consul = new Consul({ host: '127.0.0.1', port: agent.port });
  const root = `compat-${randomBytes(4).toString('hex')}`;

  t.test('kv.set / get / keys / del', async (t) => {
    t.equal(await consul.kv.set(`${root}/kv/a`, 'alpha'), true, 'set answers true');
    t.equal(await consul.kv.set({ key: `${root}/kv/b/c`, value: 'gamma', flags: 42 }), true);
    t.equal(await consul.kv.set(`${root}/kv/empty`, ''), true);

    const a = (await consul.kv.get(`${root}/kv/a`)) as KvEntry;
    t.match(a, { Key: `${root}/kv/a`, Value: 'alpha', Flags: 0, LockIndex: 0 }, 'get decodes the base64 Value');
    t.notOk('Session' in a, 'no Session on an unlocked key');
    t.match(await consul.kv.get(`${root}/kv/b/c`), { Value: 'gamma', Flags: 42 });
    t.equal(await consul.kv.get(`${root}/kv/missing`), undefined, 'a missing key is undefined, not an error');

    const all = (await consul.kv.get({ key: `${root}/kv/`, recurse: true })) as KvEntry[];
    t.same(all.map((e) => e.Key), [`${root}/kv/a`, `${root}/kv/b/c`, `${root}/kv/empty`], 'recurse lists ascending');
    t.same(await consul.kv.keys(`${root}/kv/`), [`${root}/kv/a`, `${root}/kv/b/c`, `${root}/kv/empty`]);
    t.same(await consul.kv.keys({ key: `${root}/kv/`, separator: '/' }), [`${root}/kv/a`, `${root}/kv/b/`, `${root}/kv/empty`]);

    const stale = a.ModifyIndex;
    await consul.kv.set(`${root}/kv/a`, 'alpha2');
    t.notOk(await consul.kv.set({ key: `${root}/kv/a`, value: 'lost', cas: stale }), 'cas with a stale index is refused');
    t.equal(await consul.kv.set({ key: `${root}/kv/new`, value: 'n', cas: 0 }), true, 'cas 0 creates');
    t.notOk(await consul.kv.set({ key: `${root}/kv/new`, value: 'n2', cas: 0 }), 'cas 0 does not overwrite');
    t.match(await consul.kv.get(`${root}/kv/a`), { Value: 'alpha2' }, 'the stale cas wrote nothing');
    t.match(await consul.kv.get(`${root}/kv/new`), { Value: 'n' }, 'nor the second cas 0');

    await consul.kv.del(`${root}/kv/a`);
    t.equal(await consul.kv.get(`${root}/kv/a`), undefined, 'del removes one key');
    await consul.kv.del({ key: `${root}/kv/`, recurse: true });
    t.equal(await consul.kv.get({ key: `${root}/kv/`, recurse: true }), undefined, 'del recurse removes the prefix');
  });

  t.test('session.create / info / node / list / renew / destroy', async (t) => {
    const { ID: id } = (await consul.session.create({ name: `${root}-s`, ttl: '30s', lockdelay: '1s' })) as { ID: string };
    t.match(id, /^[0-9a-f-]{36}$/);
    const info = (await consul.session.info(id)) as SessionEntry;
    t.match(info, { ID: id, Name: `${root}-s`, Node: agent.node, TTL: '30s', Behavior: 'release', LockDelay: 1_000_000_000 });
    t.ok(((await consul.session.node(agent.node)) as SessionEntry[]).some((s) => s.ID === id), 'session.node lists it');
    t.ok(((await consul.session.list()) as SessionEntry[]).some((s) => s.ID === id), 'session.list lists it');
    const renewed = (await consul.session.renew(id)) as SessionEntry[];
    t.equal(renewed.length, 1, 'renew answers an array');
    t.equal(renewed[0]?.ID, id);
    await consul.session.destroy(id);
    t.equal(await consul.session.info(id), undefined, 'info of a destroyed session is undefined');
    await t.rejects(consul.session.renew(id), { statusCode: 404, message: new RegExp(`Session id '${id}' not found`) }, 'renew of a destroyed session is a 404 error');
  });

  t.test('kv.set with acquire and release', async (t) => {
    const { ID: s1 } = (await consul.session.create({ name: 'holder', lockdelay: '1s' })) as { ID: string };
    const { ID: s2 } = (await consul.session.create({ name: 'contender' })) as { ID: string };
    const key = `${root}/lock`;
    t.equal(await consul.kv.set({ key, value: 'held by s1', acquire: s1 }), true, 'acquire');
    t.match(await consul.kv.get(key), { Session: s1, LockIndex: 1, Value: 'held by s1' });
    t.notOk(await consul.kv.set({ key, value: 'mine now', acquire: s2 }), 'a second session is refused');
    t.notOk(await consul.kv.set({ key, value: 'not yours', release: s2 }), 'a non-holder cannot release');
    t.match(await consul.kv.get(key), { Session: s1, Value: 'held by s1' }, 'still held by s1, value unchanged');
    t.equal(await consul.kv.set({ key, value: 'released', release: s1 }), true, 'release');
    const released = (await consul.kv.get(key)) as KvEntry;
    t.notOk('Session' in released, 'no Session after release');
    t.match(released, { LockIndex: 1, Value: 'released' });
    t.equal(await consul.kv.set({ key, value: 's2', acquire: s2 }), true, 'the other session takes it at once (no lock-delay after a release)');
    t.match(await consul.kv.get(key), { Session: s2, LockIndex: 2 });
    await t.rejects(
      consul.kv.set({ key, value: 'x', acquire: 'adf4238a-882b-9ddc-4a9d-5b6758e4159e' }),
      { statusCode: 500, message: /invalid session "adf4238a-882b-9ddc-4a9d-5b6758e4159e"/ },
      'an unknown session is a 500 with Consul\'s text',
    );
    await consul.session.destroy(s2);
    t.notOk('Session' in ((await consul.kv.get(key)) as KvEntry), 'destroying the holder frees the key');
    await consul.session.destroy(s1);
  });

  t.test('transaction.create', async (t) => {
    const ok = (await consul.transaction.create([
      { KV: { Verb: 'set', Key: `${root}/txn/a`, Value: b64('A') } },
      { KV: { Verb: 'set', Key: `${root}/txn/b`, Value: b64('B') } },
      { KV: { Verb: 'get-tree', Key: `${root}/txn/` } },
    ] as never)) as TxnResult;
    t.equal(ok.Errors, null);
    t.same(ok.Results?.map((r) => [r.KV.Key, r.KV.Value]), [
      [`${root}/txn/a`, null], [`${root}/txn/b`, null], [`${root}/txn/a`, b64('A')], [`${root}/txn/b`, b64('B')],
    ], 'writes without a Value, the tree read with values');
    t.match(await consul.kv.get(`${root}/txn/b`), { Value: 'B' });

    await t.rejects(consul.transaction.create([
      { KV: { Verb: 'delete', Key: `${root}/txn/a` } },
      { KV: { Verb: 'check-not-exists', Key: `${root}/txn/b` } },
    ] as never), { statusCode: 409, message: /conflict/i }, 'a failed check is a 409');
    t.match(await consul.kv.get(`${root}/txn/a`), { Value: 'A' }, 'and the delete before it was rolled back');
  });

  t.test('watch on kv.get sees the key appear and change', async (t) => {
    const key = `${root}/watched`;
    const seen: Array<string | undefined> = [];
    const errors: unknown[] = [];
    const watch = consul.watch({ method: consul.kv.get, options: { key, wait: '5s' } });
    t.teardown(() => watch.end());
    watch.on('change', (data: KvEntry | undefined) => { seen.push(data?.Value ?? undefined); });
    watch.on('error', (err: unknown) => { errors.push(err); });

    await waitFor(() => seen.length >= 1, { timeoutMs: 10_000, message: 'the first watch answer (a 404 with X-Consul-Index)' });
    t.same(seen, [undefined], 'the missing key is seen as undefined');
    await consul.kv.set(key, 'v1');
    await waitFor(() => seen.includes('v1'), { timeoutMs: 10_000, message: 'the watch to see v1' });
    await consul.kv.set(key, 'v2');
    await waitFor(() => seen.includes('v2'), { timeoutMs: 10_000, message: 'the watch to see v2' });
    t.same(seen, [undefined, 'v1', 'v2'], 'one change per write, in order');
    t.same(errors, [], 'no watch errors ("Watch not supported" would mean a missing X-Consul-Index)');
    t.ok(watch.isRunning(), 'still running');
  });
});
