import t from 'tap';
import { MemoryStorage } from '../../src/raft/storage.js';
import type { Entry } from '../../src/raft/types.js';

const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index % 256]) });
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));
const terms = (s: MemoryStorage, lo: number, hi: number): number[] => s.entries(lo, hi, Number.MAX_SAFE_INTEGER).map((e) => e.term);

t.test('MemoryStorage appends in place, replaces a conflicting suffix, and hands out copies', async (t) => {
  const s = new MemoryStorage();
  s.append(range(1, 5, 1));
  const before = s.entries(1, 6, Number.MAX_SAFE_INTEGER);
  s.append(range(6, 8, 1));
  t.equal(s.lastIndex(), 8);
  t.same(terms(s, 1, 9), [1, 1, 1, 1, 1, 1, 1, 1]);
  s.append(range(4, 6, 2)); // a new leader's entries from index 4 on replace 4..8
  t.equal(s.lastIndex(), 6, 'the old suffix after the new entries is gone');
  t.same(terms(s, 1, 7), [1, 1, 1, 2, 2, 2]);
  t.same(before.map((e) => e.term), [1, 1, 1, 1, 1], 'a slice handed out earlier is unchanged');
  t.throws(() => s.append(range(9, 9, 2)), /missing log entries/, 'a gap is refused');
  s.compact(3);
  s.append(range(2, 7, 2)); // overlaps the compacted prefix: the part at or below it is skipped
  t.equal(s.firstIndex(), 4);
  t.same(terms(s, 4, 8), [2, 2, 2, 2]);
  const big = new MemoryStorage();
  for (let i = 1; i <= 50_000; i++) big.append([ent(i, 1)]);
  t.equal(big.lastIndex(), 50_000, '50,000 single appends (each copied the whole log before)');
});
