import t from 'tap';
import { silentLogger } from '../../src/log.js';
import { RpcClient } from '../../src/rpc/client.js';
import { RpcError } from '../../src/rpc/errors.js';
import { RpcServer, type RpcContext } from '../../src/rpc/server.js';
import { waitFor } from '../helpers/wait.js';

// Request/response over real sockets on 127.0.0.1: one server, one client pool.

const server = new RpcServer({ datacenter: 'dc1', node: 's1', log: silentLogger() });
const seen: RpcContext[] = [];
let aborted = 0;
/** Resolves the handler of 'Hold' calls when called. */
const held: (() => void)[] = [];

server
  .handle('Echo', (body, ctx) => { seen.push(ctx); return body; })
  .handle('Upper', async (body) => Buffer.from(body.toString().toUpperCase()))
  .handle('Fail', () => { throw Object.assign(new Error('cas index 3 is stale for key a'), { code: 'ERR_KV_CAS_CONFLICT' }); })
  .handle('Crash', () => { throw new TypeError('cannot read x of undefined'); })
  .handle('NotBytes', () => 'a string' as unknown as Uint8Array)
  .handle('Big', () => Buffer.alloc(8 * 1024 * 1024, 1))
  .handle('Hold', (body, { signal }) => new Promise<Uint8Array>((resolve) => {
    held.push(() => resolve(body));
    signal.addEventListener('abort', () => { aborted++; resolve(Buffer.alloc(0)); }, { once: true });
  }));
const port = await server.listen('127.0.0.1', 0);
const addr = `127.0.0.1:${port}`;
const client = new RpcClient({ datacenter: 'dc1', node: 'c1', log: silentLogger() });

t.teardown(async () => {
  await client.close();
  await server.close();
});

/** The rejection of `p`, as an RpcError. */
async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('round trip; the handler sees the caller hello', async (t) => {
  const answer = await client.call(addr, 'Echo', Buffer.from('ping'));
  t.equal(answer.toString(), 'ping');
  t.equal((await client.call(addr, 'Upper', new TextEncoder().encode('abc'))).toString(), 'ABC', 'a plain Uint8Array body');
  t.equal((await client.call(addr, 'Echo', new Uint8Array(0))).length, 0, 'an empty body');
  const ctx = seen[0];
  t.same(ctx?.peer, { protocol: 1, datacenter: 'dc1', node: 'c1', keepaliveTimeoutMs: 15000 });
  t.match(ctx?.remoteAddress, /^127\.0\.0\.1:\d+$/);
  t.equal(server.stats().connections, 1, 'one connection');
});

t.test('200 concurrent calls share one connection', async (t) => {
  const bodies = Array.from({ length: 200 }, (_, i) => Buffer.from(`call-${i}-${'x'.repeat(i * 50)}`));
  const answers = await Promise.all(bodies.map((b) => client.call(addr, 'Echo', b)));
  t.equal(answers.filter((a, i) => a.equals(bodies[i] as Buffer)).length, 200, 'each answer matches its own request');
  t.equal(server.stats().connections, 1);
  t.equal(client.stats().sockets, 1);
  t.equal(client.stats().inflight, 0);
});

t.test('a large response', async (t) => {
  const answer = await client.call(addr, 'Big', Buffer.alloc(0));
  t.equal(answer.length, 8 * 1024 * 1024);
});

t.test('remote errors carry code and message', async (t) => {
  const err = await rejection(client.call(addr, 'Fail', Buffer.alloc(0)));
  t.equal(err.code, 'ERR_KV_CAS_CONFLICT');
  t.equal(err.message, 'cas index 3 is stale for key a');
  t.equal(err.remote, true);

  const crash = await rejection(client.call(addr, 'Crash', Buffer.alloc(0)));
  t.same({ code: crash.code, message: crash.message, remote: crash.remote }, { code: 'ERR_RPC_INTERNAL', message: 'cannot read x of undefined', remote: true });

  const notBytes = await rejection(client.call(addr, 'NotBytes', Buffer.alloc(0)));
  t.equal(notBytes.code, 'ERR_RPC_INTERNAL');

  const unknown = await rejection(client.call(addr, 'Nope.Nothing', Buffer.alloc(0)));
  t.same({ code: unknown.code, message: unknown.message, remote: unknown.remote },
    { code: 'ERR_RPC_UNKNOWN_METHOD', message: 'unknown rpc method Nope.Nothing', remote: true });
  t.equal((await client.call(addr, 'Echo', Buffer.from('still'))).toString(), 'still', 'the connection survives errors');
});

