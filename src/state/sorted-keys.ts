/** A sorted set of strings with prefix ranges: the KV store's key order (Consul lists keys ascending). */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  add(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }

  delete(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  /** Every key that starts with `prefix`, ascending. */
  withPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const k = this.keys[i] as string;
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  all(): readonly string[] {
    return this.keys;
  }

  /** Replaces the contents with `keys` (any order, duplicates dropped): a snapshot restore. */
  reset(keys: Iterable<string>): void {
    const sorted = [...new Set(keys)].sort();
    this.keys.length = 0;
    for (const k of sorted) this.keys.push(k);
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as string) < key) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}
