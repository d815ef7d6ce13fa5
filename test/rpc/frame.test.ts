import t from 'tap';
import { rpcClientConfig, rpcServerConfig } from '../../src/rpc/config.js';
import { parseAddress } from '../../src/rpc/dial.js';
import { RpcError, toWireError } from '../../src/rpc/errors.js';
import { encodeFrame, FrameKind, FrameReader } from '../../src/rpc/frame.js';
import {
  decodeHello, decodeMessage, decodeRefusal, decodeRequest, decodeResponse, encodeErrorBody, encodeHello,
  encodeMessageHead, encodeRefusal, encodeRequestHead, encodeResponseHead,
} from '../../src/rpc/wire.js';

// Pure pieces of the RPC layer: framing, payload codecs, addresses, options.

const frameBytes = (kind: FrameKind, head: Uint8Array, body?: Uint8Array) => Buffer.concat(encodeFrame(kind, head, body));

function readAll(reader: FrameReader, chunks: Buffer[]): { kind: number; payload: string }[] {
  const out: { kind: number; payload: string }[] = [];
  for (const c of chunks) reader.push(c, (kind, payload) => out.push({ kind, payload: payload.toString() }));
  return out;
}

t.test('frame reader', async (t) => {
  const big = Buffer.alloc(10_000, 'z');
  const stream = Buffer.concat([
    frameBytes(FrameKind.ping, Buffer.alloc(0)),
    frameBytes(FrameKind.message, Buffer.from('ab'), Buffer.from('cd')),
    frameBytes(FrameKind.request, Buffer.from('h'), big), // large body: sent by reference
  ]);
  const expected = [
    { kind: FrameKind.ping, payload: '' },
    { kind: FrameKind.message, payload: 'abcd' },
    { kind: FrameKind.request, payload: 'h' + big.toString() },
  ];

  await t.test('reassembles frames split at every byte offset', async (t) => {
    let failures = 0;
    for (let cut = 1; cut < stream.length; cut += cut < 40 ? 1 : 997) {
      const got = readAll(new FrameReader(1 << 20), [stream.subarray(0, cut), stream.subarray(cut)]);
      if (JSON.stringify(got) !== JSON.stringify(expected)) failures++;
    }
    t.equal(failures, 0);
  });

  await t.test('reassembles frames fed one byte at a time', async (t) => {
    const chunks = [...stream.subarray(0, 200)].map((b) => Buffer.from([b]));
    t.same(readAll(new FrameReader(1 << 20), [...chunks, stream.subarray(200)]), expected);
  });

  await t.test('rejects an oversized length before buffering the payload', async (t) => {
    const header = Buffer.from([0x00, 0x20, 0x00, 0x00, FrameKind.request]); // 2 MiB
    t.throws(() => readAll(new FrameReader(1 << 20), [header]), { code: 'ERR_RPC_FRAME' });
  });

  await t.test('rejects an unknown kind', async (t) => {
    t.throws(() => readAll(new FrameReader(1 << 20), [Buffer.from([0, 0, 0, 0, 200])]), { code: 'ERR_RPC_FRAME' });
    t.throws(() => readAll(new FrameReader(1 << 20), [Buffer.from([0, 0, 0, 0, 0])]), { code: 'ERR_RPC_FRAME' });
  });

  await t.test('stop() ends delivery, even mid-chunk', async (t) => {
    const reader = new FrameReader(1 << 20);
    const kinds: number[] = [];
    reader.push(stream, (kind) => { kinds.push(kind); reader.stop(); });
    reader.push(stream, (kind) => kinds.push(kind));
    t.same(kinds, [FrameKind.ping]);
  });
});

