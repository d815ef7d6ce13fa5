import t from 'tap';
import { Awareness, scaleTimeout } from '../../src/gossip/awareness.js';

t.test('scaleTimeout multiplies by score + 1, the score clamped to [0, max − 1]', async (t) => {
  const cases: [timeout: number, score: number, max: number, want: number][] = [
    [1000, 0, 8, 1000],
    [1000, 1, 8, 2000],
    [1000, 7, 8, 8000],
    [1000, 8, 8, 8000],
    [1000, 100, 8, 8000],
    [1000, -3, 8, 1000],
    [500, 3, 8, 2000],
    [1000, 5, 1, 1000], // max 1: awareness disabled
  ];
  for (const [timeout, score, max, want] of cases) {
    t.test(`${timeout} ms at score ${score} (max ${max})`, async (t) => t.equal(scaleTimeout(timeout, score, max), want));
  }
});

t.test('Awareness keeps its score within [0, max − 1]', async (t) => {
  const a = new Awareness(8);
  t.equal(a.score, 0);
  a.applyDelta(-1);
  t.equal(a.score, 0, 'never below healthy');
  a.applyDelta(3);
  t.equal(a.score, 3);
  t.equal(a.scaleTimeout(1000), 4000);
  a.applyDelta(10);
  t.equal(a.score, 7, 'never above max − 1');
  t.equal(a.scaleTimeout(1000), 8000);
  a.applyDelta(-2);
  t.equal(a.score, 5);
});
