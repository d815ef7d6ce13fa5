import t from 'tap';
import { parseJsonExactIntegers } from '../../src/http/kv-wire.js';
import { startApi } from '../helpers/in-process.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface TxnKv { LockIndex: number; Key: string; Flags: number; Value: string | null; Session?: string; CreateIndex: number; ModifyIndex: number }
interface TxnBody { Results: Array<{ KV: TxnKv }> | null; Errors: Array<{ OpIndex: number; What: string }> | null }

t.test('a successful txn: 200 with Results, Errors null; writes report Value null', async (t) => {
  const api = await startApi(t);
  await api.call('PUT', '/v1/kv/existing', 'old');
  const r = await api.call('PUT', '/v1/txn', [
    { KV: { Verb: 'set', Key: 'a', Value: b64('A'), Flags: 7 } },
    { KV: { Verb: 'get', Key: 'existing' } },
    { KV: { Verb: 'delete', Key: 'gone' } },
  ]);
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/json/);
  const body = r.json() as TxnBody;
  t.equal(body.Errors, null);
  t.equal(body.Results?.length, 2, 'set and get report an entry; delete does not');
  t.match(body.Results?.[0], { KV: { Key: 'a', Flags: 7, Value: null } }, 'a write: Value null');
  t.match(body.Results?.[1], { KV: { Key: 'existing', Value: b64('old') } }, 'a read: Value present');
  t.same(Object.keys(body), ['Results', 'Errors']);
  t.equal((await api.call('GET', '/v1/kv/a?raw')).text, 'A', 'the write is visible');
});

t.test('uint64 Flags in and out of a txn, exactly', async (t) => {
  const api = await startApi(t);
  // JSON.stringify cannot write this number; the body is written by hand, as a Go client would
  const r = await api.call('PUT', '/v1/txn', '[{"KV":{"Verb":"set","Key":"lock","Flags":16209093007834647008}},{"KV":{"Verb":"get","Key":"lock"}}]');
  t.equal(r.status, 200, r.text);
  t.equal(r.text.split('"Flags":16209093007834647008,').length, 3, 'both results carry the exact flag');
  t.ok((await api.call('GET', '/v1/kv/lock')).text.includes('"Flags":16209093007834647008,'));
});

t.test('parseJsonExactIntegers keeps integers beyond 2^53 as their digits', async (t) => {
  const ok: Array<[string, unknown]> = [
    ['[1,2,-3]', [1, 2, -3]],
    ['{"Flags":16209093007834647008}', { Flags: '16209093007834647008' }],
    ['{"Flags":18446744073709551615,"Index":5}', { Flags: '18446744073709551615', Index: 5 }],
    ['{"Flags":9007199254740991}', { Flags: 9007199254740991 }],
    ['{"Flags":9007199254740993}', { Flags: '9007199254740993' }],
    ['{"Flags":-16209093007834647008}', { Flags: '-16209093007834647008' }],
    ['{"Key":"16209093007834647008"}', { Key: '16209093007834647008' }],
    // a string holding a quote and ending in a backslash: the number after it is outside any string
    [`{"Key":${JSON.stringify('a"16209093007834647008\\')},"F":16209093007834647008}`, { Key: 'a"16209093007834647008\\', F: '16209093007834647008' }],
    ['{"x":1.5e300,"y":16209093007834647008.5,"z":0}', { x: 1.5e300, y: 16209093007834647008.5, z: 0 }],
    [' [ {"KV" : {"Flags" : 16209093007834647008 } } ] ', [{ KV: { Flags: '16209093007834647008' } }]],
  ];
  for (const [text, want] of ok) t.same(parseJsonExactIntegers(text), want, text);
  for (const bad of ['[-]', '[012345678901234567890]', '{"a":1', '[1,]', '']) {
    t.throws(() => parseJsonExactIntegers(bad), SyntaxError, `${JSON.stringify(bad)} is still malformed`);
  }
});

