import t from 'tap';
import { createServer } from 'node:net';
import { silentLogger } from '../../src/log.js';
import { RpcClient } from '../../src/rpc/client.js';
import { RpcServer } from '../../src/rpc/server.js';
import type { Hello } from '../../src/rpc/wire.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

// One-way messages (the Raft transport) on 127.0.0.1.

const received: { channel: string; seq: number; from: Hello }[] = [];
const server = new RpcServer({ datacenter: 'dc1', node: 's1', log: silentLogger() });
server.onMessage((channel, payload, from) => received.push({ channel, seq: payload.length >= 4 ? payload.readUInt32BE(0) : -1, from }));
let release: (() => void) | undefined;
server.handle('Hold', () => new Promise<Uint8Array>((resolve) => { release = () => resolve(Buffer.alloc(0)); }));
const port = await server.listen('127.0.0.1', 0);
const addr = `127.0.0.1:${port}`;
const client = new RpcClient({ datacenter: 'dc1', node: 'c1', log: silentLogger() });

t.teardown(async () => {
  await client.close();
  await server.close();
});

const seq = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
};

t.test('the first message waits for the connection, then arrives with the sender hello', async (t) => {
  t.equal(client.send(addr, 'raft', seq(0)), true);
  await waitFor(() => received.length === 1, { message: 'first message' });
  t.same(received[0], { channel: 'raft', seq: 0, from: { protocol: 1, datacenter: 'dc1', node: 'c1', keepaliveTimeoutMs: 15000 } });
});

t.test('10 000 small messages arrive, all of them, in order', async (t) => {
  received.length = 0;
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) if (client.send(addr, 'raft', seq(i))) accepted++;
  t.equal(accepted, 10_000);
  await waitFor(() => received.length >= 10_000, { timeoutMs: 10_000, message: '10 000 messages' });
  t.equal(received.length, 10_000);
  t.equal(received.findIndex((m, i) => m.seq !== i), -1, 'in order');
  t.equal(client.stats().messagesDropped, 0);
});

t.test('messages use their own connection: a pending call does not delay them', async (t) => {
  received.length = 0;
  const call = client.call(addr, 'Hold', Buffer.alloc(0));
  await waitFor(() => release !== undefined, { message: 'call held' });
  client.send(addr, 'raft', seq(1));
  await waitFor(() => received.length === 1, { message: 'message delivered while the call is pending' });
  t.equal(server.stats().connections, 2, 'one request connection and one message connection');
  release?.();
  await call;
});

t.test('a peer that cannot be reached: queued messages dropped, then dropped at once during the back-off', async (t) => {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const deadAddr = `127.0.0.1:${(s.address() as { port: number }).port}`;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  const c = new RpcClient({ datacenter: 'dc1', node: 'c2', reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
  t.teardown(() => c.close());
  t.equal(c.send(deadAddr, 'raft', seq(1)), true, 'queued while connecting');
  await waitFor(() => c.stats().drops.peerDown === 1, { message: 'connect failed, queue dropped' });
  t.equal(c.send(deadAddr, 'raft', seq(2)), false, 'known down: dropped at once');
  t.same(c.stats().drops, { queueFull: 0, peerDown: 2, backlog: 0, tooLarge: 0, closed: 0 });
});

t.test('the queue is bounded while connecting; the peer recovers after a partition', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port });
  t.teardown(() => proxy.close());
  const c = new RpcClient({ datacenter: 'dc1', node: 'c3', maxQueuedMessages: 10, connectTimeoutMs: 200, reconnectMinMs: 50, reconnectMaxMs: 100 });
  t.teardown(() => c.close());
  const via = `127.0.0.1:${proxy.port}`;
  proxy.partition(true, 'blackhole');
  const results = Array.from({ length: 12 }, (_, i) => c.send(via, 'raft', seq(i)));
  t.same(results, [...Array<boolean>(10).fill(true), false, false]);
  t.equal(c.stats().drops.queueFull, 2);
  await waitFor(() => c.stats().drops.peerDown === 10, { message: 'connect timed out, queue dropped' });
  proxy.partition(false);
  received.length = 0;
  await waitFor(() => {
    c.send(via, 'raft', seq(7));
    return received.some((m) => m.from.node === 'c3');
  }, { timeoutMs: 5000, message: 'messages flow again after the partition heals' });
  t.pass(`recovered after ${c.stats().drops.peerDown} drops`);
});

t.test('a backed-up socket drops instead of buffering without bound', async (t) => {
  const c = new RpcClient({ datacenter: 'dc1', node: 'c4', maxBufferedBytes: 0 });
  t.teardown(() => c.close());
  received.length = 0;
  // connect first; on a loaded machine a connect can time out and drop the message, so send again
  for (let attempt = 0; attempt < 5 && received.length === 0; attempt++) {
    c.send(addr, 'raft', seq(0));
    await waitFor(() => received.length > 0, { message: 'connected', timeoutMs: 5000 }).catch(() => undefined);
  }
  t.ok(received.length > 0, 'connected');
  const before = c.stats().drops.backlog;
  t.equal(c.send(addr, 'raft', seq(1)), true, 'nothing buffered yet');
  t.equal(c.send(addr, 'raft', seq(2)), false, 'the first is still buffered in this tick');
  t.equal(c.stats().drops.backlog - before, 1);
});

t.test('a listener that throws loses only that message', async (t) => {
  const s = new RpcServer({ datacenter: 'dc1', node: 's2' });
  const got: number[] = [];
  s.onMessage((_c, p) => {
    const n = p.readUInt32BE(0);
    if (n === 1) throw new Error('bad message');
    got.push(n);
  });
  const p2 = await s.listen('127.0.0.1', 0);
  t.teardown(() => s.close());
  for (const n of [0, 1, 2]) client.send(`127.0.0.1:${p2}`, 'raft', seq(n));
  await waitFor(() => got.length === 2, { message: 'two delivered' });
  t.same(got, [0, 2]);
  t.equal(s.stats().messagesDropped, 1);
});
