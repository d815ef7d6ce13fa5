import t from 'tap';
import { remainingSuspicionTime, Suspicion, suspicionTimeout, wantedConfirmations } from '../../src/gossip/suspicion.js';

t.test('remainingSuspicionTime', async (t) => {
  // n confirmations of k wanted, elapsed, min, max → remaining (ms); memberlist's suspicion_test table
  const cases: [n: number, k: number, elapsed: number, min: number, max: number, want: number][] = [
    [0, 3, 0, 2000, 30_000, 30_000],
    [1, 3, 2000, 2000, 30_000, 14_000],
    [2, 3, 3000, 2000, 30_000, 4810],
    [3, 3, 4000, 2000, 30_000, -2000],
    [4, 3, 5000, 2000, 30_000, -3000],
    [5, 3, 10_000, 2000, 30_000, -8000],
    [0, 0, 0, 2000, 30_000, 2000], // nothing to wait for: min at once
    [0, 0, 500, 2000, 30_000, 1500],
    [1, 2, 0, 6800, 40_800, 19_348], // 50 members, LAN defaults: log2/log3 of the way down
    [2, 2, 0, 6800, 40_800, 6800],
  ];
  for (const [n, k, elapsed, min, max, want] of cases) {
    t.test(`n=${n} k=${k} elapsed=${elapsed} min=${min} max=${max}`, async (t) => {
      t.equal(remainingSuspicionTime(n, k, elapsed, min, max), want);
    });
  }
});

t.test('suspicionTimeout scales with log10 of the cluster size', async (t) => {
  const cases: [mult: number, n: number, interval: number, want: number][] = [
    [3, -1, 1000, 3000],
    [3, 0, 1000, 3000],
    [3, 1, 1000, 3000],
    [3, 10, 1000, 3000],
    [3, 50, 1000, 5096],
    [3, 100, 1000, 6000],
    [3, 1000, 1000, 9000],
    [4, 50, 1000, 6795],
    [4, 1000, 1000, 12_000],
    [6, 100, 5000, 60_000],
  ];
  for (const [mult, n, interval, want] of cases) {
    t.test(`mult=${mult} n=${n} interval=${interval}`, async (t) => {
      t.equal(suspicionTimeout(mult, n, interval), want);
    });
  }
});

t.test('wantedConfirmations is suspicionMult − 2, or 0 when too few members could confirm', async (t) => {
  const cases: [mult: number, live: number, want: number][] = [
    [4, 2, 0], [4, 3, 0], [4, 4, 2], [4, 50, 2], [6, 5, 0], [6, 6, 4], [1, 10, 0],
  ];
  for (const [mult, live, want] of cases) {
    t.test(`mult=${mult} live=${live}`, async (t) => t.equal(wantedConfirmations(mult, live), want));
  }
});

t.test('Suspicion', async (t) => {
  t.test('starts at max and shrinks to min as independent members confirm', async (t) => {
    const s = new Suspicion(1, 'a', 3, 2000, 30_000, 1000);
    t.equal(s.deadlineMs, 31_000);
    t.notOk(s.confirm('a', 3000), 'the accuser does not confirm itself');
    t.ok(s.confirm('b', 3000));
    t.equal(s.deadlineMs, 1000 + 16_000, 'one of three: 30 s − 28 s × log 2 / log 4');
    t.notOk(s.confirm('b', 3500), 'a confirmation counts once');
    t.ok(s.confirm('c', 4000));
    t.ok(s.confirm('d', 5000));
    t.equal(s.deadlineMs, 5000, 'k confirmations reach min, already past: due now');
    t.notOk(s.confirm('e', 5000), 'no more than k');
    t.equal(s.confirmations, 3);
  });

  t.test('with k = 0 runs for min', async (t) => {
    const s = new Suspicion(1, 'a', 0, 2000, 30_000, 0);
    t.equal(s.deadlineMs, 2000);
    t.notOk(s.confirm('b', 10));
  });
});
