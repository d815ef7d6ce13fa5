import t from 'tap';
import type { CheckResult } from '../../src/health/check.js';
import { TTL_EXPIRED_OUTPUT, TtlCheck } from '../../src/health/ttl.js';
import { waitFor } from '../helpers/wait.js';
import { FakeTimers } from './fake-timers.js';

t.test('no update within the TTL: critical "TTL expired" (real timers)', async (t) => {
  const results: CheckResult[] = [];
  const ttl = new TtlCheck(100, { report: (r) => results.push(r) });
  t.teardown(() => ttl.stop());
  ttl.start();
  t.same(results, [], 'nothing reported at start');
  const expired = await waitFor(() => results[0], { timeoutMs: 2000, message: 'TTL never expired' });
  t.same(expired, { status: 'critical', output: 'TTL expired' });
  t.equal(TTL_EXPIRED_OUTPUT, 'TTL expired');
});

t.test('update reports and keeps the check alive (real timers)', async (t) => {
  const results: CheckResult[] = [];
  const ttl = new TtlCheck(300, { report: (r) => results.push(r) });
  t.teardown(() => ttl.stop());
  ttl.start();
  ttl.update('passing', 'ok 1');
  t.same(results, [{ status: 'passing', output: 'ok 1' }], 'update reports at once');
  const expired = await waitFor(() => results.find((r) => r.output === 'TTL expired'), { timeoutMs: 3000 });
  t.equal(expired.status, 'critical');
  ttl.update('warning', 'back');
  t.same(results.at(-1), { status: 'warning', output: 'back' }, 'an update after expiry revives it');
});

t.test('update resets the timer', async (t) => {
  const timers = new FakeTimers();
  const results: CheckResult[] = [];
  const ttl = new TtlCheck(1000, { report: (r) => results.push(r), timers });
  ttl.start();
  t.same(timers.pending().map((p) => p.ms), [1000]);
  const first = timers.pending()[0]?.id;
  ttl.update('passing', 'fine');
  t.equal(timers.pending().length, 1, 'one timer armed');
  t.not(timers.pending()[0]?.id, first, 'the old timer was cleared and a new one armed');
  t.equal(timers.fire(), 1);
  t.same(results, [{ status: 'passing', output: 'fine' }, { status: 'critical', output: 'TTL expired' }]);
  t.same(timers.pending(), [], 'an expiry is reported once, until the next update');
});

t.test('update output is cut to 4 KiB', async (t) => {
  const results: CheckResult[] = [];
  const ttl = new TtlCheck(1000, { report: (r) => results.push(r), timers: new FakeTimers() });
  ttl.start();
  ttl.update('passing', 'x'.repeat(5000));
  t.equal(results[0]?.output.length, 4096);
  ttl.update('passing', 'é'.repeat(3000)); // 2 bytes each: 6000 bytes
  t.equal(Buffer.byteLength(results[1]?.output ?? ''), 4096);
});

t.test('stop: no expiry and updates are ignored', async (t) => {
  const timers = new FakeTimers();
  const results: CheckResult[] = [];
  const ttl = new TtlCheck(1000, { report: (r) => results.push(r), timers });
  ttl.start();
  ttl.stop();
  t.same(timers.pending(), []);
  ttl.update('passing', 'late');
  ttl.start();
  t.same(results, []);
  t.same(timers.pending(), []);
});
