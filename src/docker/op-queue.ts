import type { Logger } from '../log.js';
import { errorMessage, isMusterError } from '../errors.js';
import { sleep as defaultSleep } from '../time.js';

export interface QueuedOp {
  /** For logs: `register web-1`. */
  describe: string;
  run(): Promise<void>;
}

export interface OpQueueOptions {
  log: Logger;
  signal: AbortSignal;
  /** First retry delay, doubled per failure up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The sidecar's pending changes to the registry, one per key (a service or
 * check id): a newer change to a key replaces an older one that has not run
 * yet, and keeps its place in line. Changes run one at a time, in order; a
 * failure is retried with back-off until it succeeds or is superseded, so a
 * registry outage loses nothing and, once over, leaves exactly the latest
 * wanted state.
 */
export class OpQueue {
  private readonly pending = new Map<string, QueuedOp>();
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  private failures = 0;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly opts: OpQueueOptions) {
    this.sleep = opts.sleep ?? defaultSleep;
  }

  get size(): number {
    return this.pending.size;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  push(key: string, op: QueuedOp): void {
    this.pending.set(key, op);
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
  }

  /** Forgets a pending change (its subject is gone). */
  drop(key: string): void {
    this.pending.delete(key);
  }

  /** Resolves once nothing is pending (or the queue was stopped). */
  idle(): Promise<void> {
    if (this.pending.size === 0 || this.opts.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    const { log, signal } = this.opts;
    const min = this.opts.minDelayMs ?? 250;
    const max = this.opts.maxDelayMs ?? 30_000;
    try {
      await this.drainLoop(log, signal, min, max);
    } finally {
      // cleared before the waiters hear of it, so a push from a waiter starts a new drain
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async drainLoop(log: Logger, signal: AbortSignal, min: number, max: number): Promise<void> {
    while (this.pending.size > 0 && !signal.aborted) {
      const [key, op] = this.pending.entries().next().value as [string, QueuedOp];
      try {
        await op.run();
        if (this.failures > 0) log.info({ attempts: this.failures }, 'registry reachable again');
        this.failures = 0;
        if (this.pending.get(key) === op) this.pending.delete(key);
      } catch (err) {
        if (isRejection(err)) {
          // the registry answered and refused: retrying the same change cannot help
          log.warn({ err: errorMessage(err), op: op.describe }, 'registry rejected change; dropped');
          if (this.pending.get(key) === op) this.pending.delete(key);
          continue;
        }
        this.failures++;
        const delay = Math.min(max, min * 2 ** Math.min(this.failures - 1, 16));
        const level = this.failures === 1 || this.failures % 10 === 0 ? 'warn' : 'debug';
        log[level]({ err: errorMessage(err), op: op.describe, pending: this.pending.size, retryInMs: delay }, 'registry change failed; will retry');
        try { await this.sleep(delay, signal); } catch { break; }
      }
    }
  }
}

/** A 4xx answer (bad request, not a timeout or rate limit) is final; anything else may pass on retry. */
export function isRejection(err: unknown): boolean {
  return isMusterError(err) && err.status >= 400 && err.status < 500 && ![404, 408, 429].includes(err.status);
}
