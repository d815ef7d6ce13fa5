import t from 'tap';
import { parseHostPort, runTcpCheck, tcpCheckConfig } from '../../src/health/tcp.js';
import { closedPort, startTcpServer } from './servers.js';

t.test('parseHostPort', async (t) => {
  const cases: Array<[string, { host: string; port: number } | undefined]> = [
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80 }],
    ['example.com:8500', { host: 'example.com', port: 8500 }],
    ['[::1]:53', { host: '::1', port: 53 }],
    ['127.0.0.1', undefined],
    ['::1:53', undefined],
    ['host:99999', undefined],
    [':80', undefined],
  ];
  for (const [input, want] of cases) t.same(parseHostPort(input), want, input);
});

t.test('tcpCheckConfig defaults the timeout to 10 s', async (t) => {
  t.same(tcpCheckConfig({ tcp: 'h:1' }), { address: 'h:1', timeoutMs: 10_000 });
  t.same(tcpCheckConfig({ tcp: 'h:1', timeoutMs: 300 }), { address: 'h:1', timeoutMs: 300 });
});

t.test('a listening port is passing', async (t) => {
  const server = await startTcpServer();
  t.teardown(server.close);
  const address = `127.0.0.1:${server.port}`;
  const r = await runTcpCheck({ address, timeoutMs: 300 });
  t.same(r, { status: 'passing', output: `TCP connect ${address}: Success` });
});

t.test('a closed port is critical with the dial error', async (t) => {
  const port = await closedPort();
  const address = `127.0.0.1:${port}`;
  const r = await runTcpCheck({ address, timeoutMs: 300 });
  t.same(r, { status: 'critical', output: `dial tcp ${address}: connect: connection refused` });
});

t.test('a malformed address is critical', async (t) => {
  const r = await runTcpCheck({ address: 'nohost', timeoutMs: 300 });
  t.equal(r.status, 'critical');
  t.match(r.output, /^dial tcp nohost: /);
});

t.test('a timeout is critical (i/o timeout), driven by the injected timers', async (t) => {
  // A connect on loopback is too fast to time out for real, so the timer fires at once.
  const server = await startTcpServer();
  t.teardown(server.close);
  const address = `127.0.0.1:${server.port}`;
  const timers = { setTimeout: (fn: () => void) => { fn(); return 0; }, clearTimeout: () => undefined };
  const r = await runTcpCheck({ address, timeoutMs: 300 }, { timers });
  t.same(r, { status: 'critical', output: `dial tcp ${address}: i/o timeout` });
});
