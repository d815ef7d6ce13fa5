import t from 'tap';
import { defaultLanConfig } from '../../src/gossip/config.js';
import { GossipCore } from '../../src/gossip/core.js';
import { createRng } from '../../src/gossip/rng.js';
import {
  decodeFrame, decodePacket, encodeFrame, encodePacket, MAGIC, MAX_PACKET_BYTES, MessageType, WIRE_VERSION,
  type PacketMessage, type StreamMessage,
} from '../../src/gossip/wire.js';

const messages: PacketMessage[] = [
  { type: 'ping', seq: 1, target: 'node-b', source: 'node-a' },
  { type: 'ping', seq: 4_294_967_295, target: '', source: 'x' },
  { type: 'indirect-ping', seq: 7, target: 'node-c', addr: '10.0.0.3', port: 8301, nack: true },
  { type: 'indirect-ping', seq: 8, target: 'node-c', addr: '::1', port: 65_535, nack: false },
  { type: 'ack', seq: 99 },
  { type: 'nack', seq: 100 },
  { type: 'alive', incarnation: 3, name: 'node-a', addr: '127.0.0.1', port: 8301, tags: { role: 'consul', dc: 'dc1', émoji: 'ünïcode ✓' } },
  { type: 'alive', incarnation: 0, name: 'n', addr: 'a', port: 1, tags: {} },
  { type: 'suspect', incarnation: 5, name: 'node-b', from: 'node-a' },
  { type: 'dead', incarnation: 6, name: 'node-b', from: 'node-b' },
];

const frames: StreamMessage[] = [
  { type: 'push-pull', join: true, members: [] },
  {
    type: 'push-pull', join: false, members: [
      { name: 'a', addr: '10.0.0.1', port: 8301, incarnation: 1, state: 'alive', tags: { role: 'node' } },
      { name: 'b', addr: '10.0.0.2', port: 8301, incarnation: 9, state: 'suspect', tags: {} },
      { name: 'c', addr: '10.0.0.3', port: 8301, incarnation: 2, state: 'dead', tags: {} },
      { name: 'd', addr: '10.0.0.4', port: 8301, incarnation: 4, state: 'left', tags: { x: '' } },
    ],
  },
  { type: 'stream-error', reason: 'decrypt-failed' },
];

/** A core whose drops we count (decoding through step(), the way the runtime feeds it). */
function core(): GossipCore {
  return new GossipCore(defaultLanConfig(), { rng: createRng(1), self: { name: 'me', addr: '10.0.0.9', port: 8301 } });
}

t.test('message type numbers are pinned (append-only: a renumbering breaks the protocol)', async (t) => {
  t.same(MessageType, { ping: 1, indirectPing: 2, ack: 3, nack: 4, alive: 5, suspect: 6, dead: 7, pushPull: 8, streamError: 9 });
  t.equal(MAGIC, 0x4d);
  t.equal(WIRE_VERSION, 1);
});

t.test('round trips', async (t) => {
  for (const m of messages) {
    t.test(`${m.type} alone`, async (t) => t.same(decodePacket(encodePacket([m])), { ok: true, value: [m] }));
  }
  t.test('a compound packet of every message', async (t) => t.same(decodePacket(encodePacket(messages)), { ok: true, value: messages }));
  for (const f of frames) {
    t.test(`${f.type} frame`, async (t) => t.same(decodeFrame(encodeFrame(f)), { ok: true, value: f }));
  }
});

