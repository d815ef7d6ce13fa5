import t, { type Test } from 'tap';
import { connect, createServer } from 'node:net';
import { DnsServer, type MessageResponder } from '../../src/dns/server.js';
import type { Transport } from '../../src/dns/responder.js';
import { MusterError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { frame, tcpExchange, udpExchange } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

/** Answers each message with its own bytes reversed plus the transport's name; "drop" gets nothing. */
const echo: MessageResponder = {
  respond: (raw: Buffer, transport: Transport) =>
    Promise.resolve(raw.toString() === 'drop' ? undefined : Buffer.concat([Buffer.from(raw).reverse(), Buffer.from(`/${transport}`)])),
};

async function start(t: Test, opts: { port?: number; idleMs?: number; responder?: MessageResponder } = {}): Promise<{ server: DnsServer; port: number }> {
  const server = new DnsServer({ host: '127.0.0.1', port: opts.port ?? 0, tcpIdleTimeoutMs: opts.idleMs ?? 5000 }, { responder: opts.responder ?? echo, log: silentLogger() });
  const addr = await server.listen();
  t.teardown(() => server.close());
  return { server, port: addr.port };
}

t.test('port 0: one free port for UDP and TCP', async (t) => {
  const { port } = await start(t);
  t.ok(port > 0);
  t.equal((await udpExchange(port, Buffer.from('abc')))?.toString(), 'cba/udp');
  const frames = await tcpExchange(port, frame(Buffer.from('xyz')), { expect: 1 });
  t.same(frames.map(String), ['zyx/tcp']);
  t.equal(await udpExchange(port, Buffer.from('drop'), 200), undefined, 'nothing to say: nothing sent');
});

t.test('TCP: several frames in one write, one frame over many writes, a half-close still gets its answers', async (t) => {
  const { port } = await start(t);
  const both = await tcpExchange(port, Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('drop')), frame(Buffer.from('two'))]), { timeoutMs: 3000 });
  t.same(both.map(String).sort(), ['eno/tcp', 'owt/tcp'], 'answered, then closed after the client half-closed');

  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  for (const byte of frame(Buffer.from('slow'))) sock.write(Buffer.from([byte]));
  await waitFor(() => Buffer.concat(got).length >= 2 + 'wols/tcp'.length, { message: 'the byte-by-byte frame answered' });
  t.equal(Buffer.concat(got).subarray(2).toString(), 'wols/tcp');
  sock.destroy();
});

t.test('TCP: an idle connection is closed by the server', async (t) => {
  const { port } = await start(t, { idleMs: 200 });
  const sock = connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('error', () => {});
  await closed;
  t.pass('closed');
});

t.test('a responder that fails is logged, the server keeps serving', async (t) => {
  let calls = 0;
  const flaky: MessageResponder = { respond: (raw, transport) => (++calls === 1 ? Promise.reject(new Error('boom')) : echo.respond(raw, transport)) };
  const { port } = await start(t, { responder: flaky });
  t.equal(await udpExchange(port, Buffer.from('a'), 200), undefined);
  t.equal((await udpExchange(port, Buffer.from('b')))?.toString(), 'b/udp');
});

t.test('close() ends open connections; a taken port is a config error', async (t) => {
  const { server, port } = await start(t);
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await server.close();
  await closed;
  t.pass('the client saw its connection closed');

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const taken = (blocker.address() as { port: number }).port;
  const other = new DnsServer({ host: '127.0.0.1', port: taken, tcpIdleTimeoutMs: 1000 }, { responder: echo, log: silentLogger() });
  const err = await other.listen().then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof MusterError && err.code === 'ERR_CONFIG', 'ERR_CONFIG');
  await other.close();
});
