import type { Timers } from '../../src/time.js';

interface Pending { id: number; ms: number; fn: () => void }

/** Timers that fire only when the test says so; `pending` shows what is armed. */
export class FakeTimers implements Timers {
  private nextId = 1;
  readonly armed = new Map<number, Pending>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.armed.set(id, { id, ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.armed.delete(handle);
  }

  pending(): Pending[] {
    return [...this.armed.values()];
  }

  /** Fires the armed timers whose delay matches `pred`, oldest first; returns how many fired. */
  fire(pred: (ms: number) => boolean = () => true): number {
    const due = this.pending().filter((p) => pred(p.ms));
    for (const p of due) {
      this.armed.delete(p.id);
      p.fn();
    }
    return due.length;
  }
}
