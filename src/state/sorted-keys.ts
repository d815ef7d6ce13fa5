/** Keys per block before it splits in two. */
const MAX_BLOCK = 512;

/**
 * A sorted set of strings with prefix ranges: the KV store's key order
 * (Consul lists keys ascending). Blocks of at most 512 keys, each sorted,
 * in order: an insert or delete moves at most one block's keys and the list
 * of blocks, not the whole set, so a million keys cost what a few thousand do.
 */
export class SortedKeys {
  private blocks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      this.count = 1;
      return;
    }
    const b = this.blockFor(key);
    const block = this.blocks[b] as string[];
    const i = lowerBound(block, key);
    if (block[i] === key) return;
    block.splice(i, 0, key);
    this.count++;
    if (block.length > MAX_BLOCK) this.blocks.splice(b + 1, 0, block.splice(block.length >>> 1));
  }

  delete(key: string): void {
    if (this.blocks.length === 0) return;
    const b = this.blockFor(key);
    const block = this.blocks[b] as string[];
    const i = lowerBound(block, key);
    if (block[i] !== key) return;
    block.splice(i, 1);
    this.count--;
    if (block.length === 0) this.blocks.splice(b, 1);
  }

  /** Every key that starts with `prefix`, ascending. */
  withPrefix(prefix: string): string[] {
    const out: string[] = [];
    if (this.blocks.length === 0) return out;
    const first = this.blockFor(prefix);
    for (let b = first; b < this.blocks.length; b++) {
      const block = this.blocks[b] as string[];
      for (let i = b === first ? lowerBound(block, prefix) : 0; i < block.length; i++) {
        const k = block[i] as string;
        if (!k.startsWith(prefix)) return out;
        out.push(k);
      }
    }
    return out;
  }

  /** Every key, ascending (a copy). */
  all(): string[] {
    return this.blocks.flat();
  }

  /** Replaces the contents with `keys` (any order, duplicates dropped): a snapshot restore. */
  reset(keys: Iterable<string>): void {
    const sorted = [...new Set(keys)].sort();
    this.blocks = [];
    for (let i = 0; i < sorted.length; i += MAX_BLOCK / 2) this.blocks.push(sorted.slice(i, i + MAX_BLOCK / 2));
    this.count = sorted.length;
  }

  /** The first block whose last key is >= key, or the last block (non-empty set). */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid] as string[];
      if ((block[block.length - 1] as string) < key) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

/** The first position in a sorted array whose key is >= key. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}
