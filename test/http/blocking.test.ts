import { performance } from 'node:perf_hooks';
import t from 'tap';
import { parseBlocking } from '../../src/http/blocking-query.js';
import type { Catalog } from '../../src/state/catalog.js';
import { startApi } from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';

const LIMITS = { defaultWaitMs: 300_000, maxWaitMs: 600_000 };

/** Counts the calls the server makes to one catalog read, so a test knows when a blocking query is being held. */
function countCalls(catalog: Catalog, method: 'serviceInstances' | 'serviceNames'): { count: () => number } {
  let calls = 0;
  const original = catalog[method].bind(catalog) as (...args: unknown[]) => unknown;
  (catalog as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => { calls++; return original(...args); };
  return { count: () => calls };
}

t.test('parseBlocking: ?index and ?wait', async (t) => {
  const ok: Array<[string, { minIndex: number; waitMs: number }]> = [
    ['', { minIndex: 0, waitMs: 300_000 }],
    ['index=7', { minIndex: 7, waitMs: 300_000 }],
    ['index=7&wait=15000ms', { minIndex: 7, waitMs: 15_000 }],
    ['index=7&wait=1m30s', { minIndex: 7, waitMs: 90_000 }],
    ['index=7&wait=0', { minIndex: 7, waitMs: 0 }],
    ['index=7&wait=1h', { minIndex: 7, waitMs: 600_000 }], // clamped to 10 min
    ['index=&wait=', { minIndex: 0, waitMs: 300_000 }],
  ];
  for (const [q, want] of ok) t.same(parseBlocking(new URLSearchParams(q), LIMITS), want, q || '(none)');

  const bad: Array<[string, string]> = [
    ['wait=10', 'ERR_INVALID_WAIT'],
    ['wait=abc', 'ERR_INVALID_WAIT'],
    ['wait=-1s', 'ERR_INVALID_WAIT'],
    ['index=abc', 'ERR_INVALID_INDEX'],
    ['index=-1', 'ERR_INVALID_INDEX'],
    ['index=1.5', 'ERR_INVALID_INDEX'],
    ['stale&consistent', 'ERR_BAD_REQUEST'],
  ];
  for (const [q, code] of bad) {
    t.throws(() => parseBlocking(new URLSearchParams(q), LIMITS), { code }, q);
  }
});

t.test('bad blocking parameters over HTTP', async (t) => {
  const { call } = await startApi(t);
  const cases: Array<[string, string]> = [
    ['/v1/catalog/services?wait=10', 'Invalid wait time'],
    ['/v1/health/service/consul?index=1&wait=10', 'Invalid wait time'],
    ['/v1/catalog/services?index=abc', 'Invalid index'],
    ['/v1/catalog/services?stale&consistent', 'Cannot specify ?stale with ?consistent, conflicting semantics.'],
    ['/v1/catalog/nodes?stale=false&consistent=', 'Cannot specify ?stale with ?consistent, conflicting semantics.'],
  ];
  for (const [path, text] of cases) {
    const r = await call('GET', path);
    t.equal(r.status, 400, path);
    t.equal(r.text, text, path);
  }
  for (const path of ['/v1/catalog/services?stale', '/v1/catalog/services?consistent', '/v1/catalog/services?wait=0']) {
    t.equal((await call('GET', path)).status, 200, path);
  }
});

t.test('an index behind the current one answers at once', async (t) => {
  const { call } = await startApi(t);
  const current = Number((await call('GET', '/v1/catalog/services')).headers.get('x-consul-index'));
  const started = performance.now();
  const r = await call('GET', `/v1/catalog/services?index=${current - 1}&wait=10s`);
  t.equal(r.status, 200);
  t.equal(Number(r.headers.get('x-consul-index')), current);
  t.ok(performance.now() - started < 5000, 'did not wait for the 10 s (sanity bound)');
});

t.test('nothing changes: the query returns after the wait with the same index', async (t) => {
  const { call } = await startApi(t);
  const first = await call('GET', '/v1/catalog/services');
  const index = first.headers.get('x-consul-index');
  const started = performance.now();
  const r = await call('GET', `/v1/catalog/services?index=${index}&wait=300ms`);
  const elapsed = performance.now() - started;
  t.equal(r.status, 200);
  t.equal(r.headers.get('x-consul-index'), index);
  t.same(r.json(), first.json());
  t.ok(elapsed >= 290, `held for the wait (${Math.round(elapsed)} ms)`);
  t.ok(elapsed < 5000, 'and not much longer (sanity bound; the jitter is at most wait/16)');
});

t.test('an unrelated change does not end a query on one service', async (t) => {
  const { call, agent } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web' });
  const before = await call('GET', '/v1/catalog/service/web');
  const index = before.headers.get('x-consul-index');
  const calls = countCalls(agent.store!.catalog, 'serviceInstances');
  const pending = call('GET', `/v1/catalog/service/web?index=${index}&wait=400ms`);
  await waitFor(() => calls.count() >= 1, { message: 'the query never reached the catalog' });
  await call('PUT', '/v1/agent/service/register', { Name: 'db' });
  await waitFor(() => calls.count() >= 2, { message: 'the change did not wake the query' });
  const r = await pending;
  t.equal(r.headers.get('x-consul-index'), index, 'the web index did not move');
  t.same(r.json(), before.json());
});

t.test('a registration wakes a held query promptly', async (t) => {
  const { call, agent } = await startApi(t);
  const before = await call('GET', '/v1/catalog/service/web');
  const index = Number(before.headers.get('x-consul-index'));
  const calls = countCalls(agent.store!.catalog, 'serviceInstances');
  const started = performance.now();
  const pending = call('GET', `/v1/catalog/service/web?index=${index}&wait=10s`);
  await waitFor(() => calls.count() >= 1, { message: 'the query never reached the catalog' });
  const reg = await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Port: 80 });
  t.equal(reg.status, 200);
  const r = await pending;
  const elapsed = performance.now() - started;
  t.ok(Number(r.headers.get('x-consul-index')) > index, 'a newer index');
  t.same((r.json() as Array<{ ServiceID: string }>).map((e) => e.ServiceID), ['web1']);
  t.ok(elapsed < 5000, `returned well before the 10 s wait (${Math.round(elapsed)} ms; sanity bound)`);
});

