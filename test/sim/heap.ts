/** A binary min-heap ordered by (at, seq): events at the same time run in the order they were scheduled. */
export interface Timed {
  at: number;
  seq: number;
}

export class EventHeap<T extends Timed> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i] as T, a[parent] as T)) break;
      const tmp = a[i] as T;
      a[i] = a[parent] as T;
      a[parent] = tmp;
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l] as T, a[m] as T)) m = l;
        if (r < a.length && before(a[r] as T, a[m] as T)) m = r;
        if (m === i) break;
        const tmp = a[i] as T;
        a[i] = a[m] as T;
        a[m] = tmp;
        i = m;
      }
    }
    return top;
  }
}

function before(x: Timed, y: Timed): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