t.test('rejects with a reason', async (t) => {
  const good = encodePacket([{ type: 'ack', seq: 1 }]);
  const withByte = (i: number, v: number) => {
    const b = new Uint8Array(good);
    b[i] = v;
    return b;
  };
  const cases: [name: string, data: Uint8Array, reason: string][] = [
    ['empty', new Uint8Array(0), 'truncated'],
    ['bad magic', withByte(0, 0x00), 'bad-magic'],
    ['unknown version', withByte(1, 2), 'unknown-version'],
    ['zero messages', withByte(2, 0), 'malformed'],
    ['a count beyond the data', withByte(2, 2), 'truncated'],
    ['unknown message type', withByte(3, 200), 'unknown-type'],
    ['a stream message in a packet', withByte(3, MessageType.pushPull), 'malformed'],
    ['a length beyond the data', withByte(5, 9), 'truncated'],
    ['a length shorter than the body', withByte(5, 2), 'truncated'],
    ['trailing bytes', new Uint8Array([...good, 0]), 'malformed'],
    ['oversized', new Uint8Array(MAX_PACKET_BYTES + 1).fill(MAGIC), 'oversized'],
    ['invalid UTF-8', encodePacket([{ type: 'ping', seq: 1, target: 'é', source: 'x' }]).map((b, i) => (i === 11 ? 0xff : b)), 'malformed'],
  ];
  for (const [name, data, reason] of cases) {
    t.test(name, async (t) => t.match(decodePacket(data), { ok: false, reason }));
  }
  t.test('a frame announcing more members than it holds is refused before allocating', async (t) => {
    const f = encodeFrame({ type: 'push-pull', join: false, members: [] });
    f.set([0xff, 0xff, 0xff, 0xff], 4);
    t.match(decodeFrame(f), { ok: false, reason: 'truncated' });
  });
  t.test('a packet message in a frame', async (t) => {
    t.match(decodeFrame(new Uint8Array([MAGIC, WIRE_VERSION, MessageType.ping, 0, 0, 0, 1])), { ok: false, reason: 'malformed' });
  });
});

t.test('garbage never throws and is counted', async (t) => {
  const rng = createRng(20_240_601);
  const c = core();
  let fed = 0;
  const feed = (data: Uint8Array) => {
    fed++;
    c.step({ from: '10.0.0.66:8301', data, nowMs: 1000 });
    c.stepStream({ from: '10.0.0.66:40000', data, nowMs: 1000 });
    decodeFrame(data);
  };

  t.test('random bytes', async (t) => {
    const before = c.stats().droppedTotal;
    for (let i = 0; i < 3000; i++) {
      const data = new Uint8Array(rng.int(300));
      for (let j = 0; j < data.length; j++) data[j] = rng.int(256);
      if (i % 2 === 0 && data.length > 2) data.set([MAGIC, WIRE_VERSION]); // get past the header half the time
      t.doesNotThrow(() => decodePacket(data)) || t.bailout();
      feed(data);
    }
    t.equal(c.stats().droppedTotal - before, 2 * 3000, 'every one dropped, as a packet and as a frame');
  });

  t.test('every truncation of a valid packet and frame', async (t) => {
    const packet = encodePacket(messages);
    const frame = encodeFrame(frames[1] as StreamMessage);
    let rejected = 0;
    for (let n = 0; n < packet.length; n++) if (!decodePacket(packet.subarray(0, n)).ok) rejected++;
    for (let n = 0; n < frame.length; n++) if (!decodeFrame(frame.subarray(0, n)).ok) rejected++;
    t.equal(rejected, packet.length + frame.length, 'no prefix decodes');
    const before = c.stats().droppedTotal;
    for (let n = 0; n < packet.length; n++) c.step({ from: '10.0.0.66:8301', data: packet.slice(0, n), nowMs: 1000 });
    t.equal(c.stats().droppedTotal - before, packet.length);
  });

  t.test('every single bit flip of a valid packet and frame', async (t) => {
    const packet = encodePacket(messages);
    const frame = encodeFrame(frames[1] as StreamMessage);
    for (const base of [packet, frame]) {
      for (let bit = 0; bit < base.length * 8; bit++) {
        const data = new Uint8Array(base);
        data[bit >> 3] = (data[bit >> 3] as number) ^ (1 << (bit & 7));
        feed(data);
      }
    }
    const s = c.stats();
    t.equal(s.dropped.internal, 0, 'no handler failed on what decoded');
    t.ok(fed > 5000);
  });
});