t.test('timeout fails the call and aborts the handler', async (t) => {
  const before = aborted;
  const start = performance.now();
  const err = await rejection(client.call(addr, 'Hold', Buffer.alloc(0), { timeoutMs: 100 }));
  t.equal(err.code, 'ERR_RPC_TIMEOUT');
  t.equal(err.remote, false);
  t.ok(performance.now() - start >= 95, 'not before its timeout');
  await waitFor(() => aborted === before + 1, { message: 'handler signal aborted by the cancel frame' });
  t.equal(client.stats().inflight, 0);
});

t.test('an AbortSignal fails the call and aborts the handler', async (t) => {
  held.length = 0;
  const before = aborted;
  const controller = new AbortController();
  const p = client.call(addr, 'Hold', Buffer.alloc(0), { signal: controller.signal });
  await waitFor(() => held.length > 0, { message: 'handler started' });
  controller.abort();
  t.equal((await rejection(p)).code, 'ERR_RPC_ABORTED');
  await waitFor(() => aborted === before + 1, { message: 'handler signal aborted' });
  held.length = 0;
  t.equal((await rejection(client.call(addr, 'Echo', Buffer.alloc(0), { signal: AbortSignal.abort() }))).code, 'ERR_RPC_ABORTED', 'already aborted');
});

t.test('blocking calls do not hold up others on the same connection', async (t) => {
  held.length = 0;
  const blocking = client.call(addr, 'Hold', Buffer.from('late'), { timeoutMs: 0 });
  await waitFor(() => held.length === 1, { message: 'handler started' });
  t.equal((await client.call(addr, 'Echo', Buffer.from('quick'))).toString(), 'quick');
  held.shift()?.();
  t.equal((await blocking).toString(), 'late');
});

t.test('closing the caller connection aborts running handlers', async (t) => {
  held.length = 0;
  const before = aborted;
  const p = client.call(addr, 'Hold', Buffer.alloc(0));
  await waitFor(() => held.length > 0, { message: 'handler started' });
  client.disconnect(addr);
  const err = await rejection(p);
  t.equal(err.code, 'ERR_RPC_CLOSED');
  await waitFor(() => aborted === before + 1, { message: 'handler signal aborted' });
  held.length = 0;
  t.equal((await client.call(addr, 'Echo', Buffer.from('again'))).toString(), 'again', 'reconnects on the next call');
});

t.test('bodies over maxFrameBytes fail without touching the connection', async (t) => {
  const small = new RpcClient({ datacenter: 'dc1', node: 'c2', maxFrameBytes: 4096 });
  t.teardown(() => small.close());
  t.equal((await rejection(small.call(addr, 'Echo', Buffer.alloc(5000)))).code, 'ERR_RPC_TOO_LARGE');
  t.equal(small.stats().sockets, 0, 'nothing was opened');
  const tinyServer = new RpcServer({ datacenter: 'dc1', node: 's2', maxFrameBytes: 4096 }).handle('Big', () => Buffer.alloc(5000));
  const tinyPort = await tinyServer.listen('127.0.0.1', 0);
  t.teardown(() => tinyServer.close());
  const err = await rejection(small.call(`127.0.0.1:${tinyPort}`, 'Big', Buffer.alloc(0)));
  t.same({ code: err.code, remote: err.remote }, { code: 'ERR_RPC_TOO_LARGE', remote: true });
});

t.test('bad call arguments fail the call, not the client', async (t) => {
  t.equal((await rejection(client.call(addr, 'Echo', Buffer.alloc(0), { timeoutMs: -1 }))).code, 'ERR_RPC_CONFIG');
  t.equal((await rejection(client.call(addr, 'Echo', Buffer.alloc(0), { timeoutMs: 2 ** 31 }))).code, 'ERR_RPC_CONFIG');
  t.equal((await rejection(client.call(addr, 'x'.repeat(2000), Buffer.alloc(0)))).code, 'ERR_RPC_TOO_LARGE');
  t.equal(client.send(addr, 'x'.repeat(2000), Buffer.alloc(1)), false, 'an over-long channel is dropped');
  t.equal((await client.call(addr, 'Echo', Buffer.from('fine'))).toString(), 'fine');
});
