import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { silentLogger } from '../../src/log.js';
import { RpcClient } from '../../src/rpc/client.js';
import { RpcError } from '../../src/rpc/errors.js';
import { encodeFrame, FrameKind } from '../../src/rpc/frame.js';
import type { RpcLogger } from '../../src/rpc/logger.js';
import { RpcServer } from '../../src/rpc/server.js';
import { encodeHello } from '../../src/rpc/wire.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

// Failures on 127.0.0.1: dead and closed servers, refused handshakes, garbage
// on the wire, partitions through the fault-injecting proxy, restarts.

const SERVER_MODULE = new URL('../../src/rpc/server.js', import.meta.url).href;
const CLIENT_MODULE = new URL('../../src/rpc/client.js', import.meta.url).href;

function captureLog(): RpcLogger & { warns: { obj: Record<string, unknown>; msg: string }[] } {
  const warns: { obj: Record<string, unknown>; msg: string }[] = [];
  return { warns, warn: (obj, msg) => warns.push({ obj: obj as Record<string, unknown>, msg }), info() {}, debug() {} };
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

async function startServer(opts: { port?: number; node?: string; datacenter?: string; protocol?: number; maxFrameBytes?: number; log?: RpcLogger } = {}) {
  const server = new RpcServer({ datacenter: opts.datacenter ?? 'dc1', node: opts.node ?? 's1', log: opts.log ?? silentLogger(), ...(opts.protocol === undefined ? {} : { protocol: opts.protocol }), ...(opts.maxFrameBytes === undefined ? {} : { maxFrameBytes: opts.maxFrameBytes }) });
  server.handle('Echo', (b) => b).handle('Hold', (_b, { signal }) => new Promise<Uint8Array>((resolve) => signal.addEventListener('abort', () => resolve(Buffer.alloc(0)))));
  const port = await server.listen('127.0.0.1', opts.port ?? 0);
  return { server, port, addr: `127.0.0.1:${port}` };
}

/** A free port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Runs ESM `code` in a child node; resolves once it prints its first line. */
async function child(code: string): Promise<{ proc: ChildProcess; firstLine: string; lines: string[] }> {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  proc.stdout?.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  const firstLine = await waitFor(() => lines[0], { message: 'child started' });
  return { proc, firstLine, lines };
}

const client = new RpcClient({ datacenter: 'dc1', node: 'c1', log: silentLogger() });
t.teardown(() => client.close());

t.test('server process killed mid-call: pending calls fail promptly with ERR_RPC_CLOSED', async (t) => {
  const { proc, firstLine, lines } = await child(`
    const { RpcServer } = await import(${JSON.stringify(SERVER_MODULE)});
    const s = new RpcServer({ datacenter: 'dc1', node: 'victim' });
    s.handle('Hold', () => { console.log('holding'); return new Promise(() => {}); });
    console.log(await s.listen('127.0.0.1', 0));`);
  t.teardown(() => { proc.kill('SIGKILL'); });
  const addr = `127.0.0.1:${firstLine}`;
  const calls = [1, 2, 3].map(() => rejection(client.call(addr, 'Hold', Buffer.alloc(0), { timeoutMs: 20_000 })));
  await waitFor(() => lines.filter((l) => l === 'holding').length === 3, { message: 'three handlers running' });
  const killedAt = performance.now();
  proc.kill('SIGKILL');
  const errors = await Promise.all(calls);
  const elapsed = performance.now() - killedAt;
  t.same(errors.map((e) => e.code), ['ERR_RPC_CLOSED', 'ERR_RPC_CLOSED', 'ERR_RPC_CLOSED']);
  t.ok(elapsed < 5000, `rejected ${Math.round(elapsed)} ms after the kill, long before the 20 s timeout`);
  t.match(errors[0]?.message, new RegExp(`connection to rpc server ${addr} closed`));
  t.equal((await rejection(client.call(addr, 'Hold', Buffer.alloc(0)))).code, 'ERR_RPC_UNREACHABLE', 'then unreachable');
});

t.test('server closed mid-call (in process): ERR_RPC_CLOSED', async (t) => {
  const { server, addr } = await startServer();
  const p = rejection(client.call(addr, 'Hold', Buffer.alloc(0), { timeoutMs: 20_000 }));
  await waitFor(() => server.stats().requests === 1, { message: 'call arrived' });
  await server.close();
  t.equal((await p).code, 'ERR_RPC_CLOSED');
});

t.test('connecting to a closed port: ERR_RPC_UNREACHABLE', async (t) => {
  const addr = `127.0.0.1:${await closedPort()}`;
  const err = await rejection(client.call(addr, 'Echo', Buffer.alloc(0)));
  t.equal(err.code, 'ERR_RPC_UNREACHABLE');
  t.match(err.message, /ECONNREFUSED/);
  t.equal((await rejection(client.call('no-port', 'Echo', Buffer.alloc(0)))).code, 'ERR_RPC_UNREACHABLE', 'a malformed address');
});

t.test('a server that accepts but never answers the hello: ERR_RPC_UNREACHABLE after connectTimeoutMs', async (t) => {
  const { server, port } = await startServer();
  const proxy = await startProxy({ host: '127.0.0.1', port });
  t.teardown(async () => { await proxy.close(); await server.close(); });
  proxy.partition(true, 'blackhole');
  const quick = new RpcClient({ datacenter: 'dc1', node: 'c2', connectTimeoutMs: 200 });
  t.teardown(() => quick.close());
  const start = performance.now();
  const err = await rejection(quick.call(`127.0.0.1:${proxy.port}`, 'Echo', Buffer.alloc(0), { timeoutMs: 10_000 }));
  t.equal(err.code, 'ERR_RPC_UNREACHABLE');
  t.match(err.message, /did not answer within 200 ms/);
  t.ok(performance.now() - start >= 190);
});

t.test('handshake refusals', async (t) => {
  const log = captureLog();
  const { server, addr } = await startServer({ log });
  t.teardown(() => server.close());

  await t.test('another protocol version', async (t) => {
    const v2 = new RpcClient({ datacenter: 'dc1', node: 'new-agent', protocol: 2 });
    t.teardown(() => v2.close());
    const err = await rejection(v2.call(addr, 'Echo', Buffer.alloc(0)));
    t.equal(err.code, 'ERR_RPC_PROTOCOL_MISMATCH');
    t.equal(err.message, `rpc server ${addr} (node s1) speaks RPC protocol 1, we speak 2`);
    t.equal(log.warns.at(-1)?.msg, 'rpc handshake refused: peer new-agent speaks RPC protocol 2, we speak 1');
    t.match(log.warns.at(-1)?.obj, { peer: /^127\.0\.0\.1:\d+$/, node: 'new-agent' });
    await waitFor(() => v2.stats().sockets === 0, { message: 'refused socket closed' });
  });

  await t.test('another datacenter', async (t) => {
    const dc2 = new RpcClient({ datacenter: 'dc2', node: 'far' });
    t.teardown(() => dc2.close());
    const err = await rejection(dc2.call(addr, 'Echo', Buffer.alloc(0)));
    t.equal(err.code, 'ERR_RPC_DATACENTER_MISMATCH');
    t.equal(err.message, `rpc server ${addr} (node s1) is in datacenter dc1, we are in dc2`);
  });

  t.equal(server.stats().refused, 2);
  t.equal((await client.call(addr, 'Echo', Buffer.from('ok'))).toString(), 'ok', 'others are still served');
});

t.test('garbage, oversized and malformed frames drop only that connection', async (t) => {
  const log = captureLog();
  const { server, port, addr } = await startServer({ log, maxFrameBytes: 1024 * 1024 });
  t.teardown(() => server.close());
  const hello = Buffer.concat(encodeFrame(FrameKind.hello, encodeHello({ protocol: 1, datacenter: 'dc1', node: 'raw' })));
  const cases: [string, Buffer[]][] = [
    ['an HTTP request', [Buffer.from('GET /v1/kv/x HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['random bytes before the hello', [Buffer.from([0, 0, 0, 3, 7, 1, 2, 3])]],
    ['an oversized length after the hello', [hello, Buffer.from([0xff, 0xff, 0xff, 0xff, FrameKind.request])]],
    ['a frame just over maxFrameBytes', [hello, Buffer.from([0x00, 0x10, 0x00, 0x01, FrameKind.message])]],
    ['an unknown frame kind', [hello, Buffer.from([0, 0, 0, 0, 99])]],
    ['a truncated request payload', [hello, Buffer.from([0, 0, 0, 2, FrameKind.request, 0, 0])]],
    ['malformed hello json', [Buffer.concat(encodeFrame(FrameKind.hello, Buffer.from('{nope')))]],
  ];
  for (const [name, bytes] of cases) {
    await t.test(name, async (t) => {
      const warnsBefore = log.warns.length;
      const raw: Socket = connect({ host: '127.0.0.1', port });
      raw.on('error', () => {});
      await once(raw, 'connect');
      const localPort = raw.localPort;
      for (const b of bytes) raw.write(b);
      await once(raw, 'close');
      await waitFor(() => log.warns.length > warnsBefore, { message: 'a warning' });
      t.equal(log.warns.length, warnsBefore + 1, 'exactly one warning');
      t.equal(log.warns.at(-1)?.obj.peer, `127.0.0.1:${localPort}`, 'naming the peer');
      t.equal((await client.call(addr, 'Echo', Buffer.from(name))).toString(), name, 'others are still served');
    });
  }
  t.equal(server.stats().badFrames, cases.length);
});

t.test('reconnects after the server restarts on the same port', async (t) => {
  const first = await startServer();
  t.equal((await client.call(first.addr, 'Echo', Buffer.from('one'))).toString(), 'one');
  await first.server.close();
  await waitFor(() => client.stats().sockets === 0, { message: 'the client saw the connection close' });
  t.equal((await rejection(client.call(first.addr, 'Echo', Buffer.alloc(0)))).code, 'ERR_RPC_UNREACHABLE', 'down');
  const second = await startServer({ port: first.port, node: 's1-restarted' });
  t.teardown(() => second.server.close());
  t.equal((await client.call(first.addr, 'Echo', Buffer.from('two'))).toString(), 'two');
});

t.test('keepalive: a silent partition fails a blocking call without waiting for its timeout', async (t) => {
  const { server, port } = await startServer();
  const proxy = await startProxy({ host: '127.0.0.1', port });
  t.teardown(async () => { await proxy.close(); await server.close(); });
  const watchful = new RpcClient({ datacenter: 'dc1', node: 'c3', keepaliveIntervalMs: 50, keepaliveTimeoutMs: 300 });
  t.teardown(() => watchful.close());
  const addr = `127.0.0.1:${proxy.port}`;
  t.equal((await watchful.call(addr, 'Echo', Buffer.from('x'))).toString(), 'x');
  const pending = rejection(watchful.call(addr, 'Hold', Buffer.alloc(0), { timeoutMs: 20_000 }));
  await waitFor(() => server.stats().requests === 2, { message: 'blocking call arrived' });
  proxy.partition(true, 'blackhole');
  const start = performance.now();
  const err = await pending;
  t.equal(err.code, 'ERR_RPC_CLOSED');
  t.match(err.message, /no answer from .* for 300 ms/);
  t.ok(performance.now() - start < 5000, 'well before the 20 s call timeout');
  await waitFor(() => server.stats().connections === 0, { message: 'the server dropped the silent caller too' });
});

t.test('close() settles everything and leaves no handle behind', async (t) => {
  const { server, addr } = await startServer();
  t.teardown(() => server.close());
  const pool = new RpcClient({ datacenter: 'dc1', node: 'c4' });
  t.equal((await pool.call(addr, 'Echo', Buffer.from('x'))).toString(), 'x');
  const pending = rejection(pool.call(addr, 'Hold', Buffer.alloc(0)));
  const connecting = rejection(pool.call(`127.0.0.1:${await closedPort()}`, 'Echo', Buffer.alloc(0)));
  pool.send(addr, 'raft', Buffer.from('m'));
  await pool.close();
  t.equal((await pending).code, 'ERR_RPC_CLOSED');
  t.match((await connecting).code, /ERR_RPC_CLOSED|ERR_RPC_UNREACHABLE/);
  t.same({ sockets: pool.stats().sockets, inflight: pool.stats().inflight }, { sockets: 0, inflight: 0 });
  t.equal((await rejection(pool.call(addr, 'Echo', Buffer.alloc(0)))).code, 'ERR_RPC_CLOSED', 'calls after close fail');
  t.equal(pool.send(addr, 'raft', Buffer.from('m')), false, 'sends after close drop');

  await t.test('a process that used a server and a client exits on its own after close()', async (t) => {
    const { proc, firstLine } = await child(`
      const { RpcServer } = await import(${JSON.stringify(SERVER_MODULE)});
      const { RpcClient } = await import(${JSON.stringify(CLIENT_MODULE)});
      const s = new RpcServer({ datacenter: 'dc1', node: 's' }).handle('Echo', (b) => b).handle('Hold', () => new Promise(() => {}));
      s.onMessage(() => {});
      const addr = '127.0.0.1:' + await s.listen('127.0.0.1', 0);
      const c = new RpcClient({ datacenter: 'dc1', node: 'c', keepaliveIntervalMs: 1000, keepaliveTimeoutMs: 3000 });
      await c.call(addr, 'Echo', new Uint8Array(3));
      const held = c.call(addr, 'Hold', new Uint8Array(0)).catch((e) => e.code);
      c.send(addr, 'raft', new Uint8Array(10));
      c.send('127.0.0.1:1', 'raft', new Uint8Array(10));
      await c.close();
      await s.close();
      console.log(await held);`);
    t.equal(firstLine, 'ERR_RPC_CLOSED');
    const exited = await Promise.race([once(proc, 'exit'), new Promise((resolve) => setTimeout(resolve, 5000, ['timeout'])).then((v) => v)]);
    if ((exited as unknown[])[0] === 'timeout') proc.kill('SIGKILL');
    t.same(exited, [0, null], 'exited with status 0 within 5 s, without process.exit');
  });
});
