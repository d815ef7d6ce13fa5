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
 * One shared "something changed" promise per store, so that a thousand
 * waiting queries cost one listener, not a thousand.
 */
export class ChangeFeed {
  private next: Promise<void> | undefined;
  private resolveNext: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(store: StateStore) {
    this.unsubscribe = store.subscribe(() => {
      const r = this.resolveNext;
      this.next = undefined;
      this.resolveNext = undefined;
      r?.();
    });
  }

  /** Resolves at the next applied command. */
  changed(): Promise<void> {
    if (!this.next) this.next = new Promise<void>((resolve) => { this.resolveNext = resolve; });
    return this.next;
  }

  close(): void {
    this.unsubscribe();
    this.resolveNext?.();
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
  const deadline = waitMs + random() * (waitMs / 16);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadline);
    onAbort = () => resolve('timeout');
    req.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    for (;;) {
      const outcome = await Promise.race([feed.changed().then(() => 'changed' as const), timeout]);
      result = query();
      if (outcome === 'timeout' || result.index > minIndex) return floor(result);
    }
  } finally {
    clearTimeout(timer);
    if (onAbort) req.signal.removeEventListener('abort', onAbort);
  }
}

function floor<T>(r: Indexed<T>): Indexed<T> {
  return r.index >= 1 ? r : { index: 1, value: r.value };
}