t.test('health queries wake on a check change', async (t) => {
  const { call, agent } = await startApi(t);
  await call('PUT', '/v1/agent/service/register', { ID: 'web1', Name: 'web', Check: { TTL: '1m' } });
  const before = await call('GET', '/v1/health/service/web?passing');
  t.equal(before.text, '[]');
  const calls = countCalls(agent.store!.catalog, 'serviceInstances'); // serviceHealth reads through it
  const pending = call('GET', `/v1/health/service/web?passing&index=${before.headers.get('x-consul-index')}&wait=10s`);
  await waitFor(() => calls.count() >= 1);
  await call('PUT', '/v1/agent/check/pass/service:web1');
  const r = await pending;
  t.same((r.json() as Array<{ Service: { ID: string } }>).map((e) => e.Service.ID), ['web1']);
});

t.test('an index ahead of the server blocks too', async (t) => {
  const { call } = await startApi(t);
  const index = Number((await call('GET', '/v1/catalog/services')).headers.get('x-consul-index'));
  const started = performance.now();
  const r = await call('GET', `/v1/catalog/services?index=${index + 100}&wait=200ms`);
  t.ok(performance.now() - started >= 190, 'held');
  t.equal(Number(r.headers.get('x-consul-index')), index);
});

t.test('a client that goes away releases its blocking query', async (t) => {
  const ctx = await startApi(t);
  const calls = countCalls(ctx.agent.store!.catalog, 'serviceNames');
  const index = (await ctx.call('GET', '/v1/catalog/services')).headers.get('x-consul-index');
  const before = calls.count();
  const controller = new AbortController();
  const pending = fetch(`${ctx.base}/v1/catalog/services?index=${index}&wait=10m`, { signal: controller.signal });
  await waitFor(() => calls.count() > before, { message: 'the query never reached the catalog' });
  controller.abort();
  await t.rejects(pending, { name: 'AbortError' });
  // The server looks once more when the wait ends; the disconnect ends it, long before 10 minutes.
  await waitFor(() => calls.count() > before + 1, { message: 'the held query was not released', timeoutMs: 5000 });
  t.equal(calls.count(), before + 2, 'released once: no second wake-up');
  await ctx.api.close(); // resolves only when every connection has closed
});

t.test('closing the server answers held queries and closes their connections', async (t) => {
  const ctx = await startApi(t);
  const calls = countCalls(ctx.agent.store!.catalog, 'serviceNames');
  const index = (await ctx.call('GET', '/v1/catalog/services')).headers.get('x-consul-index');
  const before = calls.count();
  const pending = ctx.call('GET', `/v1/catalog/services?index=${index}&wait=10m`);
  await waitFor(() => calls.count() > before);
  await ctx.api.close();
  const r = await pending;
  t.equal(r.status, 200, 'answered with the current data');
  t.equal(r.headers.get('x-consul-index'), index);
  t.equal(r.headers.get('connection'), 'close', 'so close() need not cut a keep-alive socket');
  t.equal(calls.count(), before + 2, 'the query was released and looked once more');
});
