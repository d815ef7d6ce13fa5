// The client's KV calls against a real agent: values as bytes, uint64 flags exactly.
import t from 'tap';
import { startAgent } from '../helpers/agent.js';
import { MusterClient, LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE, MusterError, parseJsonExact } from '../../src/client/index.js';

const MAX_UINT64 = (1n << 64n) - 1n;

t.test('parseJsonExact keeps uint64 fields exact and leaves strings alone', async (t) => {
  const text = '[{"Key":"a\\"Flags\\":1","Flags":16209093007834647008,"Value":"eA=="},{"Key":"b","Flags" : 3304740253564472344,"N":3304740253564472344}]';
  const parsed = parseJsonExact(text, new Set(['Flags'])) as Array<Record<string, unknown>>;
  t.equal(parsed[0]?.Key, 'a"Flags":1', 'the key text is untouched');
  t.equal(parsed[0]?.Flags, '16209093007834647008');
  t.equal(parsed[1]?.Flags, '3304740253564472344', 'whitespace around the colon');
  t.type(parsed[1]?.N, 'number', 'other fields are plain numbers');
  t.throws(() => parseJsonExact('[{', new Set(['Flags'])), { code: 'ERR_DECODE' });
});

t.test('kv against an agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const client = new MusterClient({ address: agent.url });

  t.test('address forms and the environment', async (t) => {
    t.equal(new MusterClient({ address: `127.0.0.1:${agent.port}` }).address, agent.url, 'host:port');
    t.equal(new MusterClient({ env: { MUSTER_HTTP_ADDR: `http://127.0.0.1:${agent.port}`, CONSUL_HTTP_ADDR: '10.0.0.1:1' } }).address, agent.url, 'MUSTER_HTTP_ADDR first');
    t.equal(new MusterClient({ env: { CONSUL_HTTP_ADDR: `127.0.0.1:${agent.port}` } }).address, agent.url, 'then CONSUL_HTTP_ADDR');
    t.equal(new MusterClient({ env: {} }).address, 'http://127.0.0.1:8500', 'then the default');
    const viaEnv = new MusterClient({ env: { CONSUL_HTTP_ADDR: `127.0.0.1:${agent.port}` } });
    t.equal(await viaEnv.kv.get('nothing-here'), undefined, 'reaches the agent');
  });

  t.test('round trip of a string value', async (t) => {
    t.equal(await client.kv.put('rt/plain', 'hello'), true);
    const pair = await client.kv.get('rt/plain');
    t.ok(pair, 'found');
    t.equal(pair?.value.toString(), 'hello');
    t.equal(pair?.flags, 0n);
    t.equal(pair?.session, undefined, 'no session');
    t.ok((pair?.createIndex ?? 0) > 0 && pair?.createIndex === pair?.modifyIndex, 'indexes set');
    t.equal(await client.kv.get('rt/missing'), undefined, 'a missing key is undefined, not an error');
  });

  t.test('the lock and semaphore flags survive exactly', async (t) => {
    for (const [key, flags] of [['rt/lockflag', LOCK_FLAG_VALUE], ['rt/semflag', SEMAPHORE_FLAG_VALUE], ['rt/max', MAX_UINT64]] as const) {
      t.equal(await client.kv.put(key, 'x', { flags }), true);
      t.equal((await client.kv.get(key))?.flags, flags, `${key}: ${flags}`);
      const listed = (await client.kv.list('rt/')).find((p) => p.key === key);
      t.equal(listed?.flags, flags, `${key} in a recursive listing`);
    }
    t.equal(LOCK_FLAG_VALUE, 3304740253564472344n);
    t.equal(SEMAPHORE_FLAG_VALUE, 16209093007834647008n);
    const raw = await (await fetch(`${agent.url}/v1/kv/rt/semflag`)).text();
    t.match(raw, /"Flags":16209093007834647008[,}]/, 'the wire carries the digits');
    await t.rejects(client.kv.put('rt/x', 'x', { flags: MAX_UINT64 + 1n }), { code: 'ERR_BAD_REQUEST' }, 'above uint64');
    await t.rejects(client.kv.put('rt/x', 'x', { flags: -1 }), { code: 'ERR_BAD_REQUEST' }, 'negative');
  });

  t.test('binary and empty values', async (t) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await client.kv.put('bin/all-bytes', bytes);
    t.same((await client.kv.get('bin/all-bytes'))?.value, bytes, 'every byte value comes back');
    await client.kv.put('bin/empty');
    const empty = await client.kv.get('bin/empty');
    t.ok(empty, 'an empty key exists');
    t.equal(empty?.value.length, 0, 'its value is empty');
    await client.kv.put('bin/utf8', 'żółć ✓');
    t.equal((await client.kv.get('bin/utf8'))?.value.toString('utf8'), 'żółć ✓');
    await client.kv.put('bin/odd key?#%', 'v');
    t.equal((await client.kv.get('bin/odd key?#%'))?.value.toString(), 'v', 'keys are URL-encoded');
  });

  t.test('list and keys', async (t) => {
    for (const k of ['ls/a', 'ls/b', 'ls/sub/c', 'ls/sub/d', 'lsx']) await client.kv.put(k, k);
    t.same((await client.kv.list('ls/')).map((p) => p.key), ['ls/a', 'ls/b', 'ls/sub/c', 'ls/sub/d'], 'recursive list, sorted');
    t.same(await client.kv.keys('ls/'), ['ls/a', 'ls/b', 'ls/sub/c', 'ls/sub/d'], 'keys');
    t.same(await client.kv.keys('ls/', { separator: '/' }), ['ls/a', 'ls/b', 'ls/sub/'], 'keys up to the separator');
    t.same(await client.kv.list('nothing/'), [], 'an empty prefix lists []');
    t.same(await client.kv.keys('nothing/'), []);
    const { meta } = await client.kv.listWithMeta('nothing/');
    t.ok(meta.index > 0, 'a 404 listing still has an index');
  });

  t.test('check-and-set', async (t) => {
    t.equal(await client.kv.put('cas/k', 'one', { cas: 0 }), true, 'cas=0 creates');
    t.equal(await client.kv.put('cas/k', 'two', { cas: 0 }), false, 'cas=0 does not overwrite');
    const pair = await client.kv.get('cas/k');
    t.equal(await client.kv.put('cas/k', 'three', { cas: (pair?.modifyIndex ?? 0) + 1000 }), false, 'a wrong index fails');
    t.equal(await client.kv.put('cas/k', 'three', { cas: pair?.modifyIndex ?? 0 }), true, 'the current index succeeds');
    t.equal((await client.kv.get('cas/k'))?.value.toString(), 'three');
    await t.rejects(client.kv.put('cas/k', 'x', { cas: 1, acquire: 's' }), { code: 'ERR_CONFLICTING_FLAGS' });
    const now = await client.kv.get('cas/k');
    t.equal(await client.kv.delete('cas/k', { cas: (now?.modifyIndex ?? 0) + 1 }), false, 'delete with a stale index fails');
    t.equal(await client.kv.delete('cas/k', { cas: now?.modifyIndex ?? 0 }), true, 'delete with the index succeeds');
    t.equal(await client.kv.get('cas/k'), undefined);
  });

  t.test('acquire and release with a session', async (t) => {
    const a = await client.session.create({ name: 'kv-test-a', lockDelay: '0s' });
    const b = await client.session.create({ name: 'kv-test-b' });
    t.equal(await client.kv.put('locks/k', 'mine', { acquire: a, flags: LOCK_FLAG_VALUE }), true, 'a acquires');
    t.equal(await client.kv.put('locks/k', 'theirs', { acquire: b }), false, 'b cannot');
    const held = await client.kv.get('locks/k');
    t.equal(held?.session, a);
    t.equal(held?.lockIndex, 1);
    t.equal(held?.flags, LOCK_FLAG_VALUE);
    t.equal(await client.kv.put('locks/k', 'x', { release: b }), false, 'b cannot release a\'s lock');
    t.equal(await client.kv.put('locks/k', 'released', { release: a, flags: LOCK_FLAG_VALUE }), true, 'a releases');
    const free = await client.kv.get('locks/k');
    t.equal(free?.session, undefined, 'no session after release');
    t.equal(free?.value.toString(), 'released', 'release writes its value');
    const err = await client.kv.put('locks/k', 'x', { acquire: 'not-a-session' }).catch((e: unknown) => e);
    t.ok(err instanceof MusterError, 'unknown session: an error');
    t.match(err, { code: 'ERR_API', status: 500 }, 'unknown session: 500, as Consul');
    const info = await client.session.info(a);
    t.equal(info?.name, 'kv-test-a');
    t.equal(info?.lockDelayMs, 0);
    t.ok((await client.session.list()).some((s) => s.id === b), 'listed');
    t.ok((await client.session.node(agent.node)).some((s) => s.id === b), 'listed by node');
    t.equal((await client.session.renew(b))?.id, b, 'renew returns the session');
    await client.session.destroy(a);
    await client.session.destroy(b);
    t.equal(await client.session.info(a), undefined, 'gone after destroy');
    t.equal(await client.session.renew(a), undefined, 'renewing a destroyed session: undefined (404)');
  });

  t.test('delete and recursive delete', async (t) => {
    for (const k of ['del/a', 'del/b/c', 'delx']) await client.kv.put(k, '1');
    t.equal(await client.kv.delete('del/a'), true);
    t.equal(await client.kv.delete('del/a'), true, 'deleting a missing key is fine');
    t.equal(await client.kv.delete('del/', { recurse: true }), true);
    t.same(await client.kv.keys('del'), ['delx'], 'only the other prefix is left');
  });

  t.test('transactions keep flags exact', async (t) => {
    const ok = await client.kv.txn([
      { verb: 'set', key: 'txn/a', value: 'A', flags: SEMAPHORE_FLAG_VALUE },
      { verb: 'get', key: 'txn/a' },
    ]);
    t.equal(ok.ok, true);
    if (ok.ok) {
      t.equal(ok.results[1]?.flags, SEMAPHORE_FLAG_VALUE, 'the read in the txn');
      t.equal(ok.results[1]?.value.toString(), 'A');
    }
    const failed = await client.kv.txn([{ verb: 'cas', key: 'txn/a', value: 'B', index: 1 }]);
    t.equal(failed.ok, false, 'a failed cas rolls back');
    if (!failed.ok) t.equal(failed.errors[0]?.opIndex, 0);
    t.equal((await client.kv.get('txn/a'))?.value.toString(), 'A', 'unchanged');
  });

  t.test('errors', async (t) => {
    await t.rejects(client.kv.put('', 'x'), { code: 'ERR_API', status: 400 }, 'empty key: 400 as Consul');
    const down = new MusterClient({ address: '127.0.0.1:1', timeoutMs: 2000 });
    await t.rejects(down.kv.get('x'), { code: 'ERR_UNREACHABLE' }, 'nobody listening');
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    await t.rejects(client.kv.get('x', { signal: ac.signal }), { message: 'stop now' }, 'an aborted signal rejects with its reason');
  });
});
