import t from 'tap';
import { Router } from '../../src/http/router.js';
import type { Handler } from '../../src/http/types.js';

const h = (name: string): Handler => (() => Promise.resolve({ status: 200, body: name })) as unknown as Handler;

function names(r: Router, method: string, path: string): unknown {
  const m = r.match(method, path);
  if (m.kind !== 'found') return m.kind === 'method-not-allowed' ? { allow: m.allow.sort() } : 'not-found';
  return { pattern: m.pattern, params: m.params, anyServer: m.anyServer };
}

t.test('routes match by literal prefix, parameters and a tail, in registration order', async (t) => {
  const r = new Router();
  r.add('GET', '/', h('root'));
  r.add('GET', '/v1/kv/*key', h('kv-get'));
  r.add(['PUT', 'POST'], '/v1/kv/*key', h('kv-put'), { anyServer: true });
  r.add('GET', '/v1/agent/services', h('services'));
  r.add('GET', '/v1/agent/service/:id', h('service'));
  r.add('PUT', '/v1/agent/service/register', h('register'));
  r.add('GET', '/:any/ping', h('generic-late'));
  r.add('GET', '/ui/*path', h('ui'));
  t.same(names(r, 'GET', '/'), { pattern: '/', params: {}, anyServer: false });
  t.same(names(r, 'GET', '/v1/kv/'), { pattern: '/v1/kv/*key', params: { key: '' }, anyServer: false }, 'an empty tail');
  t.same(names(r, 'GET', '/v1/kv/a/b%20c'), { pattern: '/v1/kv/*key', params: { key: 'a/b c' }, anyServer: false });
  t.same(names(r, 'PUT', '/v1/kv/a'), { pattern: '/v1/kv/*key', params: { key: 'a' }, anyServer: true });
  t.same(names(r, 'DELETE', '/v1/kv/a'), { allow: ['GET', 'POST', 'PUT'] }, 'the methods of every route that fits');
  t.same(names(r, 'GET', '/v1/kv'), { pattern: '/v1/kv/*key', params: { key: '' }, anyServer: false }, 'a tail may be absent');
  t.same(names(r, 'GET', '/v1/agent/service/web%2F1'), { pattern: '/v1/agent/service/:id', params: { id: 'web/1' }, anyServer: false });
  t.same(names(r, 'GET', '/v1/agent/service/'), 'not-found', 'a parameter is not empty');
  t.same(names(r, 'GET', '/v1/agent/service/register'), { pattern: '/v1/agent/service/:id', params: { id: 'register' }, anyServer: false }, 'the earlier route wins');
  t.same(names(r, 'PUT', '/v1/agent/service/register'), { pattern: '/v1/agent/service/register', params: {}, anyServer: false });
  t.same(names(r, 'GET', '/v1/ping'), { pattern: '/:any/ping', params: { any: 'v1' }, anyServer: false }, 'a route added after a literal bucket exists still matches in it');
  t.same(names(r, 'GET', '/x/ping'), { pattern: '/:any/ping', params: { any: 'x' }, anyServer: false }, 'and outside any bucket');
  t.same(names(r, 'GET', '/ui/'), { pattern: '/ui/*path', params: { path: '' }, anyServer: false });
  t.same(names(r, 'GET', '/ui/a/b.js'), { pattern: '/ui/*path', params: { path: 'a/b.js' }, anyServer: false });
  t.same(names(r, 'GET', '/v2/kv/a'), 'not-found');
  t.same(names(r, 'GET', '/v1/agent/services/extra'), 'not-found', 'a literal route takes no extra segments');
});
