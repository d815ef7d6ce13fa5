import t from 'tap';
import { decodeValue, encodeValue } from '../../src/state/codec.js';

t.test('values round-trip, with and without Buffers and bigints', async (t) => {
  const cases: unknown[] = [
    null, 0, 'text', [1, 'two', null], { type: 'kv', verb: 'set', key: 'a/b', value: 'eHh4', at: 1 },
    { value: Buffer.from([0, 1, 255]) }, { flags: 18446744073709551615n }, [{ deep: [{ deeper: Buffer.from('x') }] }],
    { s: 'a string that holds a marker: \u0000buf', t: '\u0000big' },
  ];
  for (const v of cases) t.same(decodeValue(encodeValue(v)), v, JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
  t.same(decodeValue(encodeValue(undefined)), null, 'undefined travels as null');
  const buf = decodeValue(encodeValue({ b: Buffer.from('hi') })) as { b: unknown };
  t.ok(Buffer.isBuffer(buf.b), 'a Buffer comes back a Buffer');
  t.equal(typeof (decodeValue(encodeValue({ n: 5n })) as { n: unknown }).n, 'bigint', 'a bigint comes back a bigint');
});

t.test('bad bytes are a clear error', async (t) => {
  t.throws(() => decodeValue(Buffer.from('{nope')), { code: 'ERR_INTERNAL', message: /undecodable replicated value/ });
});
