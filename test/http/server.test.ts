import t from 'tap';
import { connect } from 'node:net';
import { startApi } from '../helpers/in-process.js';

t.test('GET /v1/status/leader and /v1/status/peers', async (t) => {
  const { call } = await startApi(t);
  const leader = await call('GET', '/v1/status/leader');
  t.equal(leader.status, 200);
  t.match(leader.text, /^"127\.0\.0\.1:\d+"$/, 'a non-empty JSON string: registrator\'s liveness ping');
  t.match(leader.headers.get('content-type'), /^application\/json/);
  t.same((await call('GET', '/v1/status/peers')).json(), [JSON.parse(leader.text) as string]);
});

t.test('unknown paths are 404; the root answers like Consul without UI', async (t) => {
  const { call } = await startApi(t, { ui: false });
  for (const path of ['/v1/nope', '/v1/catalog/service/a/b', '/v2/catalog/services', '/v1/agent/check/pass/']) {
    t.equal((await call('GET', path)).status, 404, path);
  }
  t.equal((await call('PUT', '/v1/nope', { a: 1 })).status, 404, 'with a body too');
  const root = await call('GET', '/');
  t.equal(root.status, 200);
  t.equal(root.text, 'Consul Agent');
});

t.test('HEAD is a GET without a body', async (t) => {
  const { call } = await startApi(t);
  const r = await call('HEAD', '/v1/catalog/services');
  t.equal(r.status, 200);
  t.equal(r.text, '');
  t.match(r.headers.get('x-consul-index'), /^\d+$/);
});

t.test('?dc= naming another datacenter: Consul\'s 500', async (t) => {
  const { call } = await startApi(t);
  const r = await call('GET', '/v1/catalog/services?dc=dc2');
  t.equal(r.status, 500);
  t.equal(r.text, 'No path to datacenter');
  t.equal((await call('GET', '/v1/catalog/services?dc=DC1')).status, 200, 'our own, in any case');
});

t.test('a request body over the limit is a 413', async (t) => {
  const { call } = await startApi(t, { maxBodyBytes: 1024 });
  const big = JSON.stringify({ Name: 'web', Meta: { pad: 'x'.repeat(2000) } });

  t.test('declared by Content-Length', async (t) => {
    const r = await call('PUT', '/v1/agent/service/register', big);
    t.equal(r.status, 413);
    t.same((await call('GET', '/v1/agent/services')).json(), {}, 'nothing registered');
  });

  t.test('streamed without a length', async (t) => {
    const chunk = new TextEncoder().encode(big);
    const body = new ReadableStream<Uint8Array>({
      start(controller) { controller.enqueue(chunk); controller.close(); },
    });
    const r = await call('PUT', '/v1/agent/service/register', undefined, { body, duplex: 'half' } as RequestInit);
    t.equal(r.status, 413);
    t.same((await call('GET', '/v1/agent/services')).json(), {}, 'nothing registered');
  });

  t.test('a body at the limit is fine', async (t) => {
    const small = JSON.stringify({ Name: 'web', Meta: { pad: 'x' } });
    const r = await call('PUT', '/v1/agent/service/register', small.padEnd(1024, ' '));
    t.equal(r.status, 200);
  });

  t.test('the server still answers after rejecting', async (t) => {
    t.equal((await call('GET', '/v1/status/leader')).status, 200);
  });
});

t.test('agent writes accept GET, PUT and POST; reads do not accept writes', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'a', Name: 'a', Check: { TTL: '1m' } });
  for (const method of ['GET', 'PUT', 'POST']) {
    t.equal((await call(method, '/v1/agent/check/pass/service:a')).status, 200, `${method} check/pass`);
  }
  t.equal((await call('POST', '/v1/agent/service/register', { ID: 'b', Name: 'b' })).status, 200, 'POST register');
  const r = await call('DELETE', '/v1/agent/service/deregister/b');
  t.equal(r.status, 405);
  t.match(r.headers.get('allow'), /PUT/);
  t.equal((await call('PUT', '/v1/agent/services')).status, 405);
});

t.test('bodies: chunked, split across packets, and a client that hangs up halfway', async (t) => {
  const { call, port } = await startApi(t);
  /** Sends raw bytes in parts, optionally hanging up after them; resolves with what came back. */
  const raw = (parts: string[], hangUp: boolean) => new Promise<string>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => { got += d; if (/\r\n\r\n/.test(got) && /true|false/.test(got)) sock.end(); });
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
    sock.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          sock.write(p);
          await new Promise((r) => setImmediate(r));
        }
        if (hangUp) sock.destroy();
      })();
    });
  });
  const chunked = await raw(['PUT /v1/kv/body/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', '3\r\nabc\r\n', '2\r\nde\r\n0\r\n\r\n'], false);
  t.match(chunked, /^HTTP\/1\.1 200/, 'a chunked body is read whole');
  t.equal((await call('GET', '/v1/kv/body/chunked?raw')).text, 'abcde');
  const split = await raw(['PUT /v1/kv/body/split HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nfoo', 'bar'], false);
  t.match(split, /^HTTP\/1\.1 200/, 'a body that arrives after its headers is waited for');
  t.equal((await call('GET', '/v1/kv/body/split?raw')).text, 'foobar');
  const cut = await raw(['PUT /v1/kv/body/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part'], true);
  t.equal(cut, '', 'nothing is answered to a client that left');
  t.equal((await call('GET', '/v1/kv/body/cut')).status, 404, 'and nothing was written');
  t.equal((await call('PUT', '/v1/kv/body/after', 'ok')).status, 200, 'the server goes on serving');
});
