import t from 'tap';
import type { HealthStatus } from '../../src/agent/definition.js';
import type { CheckResult } from '../../src/health/check.js';
import { PeriodicCheck } from '../../src/health/periodic.js';
import { CheckRunners } from '../../src/health/runner.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers/wait.js';
import { FakeTimers } from './fake-timers.js';
import { startHttpServer, startTcpServer } from './servers.js';

interface Report { checkId: string; status: HealthStatus; output: string }

function makeRunners(t: { teardown: (fn: () => void) => void }, opts: { timers?: FakeTimers; random?: () => number; onResult?: () => void } = {}) {
  const reports: Report[] = [];
  const runners = new CheckRunners({
    log: silentLogger(),
    onResult: (checkId, status, output) => {
      reports.push({ checkId, status, output });
      opts.onResult?.();
    },
    ...(opts.timers ? { timers: opts.timers } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  });
  t.teardown(() => runners.stopAll());
  return { runners, reports };
}

t.test('an HTTP check turns passing promptly, then runs every interval', async (t) => {
  const server = await startHttpServer((_req, res) => res.end('ok'));
  t.teardown(server.close);
  const { runners, reports } = makeRunners(t);
  const started = Date.now();
  t.equal(runners.start('web', { http: server.url('/health'), intervalMs: 1000, timeoutMs: 300 }), true);
  t.ok(runners.has('web'));
  const first = await waitFor(() => reports[0], { timeoutMs: 900, message: 'no prompt first run' });
  t.same(first, { checkId: 'web', status: 'passing', output: `HTTP GET ${server.url('/health')}: 200 OK Output: ok` });
  t.ok(Date.now() - started < 900, 'first run well within the interval');
  await waitFor(() => reports.length >= 2, { timeoutMs: 3000, message: 'no second run' });
  t.ok(Date.now() - started >= 900, 'second run about one interval later');
});

t.test('a TCP check reports passing; a stopped listener turns it critical', async (t) => {
  const server = await startTcpServer();
  t.teardown(server.close);
  const { runners, reports } = makeRunners(t);
  const address = `127.0.0.1:${server.port}`;
  t.equal(runners.start('db', { tcp: address, intervalMs: 1000, timeoutMs: 300 }), true);
  const r = await waitFor(() => reports[0], { timeoutMs: 2000 });
  t.same(r, { checkId: 'db', status: 'passing', output: `TCP connect ${address}: Success` });
  await server.close();
  const down = await waitFor(() => reports.find((x) => x.status === 'critical'), { timeoutMs: 3000 });
  t.equal(down.output, `dial tcp ${address}: connect: connection refused`);
});

t.test('500 → critical and 429 → warning through the runner', async (t) => {
  const server = await startHttpServer((req, res) => { res.statusCode = req.url === '/busy' ? 429 : 500; res.end(); });
  t.teardown(server.close);
  const { runners, reports } = makeRunners(t);
  runners.start('a', { http: server.url('/fail'), intervalMs: 1000, timeoutMs: 300 });
  runners.start('b', { http: server.url('/busy'), intervalMs: 1000, timeoutMs: 300 });
  const a = await waitFor(() => reports.find((r) => r.checkId === 'a'), { timeoutMs: 2000 });
  const b = await waitFor(() => reports.find((r) => r.checkId === 'b'), { timeoutMs: 2000 });
  t.equal(a.status, 'critical');
  t.equal(b.status, 'warning');
});

t.test('intervals below 1 s are raised to 1 s; the first run is staggered within min(interval, 250 ms)', async (t) => {
  const server = await startHttpServer((_req, res) => res.end());
  t.teardown(server.close);
  const timers = new FakeTimers();
  const { runners, reports } = makeRunners(t, { timers, random: () => 0.5 });
  runners.start('fast', { http: server.url(), intervalMs: 10, timeoutMs: 300 });
  t.same(timers.pending().map((p) => p.ms), [125], 'first delay = 0.5 × min(interval raised to 1000, 250)');
  timers.fire();
  t.same(timers.pending().map((p) => p.ms), [300], 'only the request timeout is armed while the run is in flight');
  await waitFor(() => reports[0], { timeoutMs: 2000 });
  const next = timers.pending();
  t.equal(next.length, 1);
  t.ok((next[0]?.ms ?? 0) > 900 && (next[0]?.ms ?? 0) <= 1000, `next run ~1 s after the start of this one (${next[0]?.ms})`);
});

t.test('replacing a check stops the old runner; its in-flight run never reports', async (t) => {
  let hangingClosed = false;
  const hanging = await startHttpServer((req) => { req.socket.on('close', () => { hangingClosed = true; }); });
  t.teardown(hanging.close);
  const healthy = await startHttpServer((_req, res) => res.end('new'));
  t.teardown(healthy.close);
  const { runners, reports } = makeRunners(t, { random: () => 0 });
  runners.start('svc', { http: hanging.url(), intervalMs: 1000, timeoutMs: 5000 });
  await waitFor(() => hanging.requests.length > 0, { timeoutMs: 2000, message: 'old check never ran' });
  t.equal(runners.start('svc', { http: healthy.url(), intervalMs: 1000, timeoutMs: 300 }), true);
  await waitFor(() => hangingClosed, { timeoutMs: 2000, message: 'old request not aborted' });
  const r = await waitFor(() => reports[0], { timeoutMs: 2000 });
  t.match(r, { checkId: 'svc', status: 'passing', output: /Output: new$/ });
  t.same(reports.filter((x) => !x.output.endsWith('Output: new')), [], 'nothing reported by the replaced runner');
  t.equal(hanging.requests.length, 1);
});

t.test('replacing a check clears its pending timer', async (t) => {
  const timers = new FakeTimers();
  const { runners } = makeRunners(t, { timers, random: () => 0 });
  runners.start('x', { http: 'http://127.0.0.1:1/', intervalMs: 1000 });
  runners.start('x', { ttlMs: 5000 });
  t.same(timers.pending().map((p) => p.ms), [5000], 'only the TTL timer is left');
  t.equal(runners.updateTtl('x', 'passing', ''), true);
});

t.test('stop() aborts the in-flight run and prevents further reports', async (t) => {
  let closed = false;
  const server = await startHttpServer((req) => { req.socket.on('close', () => { closed = true; }); });
  t.teardown(server.close);
  const { runners, reports } = makeRunners(t, { random: () => 0 });
  runners.start('c', { http: server.url(), intervalMs: 1000, timeoutMs: 5000 });
  await waitFor(() => server.requests.length > 0, { timeoutMs: 2000 });
  t.equal(runners.stop('c'), true);
  t.equal(runners.has('c'), false);
  t.equal(runners.stop('c'), false, 'a second stop is a no-op');
  await waitFor(() => closed, { timeoutMs: 2000, message: 'request not aborted' });
  t.same(reports, [], 'the aborted run did not report');
});

t.test('stop() between runs clears the timer', async (t) => {
  const server = await startHttpServer((_req, res) => res.end());
  t.teardown(server.close);
  const timers = new FakeTimers();
  const { runners, reports } = makeRunners(t, { timers, random: () => 0 });
  runners.start('c', { http: server.url(), intervalMs: 1000 });
  timers.fire();
  await waitFor(() => reports[0], { timeoutMs: 2000 });
  t.equal(timers.pending().length, 1, 'next run armed');
  runners.stop('c');
  t.same(timers.pending(), []);
});

t.test('runs never overlap, and a run longer than the interval delays the next', async (t) => {
  const timers = new FakeTimers();
  let clock = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let probes = 0;
  let release: ((r: CheckResult) => void) | undefined;
  const results: CheckResult[] = [];
  const check = new PeriodicCheck(
    () => {
      probes++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<CheckResult>((resolve) => {
        release = (r) => { inFlight--; resolve(r); };
      });
    },
    { intervalMs: 1000, firstDelayMs: 0 },
    { report: (r) => results.push(r), timers, log: silentLogger(), now: () => clock },
  );
  t.teardown(() => check.stop());
  check.start();
  t.equal(timers.fire(), 1);
  t.equal(probes, 1);
  t.equal(timers.fire(), 0, 'nothing armed while a run is in flight');
  clock += 2500; // the run outlasts the interval
  release?.({ status: 'passing', output: 'slow' });
  await waitFor(() => results.length === 1, { timeoutMs: 1000 });
  t.same(timers.pending().map((p) => p.ms), [0], 'the next run starts right after');
  timers.fire();
  t.equal(probes, 2);
  clock += 100;
  release?.({ status: 'passing', output: 'quick' });
  await waitFor(() => results.length === 2, { timeoutMs: 1000 });
  t.same(timers.pending().map((p) => p.ms), [900], 'a quick run keeps the interval between starts');
  t.equal(maxInFlight, 1);
});

t.test('a throwing onResult is logged and the check keeps running', async (t) => {
  const server = await startHttpServer((_req, res) => res.end());
  t.teardown(server.close);
  const timers = new FakeTimers();
  let calls = 0;
  const { runners } = makeRunners(t, { timers, random: () => 0, onResult: () => { calls++; throw new Error('handler bug'); } });
  runners.start('c', { http: server.url(), intervalMs: 1000 });
  timers.fire();
  await waitFor(() => calls === 1, { timeoutMs: 2000 });
  await waitFor(() => timers.pending().length === 1, { timeoutMs: 1000, message: 'next run not armed' });
  timers.fire();
  await waitFor(() => calls === 2, { timeoutMs: 2000 });
});

t.test('TTL checks through the runner', async (t) => {
  const { runners, reports } = makeRunners(t);
  t.equal(runners.start('ttl', { ttlMs: 150 }), true);
  t.equal(runners.updateTtl('ttl', 'passing', 'alive'), true);
  t.same(reports, [{ checkId: 'ttl', status: 'passing', output: 'alive' }], 'updateTtl reports before returning');
  const expired = await waitFor(() => reports.find((r) => r.output === 'TTL expired'), { timeoutMs: 2000 });
  t.equal(expired.status, 'critical');
});

t.test('updateTtl is false for unknown and non-TTL checks', async (t) => {
  const timers = new FakeTimers();
  const { runners, reports } = makeRunners(t, { timers });
  runners.start('web', { http: 'http://127.0.0.1:1/', intervalMs: 1000 });
  t.equal(runners.updateTtl('web', 'passing', ''), false);
  t.equal(runners.updateTtl('nope', 'passing', ''), false);
  t.same(reports, []);
});

t.test('kinds not run here start nothing', async (t) => {
  const timers = new FakeTimers();
  const { runners } = makeRunners(t, { timers });
  t.equal(runners.start('s', { args: ['/bin/true'], intervalMs: 1000 }), false);
  t.equal(runners.start('g', { grpc: '127.0.0.1:1', intervalMs: 1000 }), false);
  t.equal(runners.start('n', { name: 'nothing' }), false);
  t.equal(runners.start('h', { http: 'http://127.0.0.1:1/' }), false, 'HTTP without an interval');
  runners.start('r', { ttlMs: 1000 });
  t.equal(runners.start('r', { args: ['x'], intervalMs: 1000 }), false, 'a replacing definition of another kind');
  t.equal(runners.has('r'), false, 'and the old runner is gone');
  t.same(timers.pending(), []);
});

t.test('stopAll stops every runner', async (t) => {
  const timers = new FakeTimers();
  const { runners } = makeRunners(t, { timers });
  runners.start('a', { ttlMs: 1000 });
  runners.start('b', { tcp: '127.0.0.1:1', intervalMs: 1000 });
  runners.stopAll();
  t.equal(runners.has('a'), false);
  t.equal(runners.has('b'), false);
  t.same(timers.pending(), []);
});
