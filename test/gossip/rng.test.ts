import t from 'tap';
import { createRng } from '../../src/gossip/rng.js';

t.test('the same seed gives the same sequence', async (t) => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 20 }, () => a.next());
  t.same(Array.from({ length: 20 }, () => b.next()), sa);
  t.notSame(Array.from({ length: 20 }, () => c.next()), sa);
});

t.test('int(n) stays in [0, n) and covers it', async (t) => {
  const r = createRng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) seen.add(r.int(10));
  t.same([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.equal(r.int(0), 0);
  t.equal(r.int(1), 0);
});

t.test('next() is roughly uniform', async (t) => {
  const r = createRng(1);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) sum += r.next();
  t.ok(Math.abs(sum / 100_000 - 0.5) < 0.01);
});

t.test('shuffle permutes in place', async (t) => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const out = createRng(3).shuffle([...items]);
  t.same([...out].sort((a, b) => a - b), items);
  t.notSame(out, items);
});