t.test('a rolled-back txn: 409 with Results null and each error\'s OpIndex and What', async (t) => {
  const api = await startApi(t);
  await api.call('PUT', '/v1/kv/present', 'p');
  const index = (await api.call('GET', '/v1/kv/present')).headers.get('x-consul-index');
  const r = await api.call('PUT', '/v1/txn', [
    { KV: { Verb: 'set', Key: 'new', Value: b64('n') } },
    { KV: { Verb: 'delete', Key: 'present' } },
    { KV: { Verb: 'check-not-exists', Key: 'new' } },
    { KV: { Verb: 'get', Key: 'absent' } },
  ]);
  t.equal(r.status, 409);
  t.equal(r.text, '{"Results":null,"Errors":[{"OpIndex":2,"What":"key \\"new\\" exists"},{"OpIndex":3,"What":"key \\"absent\\" doesn\'t exist"}]}');
  t.equal((await api.call('GET', '/v1/kv/new')).status, 404, 'the set was rolled back');
  const present = await api.call('GET', '/v1/kv/present');
  t.equal(present.status, 200, 'the delete was rolled back');
  t.equal(present.headers.get('x-consul-index'), index, 'and its index did not move');
});

t.test('lock ops through txn', async (t) => {
  const api = await startApi(t);
  const sid = ((await api.call('PUT', '/v1/session/create')).json() as { ID: string }).ID;
  const lock = await api.call('PUT', '/v1/txn', [{ KV: { Verb: 'lock', Key: 'l', Value: b64('v'), Session: sid } }]);
  t.equal(lock.status, 200);
  t.match((lock.json() as TxnBody).Results?.[0], { KV: { Key: 'l', Session: sid, LockIndex: 1 } });
  const check = await api.call('PUT', '/v1/txn', [{ KV: { Verb: 'check-session', Key: 'l', Session: sid } }, { KV: { Verb: 'get', Key: 'l' } }]);
  t.equal(check.status, 200);
  t.match((check.json() as TxnBody).Results, [{ KV: { Key: 'l', Session: sid, Value: null } }, { KV: { Key: 'l', Value: b64('v') } }],
    'a check reports the entry without its value, as Consul; a get with it');
  const other = await api.call('PUT', '/v1/txn', [{ KV: { Verb: 'lock', Key: 'l', Session: 'nope' } }]);
  t.equal(other.status, 409);
  t.same((other.json() as TxnBody).Errors, [{ OpIndex: 0, What: 'invalid session "nope"' }]);
});

t.test('bad requests', async (t) => {
  const cases: Array<{ name: string; body: unknown; status: number; text?: RegExp }> = [
    { name: 'a body that is not an array', body: { KV: { Verb: 'get', Key: 'k' } }, status: 400, text: /^Request decode failed/ },
    { name: 'malformed JSON', body: '[{"KV":', status: 400, text: /^Request decode failed/ },
    { name: 'a non-KV op', body: [{ Node: { Verb: 'get', Node: { Node: 'n1' } } }], status: 400 },
    { name: 'an unknown verb', body: [{ KV: { Verb: 'explode', Key: 'k' } }], status: 400 },
    { name: 'a Value that is not base64', body: [{ KV: { Verb: 'set', Key: 'k', Value: 'not base64!' } }], status: 400 },
    { name: 'a Value with a bad length', body: [{ KV: { Verb: 'set', Key: 'k', Value: 'abcde' } }], status: 400 },
    { name: 'negative Flags', body: [{ KV: { Verb: 'set', Key: 'k', Flags: -1 } }], status: 400 },
    { name: 'a fractional Index', body: [{ KV: { Verb: 'cas', Key: 'k', Index: 1.5 } }], status: 400 },
    { name: '129 ops', body: Array.from({ length: 129 }, (_, i) => ({ KV: { Verb: 'set', Key: `k${i}` } })), status: 413 },
  ];
  for (const c of cases) {
    t.test(`${c.status}: ${c.name}`, async (t) => {
      const api = await startApi(t);
      const before = api.agent.store!.index;
      const r = await api.call('PUT', '/v1/txn', c.body);
      t.equal(r.status, c.status, r.text);
      if (c.text) t.match(r.text, c.text);
      t.ok(r.text.length > 0, 'a message says why');
      t.equal(api.agent.store!.index, before, 'nothing was written');
    });
  }

  t.test('128 ops are fine', async (t) => {
    const api = await startApi(t);
    const r = await api.call('PUT', '/v1/txn', Array.from({ length: 128 }, (_, i) => ({ KV: { Verb: 'set', Key: `k${i}` } })));
    t.equal(r.status, 200);
    t.equal((r.json() as TxnBody).Results?.length, 128);
  });
});
