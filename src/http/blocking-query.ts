import { MusterError } from '../errors.js';
import { parseDurationMs } from '../config/duration.js';
import type { StateStore } from '../state/store.js';
import type { Indexed } from '../state/types.js';
import type { ApiRequest } from './types.js';
import { checkConsistency } from './query.js';

export interface BlockingLimits {
  defaultWaitMs: number;
  maxWaitMs: number;
}

/**
 * Wakes held queries when the store applies a command. Each waiter is
 * removed when it wakes, times out or is aborted, so a quiet store holds no
 * leftovers of queries that already answered.
 */
export class ChangeFeed {
  private waiters = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(store: StateStore) {
    this.unsubscribe = store.subscribe(() => {
      const waiting = this.waiters;
      this.waiters = new Set();
      for (const wake of waiting) wake();
    });
  }

  /** Resolves 'changed' at the next applied command, or 'timeout' after `ms` or on abort. */
  wait(ms: number, signal: AbortSignal): Promise<'changed' | 'timeout'> {
    return new Promise((resolve) => {
      if (signal.aborted) { resolve('timeout'); return; }
      const done = (outcome: 'changed' | 'timeout') => {
        clearTimeout(timer);
        this.waiters.delete(onChange);
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const onChange = () => done('changed');
      const onAbort = () => done('timeout');
      const timer = setTimeout(() => done('timeout'), ms);
      this.waiters.add(onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Number of held waiters (for tests and metrics). */
  get waiting(): number {
    return this.waiters.size;
  }

  close(): void {
    this.unsubscribe();
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }
}

export interface BlockingParams {
  minIndex: number;
  waitMs: number;
}

/** Reads `?index` and `?wait` with Consul's rules (Go durations, default 5 min, clamped to 10 min). */
export function parseBlocking(q: URLSearchParams, limits: BlockingLimits): BlockingParams {
  checkConsistency(q);
  const rawIndex = q.get('index');
  let minIndex = 0;
  if (rawIndex !== null && rawIndex !== '') {
    if (!/^\d+$/.test(rawIndex)) throw new MusterError('ERR_INVALID_INDEX', 'Invalid index');
    minIndex = Number(rawIndex);
  }
  let waitMs = limits.defaultWaitMs;
  const rawWait = q.get('wait');
  if (rawWait !== null && rawWait !== '') {
    const ms = parseDurationMs(rawWait);
    if (ms === undefined || ms < 0) throw new MusterError('ERR_INVALID_WAIT', 'Invalid wait time');
    waitMs = Math.min(ms, limits.maxWaitMs);
  }
  return { minIndex, waitMs };
}

/**
 * Runs `query` at once, or, with `?index=N`, holds the request until the
 * query's index passes N, the wait (plus up to wait/16 jitter) runs out, or
 * the client goes away, then answers with the current result. The index
 * reported is never 0.
 */
export async function blockingQuery<T>(
  req: ApiRequest, feed: ChangeFeed, limits: BlockingLimits, query: () => Indexed<T>,
  random: () => number = Math.random,
): Promise<Indexed<T>> {
  const { minIndex, waitMs } = parseBlocking(req.query, limits);
  let result = query();
  if (minIndex === 0 || result.index > minIndex) return floor(result);
  const deadline = Date.now() + waitMs + random() * (waitMs / 16);
  for (;;) {
    const left = deadline - Date.now();
    const outcome = left > 0 ? await feed.wait(left, req.signal) : 'timeout';
    result = query();
    if (outcome === 'timeout' || result.index > minIndex) return floor(result);
  }
}

function floor<T>(r: Indexed<T>): Indexed<T> {
  return r.index >= 1 ? r : { index: 1, value: r.value };
}
