import t from 'tap';
import { SortedKeys } from '../../src/state/sorted-keys.js';
import { mulberry32 } from '../helpers/prng.js';

/** The obvious model: a Set, sorted on every read. */
class Model {
  readonly keys = new Set<string>();
  sorted(): string[] {
    return [...this.keys].sort();
  }
  withPrefix(p: string): string[] {
    return this.sorted().filter((k) => k.startsWith(p));
  }
}

t.test('random adds, deletes and resets match a sorted set, across block splits', async (t) => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const rnd = mulberry32(seed);
    const s = new SortedKeys();
    const m = new Model();
    // a small alphabet makes shared prefixes and repeated keys common
    const key = () => {
      let k = '';
      const n = 1 + Math.floor(rnd() * 5);
      for (let i = 0; i < n; i++) k += 'ab/c'[Math.floor(rnd() * 4)];
      return `${k}${Math.floor(rnd() * 700)}`;
    };
    let bad = '';
    let most = 0;
    for (let step = 0; step < 6000 && bad === ''; step++) {
      const r = rnd();
      const k = key();
      if (r < 0.75) { s.add(k); m.keys.add(k); } else if (r < 0.997) { s.delete(k); m.keys.delete(k); } else {
        const keep = [...m.keys].filter(() => rnd() < 0.5);
        s.reset([...keep, ...keep.slice(0, 3)]);
        m.keys.clear();
        for (const x of keep) m.keys.add(x);
      }
      most = Math.max(most, s.size);
      if (s.size !== m.keys.size) bad = `step ${step}: size ${s.size}, want ${m.keys.size}`;
      else if (step % 500 === 0) {
        if (JSON.stringify(s.all()) !== JSON.stringify(m.sorted())) bad = `step ${step}: all() differs`;
        for (const p of ['', 'a', 'ab/', 'c', 'zz', k.slice(0, 2)]) {
          if (JSON.stringify(s.withPrefix(p)) !== JSON.stringify(m.withPrefix(p))) bad = `step ${step}: withPrefix(${p}) differs`;
        }
      }
    }
    t.equal(bad, '', `seed ${seed}`);
    t.ok(most > 600, `seed ${seed}: enough keys for several blocks of 512 (${most} at most)`);
  }
});

t.test('an empty set answers empty', async (t) => {
  const s = new SortedKeys();
  t.same(s.withPrefix(''), []);
  s.delete('x');
  t.equal(s.size, 0);
  s.add('x');
  s.delete('x');
  t.same(s.all(), []);
  t.same(s.withPrefix('x'), []);
  s.add('y');
  t.same(s.all(), ['y']);
});

t.test('ascending and descending inserts of many keys stay ordered', async (t) => {
  const up = new SortedKeys();
  const down = new SortedKeys();
  const want: string[] = [];
  for (let i = 0; i < 20_000; i++) want.push(`k/${String(i).padStart(6, '0')}`);
  for (const k of want) up.add(k);
  for (const k of [...want].reverse()) down.add(k);
  t.same(up.all(), want);
  t.same(down.all(), want);
  t.same(up.withPrefix('k/01999'), want.slice(19_990, 20_000));
  t.same(down.withPrefix('k/00019'), want.slice(190, 200));
  for (const k of want.slice(0, 19_990)) up.delete(k);
  t.same(up.all(), want.slice(19_990));
});
