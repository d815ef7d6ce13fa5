import t from 'tap';
import { HttpForwarding } from '../../src/agent/http-forwarding.js';
import { writeName } from '../../src/http/context.js';
import { decodeResponse, encodeRequest } from '../../src/http/forward.js';
import { HttpApi } from '../../src/http/server.js';
import type { ApiRequest } from '../../src/http/types.js';
import { silentLogger } from '../../src/log.js';
import { startAgent } from '../helpers/in-process.js';

t.test('writeName numbers a named request\'s writes and names nothing without a name', async (t) => {
  const req = { names: { id: 'abc', seq: 0 } } as unknown as ApiRequest;
  t.equal(writeName(req), 'abc:0');
  t.equal(writeName(req), 'abc:1');
  t.equal(writeName({} as ApiRequest), undefined);
});

/** A forwarded KV PUT as another agent hands it on (RPC.http), under the request ID `rid`. */
function forwardedPut(key: string, query: string, rid: string, value: string): Buffer {
  const req: ApiRequest = {
    method: 'PUT', path: `/v1/kv/${key}`, params: {}, query: new URLSearchParams(query),
    headers: { 'x-muster-rid': rid }, body: Buffer.from(value), signal: new AbortController().signal,
  };
  return encodeRequest(req);
}

t.test('a forwarded request sent again under its ID applies once; another ID is a new write', async (t) => {
  const agent = await startAgent(t);
  const api = new HttpApi(agent, silentLogger(), { host: '127.0.0.1', port: 0, forwarding: new HttpForwarding(agent, agent.rpc) });
  t.teardown(() => api.close());
  const send = async (body: Buffer) => {
    const res = decodeResponse(await api.serveForwarded(body, new AbortController().signal));
    return `${res.status} ${String(res.body).trim()}`;
  };
  // cas=0 creates the key only if it does not exist: a second application would answer false
  t.equal(await send(forwardedPut('once', 'cas=0', 'req-1', 'first')), '200 true', 'the first delivery creates the key');
  t.equal(await send(forwardedPut('once', 'cas=0', 'req-1', 'first')), '200 true', 'the resend is answered with the first outcome');
  t.equal(await send(forwardedPut('once', 'cas=0', 'req-2', 'second')), '200 false', 'a different request is applied, and fails its cas');
  const row = agent.store?.kv.get('once');
  t.equal(row?.value.toString(), 'first', 'the value of the one applied write');
});
