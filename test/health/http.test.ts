import t from 'tap';
import { httpCheckConfig, runHttpCheck, type HttpCheckConfig } from '../../src/health/http.js';
import { waitFor } from '../helpers/wait.js';
import { closedPort, startHttpServer, TEST_TLS } from './servers.js';

const cfg = (url: string, over: Partial<HttpCheckConfig> = {}): HttpCheckConfig =>
  ({ ...httpCheckConfig({ http: url }), timeoutMs: 300, ...over });

t.test('httpCheckConfig fills Consul defaults', async (t) => {
  t.same(httpCheckConfig({ http: 'http://x/' }), {
    url: 'http://x/', method: 'GET', header: {}, body: '', tlsSkipVerify: false, timeoutMs: 10_000,
  });
  t.equal(httpCheckConfig({ http: 'http://x/', method: 'post', timeoutMs: 0 }).method, 'POST');
  t.equal(httpCheckConfig({ http: 'http://x/', timeoutMs: 0 }).timeoutMs, 10_000);
});

t.test('200 is passing, with status line and body in the output', async (t) => {
  const server = await startHttpServer((_req, res) => res.end('all good'));
  t.teardown(server.close);
  const url = server.url('/health');
  const r = await runHttpCheck(cfg(url));
  t.equal(r.status, 'passing');
  t.equal(r.output, `HTTP GET ${url}: 200 OK Output: all good`);
  t.equal(server.requests[0]?.headers['user-agent'], 'Consul Health Check');
});

t.test('any 2xx is passing', async (t) => {
  const server = await startHttpServer((_req, res) => { res.statusCode = 204; res.end(); });
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url()));
  t.equal(r.status, 'passing');
  t.match(r.output, /: 204 No Content Output: $/);
});

t.test('500 is critical', async (t) => {
  const server = await startHttpServer((_req, res) => { res.statusCode = 500; res.end('boom'); });
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url('/x')));
  t.equal(r.status, 'critical');
  t.equal(r.output, `HTTP GET ${server.url('/x')}: 500 Internal Server Error Output: boom`);
});

t.test('429 is warning', async (t) => {
  const server = await startHttpServer((_req, res) => { res.statusCode = 429; res.end('slow down'); });
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url()));
  t.equal(r.status, 'warning');
  t.match(r.output, /: 429 Too Many Requests Output: slow down$/);
});

t.test('404 and 3xx are critical (redirects are not followed)', async (t) => {
  const server = await startHttpServer((req, res) => {
    if (req.url === '/moved') { res.writeHead(301, { location: '/' }); res.end(); return; }
    res.statusCode = 404; res.end();
  });
  t.teardown(server.close);
  t.equal((await runHttpCheck(cfg(server.url('/missing')))).status, 'critical');
  t.equal((await runHttpCheck(cfg(server.url('/moved')))).status, 'critical');
});

t.test('output keeps only the first 4 KiB of the body', async (t) => {
  const big = 'a'.repeat(4096) + 'b'.repeat(10_000);
  const server = await startHttpServer((_req, res) => res.end(big));
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url()));
  t.equal(r.status, 'passing');
  const body = r.output.slice(r.output.indexOf('Output: ') + 'Output: '.length);
  t.equal(body, 'a'.repeat(4096));
});

t.test('a server that never answers is critical after the timeout', async (t) => {
  const server = await startHttpServer(() => undefined);
  t.teardown(server.close);
  const started = Date.now();
  const r = await runHttpCheck(cfg(server.url('/hang'), { timeoutMs: 200 }));
  t.equal(r.status, 'critical');
  t.equal(r.output, `Get "${server.url('/hang')}": request timed out after 200ms (Client.Timeout exceeded)`);
  t.ok(Date.now() - started >= 150, 'waited for the timeout');
});

t.test('a closed port is critical with the dial error', async (t) => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/`;
  const r = await runHttpCheck(cfg(url));
  t.equal(r.status, 'critical');
  t.equal(r.output, `Get "${url}": dial tcp 127.0.0.1:${port}: connect: connection refused`);
});

t.test('a connection closed without a response is critical', async (t) => {
  const server = await startHttpServer((req) => req.socket.destroy());
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url()));
  t.equal(r.status, 'critical');
  t.match(r.output, /^Get ".*": EOF/);
});

t.test('method, headers and body are sent', async (t) => {
  let received = '';
  const server = await startHttpServer((req, res) => {
    req.setEncoding('utf8');
    req.on('data', (c: string) => { received += c; });
    req.on('end', () => res.end('ok'));
  });
  t.teardown(server.close);
  const r = await runHttpCheck(cfg(server.url('/p'), {
    method: 'POST', body: '{"ping":1}',
    header: { 'X-Token': ['abc'], Accept: ['application/json'], 'X-Multi': ['1', '2'] },
  }));
  t.equal(r.status, 'passing');
  t.match(r.output, /^HTTP POST http:\/\/127\.0\.0\.1:\d+\/p: 200 OK Output: ok$/);
  const req = server.requests[0];
  t.equal(req?.method, 'POST');
  t.equal(req?.headers['x-token'], 'abc');
  t.equal(req?.headers.accept, 'application/json');
  t.equal(req?.headers['x-multi'], '1, 2');
  t.equal(received, '{"ping":1}');
});

t.test('https: self-signed is critical unless tlsSkipVerify', async (t) => {
  const server = await startHttpServer((_req, res) => res.end('secure'), TEST_TLS);
  t.teardown(server.close);
  const strict = await runHttpCheck(cfg(server.url()));
  t.equal(strict.status, 'critical');
  t.match(strict.output, /^Get "https:\/\/127\.0\.0\.1:\d+\/": tls: /);
  const skip = await runHttpCheck(cfg(server.url(), { tlsSkipVerify: true }));
  t.equal(skip.status, 'passing');
  t.match(skip.output, /: 200 OK Output: secure$/);
});

t.test('a bad URL or scheme is critical, without a request', async (t) => {
  t.same(await runHttpCheck(cfg('not a url')), { status: 'critical', output: 'Get "not a url": invalid URL' });
  t.same(await runHttpCheck(cfg('ftp://127.0.0.1/')), {
    status: 'critical', output: 'Get "ftp://127.0.0.1/": unsupported protocol scheme "ftp"',
  });
});

t.test('aborting the signal ends an in-flight request', async (t) => {
  const server = await startHttpServer(() => undefined);
  t.teardown(server.close);
  const controller = new AbortController();
  const pending = runHttpCheck(cfg(server.url(), { timeoutMs: 60_000 }), { signal: controller.signal });
  await waitFor(() => server.requests.length > 0, { timeoutMs: 2000, message: 'request never arrived' });
  controller.abort();
  const r = await pending;
  t.equal(r.status, 'critical');
  t.match(r.output, /check stopped$/);
});
