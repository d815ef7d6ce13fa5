import t from 'tap';
import {
  CodecError, decodeEntry, decodeHardState, decodeMessage, decodeSnapshotMeta,
  encodeEntry, encodeHardState, encodeMessage, encodeSnapshotMeta,
} from '../../src/raft/codec.js';
import { MESSAGE_TYPES, message, type Entry, type Message } from '../../src/raft/types.js';

/** mulberry32: a small seeded PRNG, so a failing fuzz case can be replayed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4_294_967_296) * n);
  };
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const MAX = Number.MAX_SAFE_INTEGER;

const entries: Entry[] = [
  { index: 1, term: 1, type: 'normal', data: bytes() },
  { index: 127, term: 128, type: 'conf', data: bytes(1, 2, 3) },
  { index: 2 ** 32, term: 2 ** 35 + 7, type: 'normal', data: new Uint8Array(300).fill(0xab) },
  { index: MAX, term: MAX, type: 'normal', data: bytes(0) },
];

const messages: Message[] = [
  ...MESSAGE_TYPES.map((type, i) => message(type, `n${i}`, 'node-b', i)),
  message('app', 'leader', 'f1', 7, { logTerm: 6, index: 41, commit: 40, entries, context: 'ctx' }),
  message('app-resp', 'f1', 'leader', 7, { reject: true, rejectHint: 2 ** 40, index: 41 }),
  message('vote', 'ünïcode ✓', '', 9, { logTerm: 8, index: MAX, context: 'transfer' }),
  message('snap', 'leader', 'f2', 3, {
    snapshot: { meta: { index: 100, term: 2, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } }, data: new Uint8Array(1000).fill(7) },
  }),
  message('snap', 'leader', 'f2', 3, { snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: bytes() } }),
];

t.test('round trips', async (t) => {
  t.test('entries', async (t) => {
    for (const e of entries) t.same(decodeEntry(encodeEntry(e)), e, `entry ${e.index}`);
  });
  t.test('hard state', async (t) => {
    for (const hs of [{ term: 0, vote: '', commit: 0 }, { term: MAX, vote: 'nöde-1', commit: 2 ** 50 }]) {
      t.same(decodeHardState(encodeHardState(hs)), hs);
    }
  });
  t.test('snapshot meta', async (t) => {
    const meta = { index: 5, term: 2, conf: { voters: ['a', 'bb'], learners: ['ccc'] } };
    t.same(decodeSnapshotMeta(encodeSnapshotMeta(meta)), meta);
  });
  t.test('messages, every type', async (t) => {
    for (const m of messages) {
      const got = decodeMessage(encodeMessage(m));
      t.same(got, m, m.type);
      t.equal('snapshot' in got, m.snapshot !== undefined, `${m.type}: snapshot present iff it was`);
    }
  });
  t.test('varints at every width boundary', async (t) => {
    for (let bits = 0; bits <= 53; bits++) {
      for (const v of [2 ** bits - 1, Math.min(2 ** bits, MAX)]) {
        t.equal(decodeEntry(encodeEntry({ index: v, term: 0, type: 'normal', data: bytes() })).index, v);
      }
    }
  });
  t.test('decoded bytes are copies, not views of the input', async (t) => {
    const buf = encodeEntry({ index: 1, term: 1, type: 'normal', data: bytes(9, 9) });
    const e = decodeEntry(buf);
    buf.fill(0);
    t.same(e.data, bytes(9, 9));
  });
  t.test('the message type is its index in MESSAGE_TYPES', async (t) => {
    t.equal(encodeMessage(message('read-index-resp', 'a', 'b', 1))[0], MESSAGE_TYPES.indexOf('read-index-resp'));
  });
});

t.test('encoders refuse values they cannot encode', async (t) => {
  const bad: [string, () => unknown][] = [
    ['negative index', () => encodeEntry({ index: -1, term: 0, type: 'normal', data: bytes() })],
    ['fractional term', () => encodeHardState({ term: 1.5, vote: '', commit: 0 })],
    ['unsafe integer', () => encodeMessage(message('app', 'a', 'b', 2 ** 53))],
    ['NaN commit', () => encodeMessage(message('app', 'a', 'b', 1, { commit: NaN }))],
    ['unknown message type', () => encodeMessage({ ...message('app', 'a', 'b', 1), type: 'nope' as Message['type'] })],
    ['unknown entry type', () => encodeEntry({ index: 1, term: 1, type: 'x' as Entry['type'], data: bytes() })],
  ];
  for (const [name, fn] of bad) t.throws(fn, CodecError, name);
});

t.test('decoders reject bad input with CodecError', async (t) => {
  const good = encodeMessage(messages.find((m) => m.snapshot !== undefined && m.snapshot.data.length > 0) as Message);
  const set = (i: number, v: number): Uint8Array => {
    const b = new Uint8Array(good);
    b[i] = v;
    return b;
  };
  const cases: [string, () => unknown, RegExp][] = [
    ['empty', () => decodeMessage(bytes()), /truncated/],
    ['unknown message type', () => decodeMessage(set(0, MESSAGE_TYPES.length)), /unknown message type 19/],
    ['trailing bytes', () => decodeMessage(new Uint8Array([...good, 0])), /1 trailing bytes/],
    ['unknown flag bits', () => decodeMessage(encodeMessage(message('hup', '', '', 0)).map((b, i) => (i === 8 ? 0x80 : b))), /unknown flags/],
    ['unknown entry type', () => decodeEntry(bytes(1, 1, 2, 0)), /unknown entry type 2/],
    ['non-minimal varint', () => decodeEntry(bytes(0x81, 0x00, 1, 0, 0)), /non-minimal/],
    ['varint above 2^53-1', () => decodeEntry(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10, 1, 0, 0)), /above 2\^53-1/],
    ['varint longer than 8 bytes', () => decodeEntry(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)), /longer than 8 bytes/],
    ['a length beyond the input', () => decodeEntry(bytes(1, 1, 0, 5, 1)), /exceeds the input/],
    ['a huge entry count', () => decodeMessage(encodeMessage(message('app', '', '', 0)).map((b, i) => (i === 10 ? 0x7f : b))), /exceeds the input/],
    ['invalid UTF-8', () => decodeHardState(bytes(1, 1, 0xff, 0)), /invalid UTF-8/],
    ['not a Uint8Array', () => decodeMessage('hi' as unknown as Uint8Array), /not a Uint8Array/],
  ];
  for (const [name, fn, msg] of cases) t.throws(fn, { name: 'CodecError', message: msg }, name);

  t.test('every truncation of a valid message', async (t) => {
    let rejected = 0;
    for (let n = 0; n < good.length; n++) {
      try {
        decodeMessage(good.subarray(0, n));
      } catch (err) {
        if (err instanceof CodecError) rejected++;
      }
    }
    t.equal(rejected, good.length, 'no proper prefix decodes');
  });
});

t.test('fuzz: garbage decodes or throws CodecError, never anything else', async (t) => {
  const rand = prng(0xc0dec);
  const decoders = [decodeMessage, decodeEntry, decodeHardState, decodeSnapshotMeta];
  const seeds = [...messages.map(encodeMessage), ...entries.map(encodeEntry)];
  let thrown = 0;
  let decoded = 0;
  let other: unknown;
  for (let i = 0; i < 600; i++) {
    let buf: Uint8Array;
    if (i % 2 === 0) {
      buf = new Uint8Array(rand(80));
      for (let j = 0; j < buf.length; j++) buf[j] = rand(256);
      if (buf.length > 0 && i % 4 === 0) buf[0] = rand(MESSAGE_TYPES.length); // get past the type byte
    } else {
      const seed = seeds[rand(seeds.length)] as Uint8Array;
      buf = new Uint8Array(seed);
      for (let k = 1 + rand(3); k > 0; k--) buf[rand(buf.length)] = rand(256);
      if (rand(4) === 0) buf = buf.subarray(0, rand(buf.length));
    }
    for (const decode of decoders) {
      try {
        const value = decode(buf);
        decoded++;
        // The encoding is canonical: whatever decodes re-encodes to the same bytes.
        const again = decode === decodeMessage ? encodeMessage(value as Message)
          : decode === decodeEntry ? encodeEntry(value as Entry)
            : decode === decodeHardState ? encodeHardState(value as ReturnType<typeof decodeHardState>)
              : encodeSnapshotMeta(value as ReturnType<typeof decodeSnapshotMeta>);
        if (!Buffer.from(again).equals(Buffer.from(buf))) other ??= new Error(`not canonical: ${Buffer.from(buf).toString('hex')}`);
      } catch (err) {
        if (err instanceof CodecError) thrown++;
        else other ??= err;
      }
    }
  }
  t.equal(other, undefined, 'only CodecError escapes, and what decodes is canonical');
  t.equal(thrown + decoded, 600 * decoders.length);
  t.ok(thrown > 1000, `most garbage is rejected (${thrown} rejected, ${decoded} decoded)`);
});
