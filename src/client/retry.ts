import { MusterError } from '../errors.js';

/** Back-off after failed attempts, p-retry's shape: `delay = min(max, min × factor^(attempt-1) × (1 + random?))`. */
export interface RetryOptions {
  /** Consecutive failures tolerated before giving up (default Infinity: a watch keeps trying). */
  retries?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** The first delay, ms (default 1000). */
  minTimeoutMs?: number;
  /** The longest delay, ms (default 30 000, node-consul's cap). */
  maxTimeoutMs?: number;
  /** Multiply each delay by 1 + random() (default false). */
  randomize?: boolean;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

/** Waits `ms`, rejecting promptly (and leaving no timer) when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Defaults filled in one place; each number checked with a one-line error naming it. */
export function retryOptions(opts: RetryOptions = {}): ResolvedRetryOptions {
  const o = { ...opts };
  o.retries ??= Infinity;
  o.factor ??= 2;
  o.minTimeoutMs ??= 1000;
  o.maxTimeoutMs ??= 30_000;
  o.randomize ??= false;
  for (const name of ['retries', 'factor', 'minTimeoutMs', 'maxTimeoutMs'] as const) {
    const v = o[name];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new MusterError('ERR_CONFIG', `retry.${name} must be a non-negative number, not ${String(v)}`);
  }
  if (o.minTimeoutMs > o.maxTimeoutMs) throw new MusterError('ERR_CONFIG', 'retry.minTimeoutMs must not exceed retry.maxTimeoutMs');
  return o as ResolvedRetryOptions;
}

/** The delay before attempt `attempt + 1` after `attempt` (≥ 1) consecutive failures. */
export function backoffDelayMs(attempt: number, o: ResolvedRetryOptions, random: () => number = Math.random): number {
  const scale = o.randomize ? 1 + random() : 1;
  const delay = Math.round(scale * o.minTimeoutMs * o.factor ** Math.max(0, attempt - 1));
  return Math.min(o.maxTimeoutMs, delay);
}
