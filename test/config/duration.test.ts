import t from 'tap';
import { durationFromJson, formatDuration, parseDurationMs, parseDurationNs } from '../../src/config/duration.js';

t.test('parseDurationMs: Go time.ParseDuration', async (t) => {
  const cases: Array<[string, number | undefined]> = [
    ['500ms', 500],
    ['1m30s', 90_000],
    ['15000ms', 15_000],
    ['1.5h', 5_400_000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h2m3s4ms', 3_723_004],
    ['0', 0],
    ['-0', 0],
    ['0s', 0],
    ['-1s', -1000],
    ['+2s', 2000],
    ['.5s', 500],
    ['1.s', 1000],
    ['500us', 0.5],
    ['500µs', 0.5],
    ['1000000ns', 1],
    // not durations
    ['10', undefined], // a bare number is invalid, except "0"
    ['abc', undefined],
    ['5x', undefined],
    ['', undefined],
    ['s', undefined],
    ['-', undefined],
    ['1m 30s', undefined],
    ['1.5.5s', undefined],
    ['10S', undefined], // units are case-sensitive
  ];
  for (const [input, want] of cases) {
    t.equal(parseDurationMs(input), want, JSON.stringify(input));
  }
});

t.test('parseDurationNs keeps nanoseconds', async (t) => {
  t.equal(parseDurationNs('1ns'), 1);
  t.equal(parseDurationNs('1us'), 1000);
  t.equal(parseDurationNs('1.5s'), 1_500_000_000);
});

t.test('durationFromJson: a Go duration string or integer nanoseconds', async (t) => {
  const cases: Array<[unknown, number | undefined]> = [
    ['10s', 10_000],
    [15_000_000_000, 15_000],
    [0, 0],
    ['nope', undefined],
    [true, undefined],
    [null, undefined],
    [Number.NaN, undefined],
  ];
  for (const [input, want] of cases) t.equal(durationFromJson(input), want, JSON.stringify(input));
});

t.test('formatDuration prints like Go Duration.String', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.5, '500µs'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [1000, '1s'],
    [1500, '1.5s'],
    [15_000, '15s'],
    [60_000, '1m0s'],
    [61_000, '1m1s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [3_601_000, '1h0m1s'],
    [5_400_000, '1h30m0s'],
    [86_400_000, '24h0m0s'],
    [-1000, '-1s'],
    [-90_000, '-1m30s'],
  ];
  for (const [ms, want] of cases) t.equal(formatDuration(ms), want, `${ms} ms`);
});

t.test('formatDuration round-trips through parseDurationMs', async (t) => {
  for (const ms of [0, 1, 0.5, 0.0015, 999, 1000, 1234, 59_999, 60_000, 90_500, 3_599_999, 3_600_000, 5_400_000, 123_456_789, -42]) {
    t.equal(parseDurationMs(formatDuration(ms)), ms, `${ms} ms → ${formatDuration(ms)}`);
  }
});
