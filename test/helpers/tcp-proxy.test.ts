import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { startProxy, type TcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait.js';

// The fault-injecting proxy in front of an echo server, all on 127.0.0.1.

let received = 0;
const echo: Server = createServer((s) => {
  s.on('error', () => {});
  s.on('data', (chunk: Buffer) => {
    received += chunk.length;
    s.write(chunk);
  });
});
await new Promise<void>((resolve) => echo.listen({ host: '127.0.0.1', port: 0 }, resolve));
const echoPort = (echo.address() as { port: number }).port;
const clients: Socket[] = [];

t.teardown(async () => {
  for (const c of clients) c.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** A client through the proxy that collects what it reads and whether it closed. */
async function client(proxy: TcpProxy) {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  clients.push(socket);
  const state = { data: '', closed: false, socket };
  socket.on('data', (c: Buffer) => { state.data += c.toString(); });
  socket.on('error', () => {});
  socket.on('close', () => { state.closed = true; });
  await once(socket, 'connect');
  return state;
}

t.test('forwards bytes both ways', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port: echoPort });
  t.teardown(() => proxy.close());
  const c = await client(proxy);
  c.socket.write('hello');
  await waitFor(() => c.data === 'hello', { message: 'echo through the proxy' });
  t.equal(proxy.accepted(), 1);
  t.equal(proxy.open(), 1);
});

t.test('partition (reset) drops existing and new connections; healing lets new ones through', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port: echoPort });
  t.teardown(() => proxy.close());
  const before = await client(proxy);
  before.socket.write('x');
  await waitFor(() => before.data === 'x');
  proxy.partition(true);
  await waitFor(() => before.closed, { message: 'existing connection destroyed' });
  const during = await client(proxy);
  await waitFor(() => during.closed, { message: 'new connection destroyed at once' });
  t.equal(during.data, '');
  proxy.partition(false);
  const after = await client(proxy);
  after.socket.write('y');
  await waitFor(() => after.data === 'y', { message: 'echo after healing' });
  t.equal(proxy.accepted(), 3);
});

t.test('partition (blackhole) holds traffic without closing, then delivers it', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port: echoPort });
  t.teardown(() => proxy.close());
  const held = await client(proxy);
  held.socket.write('a');
  await waitFor(() => held.data === 'a');
  proxy.partition(true, 'blackhole');
  const start = received;
  held.socket.write('b');
  const fresh = await client(proxy);
  fresh.socket.write('c');
  await delay(150); // an absence can only be observed over a window
  t.equal(received, start, 'nothing reached the target');
  t.equal(held.data, 'a');
  t.notOk(held.closed || fresh.closed, 'nothing was closed');
  proxy.partition(false);
  await waitFor(() => held.data === 'ab' && fresh.data === 'c', { message: 'held bytes delivered after healing' });

  proxy.partition(true, 'blackhole');
  const watcher = await client(proxy);
  held.socket.destroy();
  await waitFor(() => proxy.open() === 3 && held.closed, { message: 'close is held' });
  t.equal(proxy.open(), 3, 'the closed connection is still open towards the target');
  proxy.partition(false);
  await waitFor(() => proxy.open() === 2, { message: 'the close passes once healed' });
  t.notOk(watcher.closed);
});

t.test('setDelay delays each direction and keeps order', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port: echoPort });
  t.teardown(() => proxy.close());
  const c = await client(proxy);
  proxy.setDelay(50);
  const start = performance.now();
  for (let i = 0; i < 10; i++) c.socket.write(String(i));
  await waitFor(() => c.data.length === 10, { message: 'all echoed' });
  t.equal(c.data, '0123456789');
  t.ok(performance.now() - start >= 95, 'round trip took at least twice the delay');
  proxy.setDelay(0);
});

t.test('close destroys connections', async (t) => {
  const proxy = await startProxy({ host: '127.0.0.1', port: echoPort });
  const c = await client(proxy);
  await proxy.close();
  await waitFor(() => c.closed, { message: 'client connection closed' });
  t.equal(proxy.open(), 0);
});