t.test('payload codecs', async (t) => {
  await t.test('hello round trip, unknown fields ignored', async (t) => {
    const hello = { protocol: 1, datacenter: 'dc1', node: 'n1', keepaliveTimeoutMs: 15000 };
    t.same(decodeHello(encodeHello(hello)), hello);
    t.same(decodeHello(Buffer.from('{"protocol":2,"datacenter":"d","node":"x","future":true}')), { protocol: 2, datacenter: 'd', node: 'x' });
  });

  for (const [name, bytes] of [
    ['not json', '{'], ['an array', '[]'], ['a negative protocol', '{"protocol":-1,"datacenter":"d","node":"n"}'],
    ['no node', '{"protocol":1,"datacenter":"d"}'], ['a bad keepalive', '{"protocol":1,"datacenter":"d","node":"n","keepaliveTimeoutMs":"x"}'],
  ] as const) {
    await t.test(`hello with ${name} is malformed`, async (t) => {
      t.throws(() => decodeHello(Buffer.from(bytes)), { code: 'ERR_RPC_FRAME' });
    });
  }

  await t.test('request, response, message, refusal', async (t) => {
    const req = decodeRequest(Buffer.concat([encodeRequestHead(7, 'KV.Get'), Buffer.from('body')]));
    t.same({ ...req, body: req.body.toString() }, { id: 7, method: 'KV.Get', body: 'body' });
    const ok = decodeResponse(Buffer.concat([encodeResponseHead(9, true), Buffer.from('x')]));
    t.same(ok.ok && { id: ok.id, body: ok.body.toString() }, { id: 9, body: 'x' });
    t.same(decodeResponse(Buffer.concat([encodeResponseHead(3, false), encodeErrorBody('ERR_X', 'bad x')])), { id: 3, ok: false, code: 'ERR_X', message: 'bad x' });
    const m = decodeMessage(Buffer.concat([encodeMessageHead('raft'), Buffer.from([1, 2])]));
    t.same({ channel: m.channel, payload: [...m.payload] }, { channel: 'raft', payload: [1, 2] });
    const hello = { protocol: 1, datacenter: 'dc1', node: 's1' };
    t.same(decodeRefusal(encodeRefusal({ code: 'ERR_Y', message: 'no', hello })), { code: 'ERR_Y', message: 'no', hello });
  });

  await t.test('truncated payloads are malformed', async (t) => {
    t.throws(() => decodeRequest(Buffer.from([0, 0, 0, 1, 0, 9, 65])), { code: 'ERR_RPC_FRAME' });
    t.throws(() => decodeResponse(Buffer.from([0, 0, 0, 1])), { code: 'ERR_RPC_FRAME' });
    t.throws(() => decodeResponse(Buffer.from([0, 0, 0, 1, 7])), { code: 'ERR_RPC_FRAME' });
    t.throws(() => decodeMessage(Buffer.from([0, 5, 65])), { code: 'ERR_RPC_FRAME' });
  });
});

t.test('handler errors on the wire', async (t) => {
  t.same(toWireError(Object.assign(new Error('cas index 3 is stale'), { code: 'ERR_KV_CAS_CONFLICT' })), { code: 'ERR_KV_CAS_CONFLICT', message: 'cas index 3 is stale' });
  t.same(toWireError(new Error('boom\n  at stack')), { code: 'ERR_RPC_INTERNAL', message: 'boom' });
  t.same(toWireError('plain'), { code: 'ERR_RPC_INTERNAL', message: 'plain' });
  t.same(toWireError(Object.assign(new Error('n'), { code: 42 })), { code: 'ERR_RPC_INTERNAL', message: 'n' });
});

t.test('addresses', async (t) => {
  for (const [addr, want] of [
    ['127.0.0.1:8300', { host: '127.0.0.1', port: 8300 }], ['[::1]:8300', { host: '::1', port: 8300 }],
    ['localhost:1', { host: 'localhost', port: 1 }], ['127.0.0.1', undefined], ['127.0.0.1:0', undefined],
    ['127.0.0.1:70000', undefined], [':8300', undefined], ['::1:8300', undefined],
  ] as const) {
    t.same(parseAddress(addr), want, addr);
  }
});

t.test('options', async (t) => {
  const c = rpcClientConfig({ datacenter: 'dc1', node: 'n1' });
  t.equal(c.connectTimeoutMs, 2000);
  t.equal(c.maxFrameBytes, 64 * 1024 * 1024);
  t.ok(Object.isFrozen(c));
  t.equal(rpcServerConfig({ datacenter: 'dc1', node: 's1', handshakeTimeoutMs: 10 }).handshakeTimeoutMs, 10);
  const err = t.throws(() => rpcClientConfig({ datacenter: '', node: 'n', connectTimeoutMs: -1, keepaliveIntervalMs: 10, keepaliveTimeoutMs: 5 })) as RpcError;
  t.equal(err.code, 'ERR_RPC_CONFIG');
  t.match(err.message, /datacenter.*connectTimeoutMs.*keepaliveTimeoutMs must exceed/);
});
