import { MusterError } from '../errors.js';
import { sleep as defaultSleep } from '../time.js';
import type { Indexed, MusterClient, QueryOptions } from './client.js';
import type { KvPair } from './kv.js';
import { backoffDelayMs, retryOptions, type RetryOptions, type Sleep } from './retry.js';

/** One step of a blocking query: called with the index to wait on. */
export type BlockingQuery<T> = (q: { index: number; waitMs: number; signal: AbortSignal }) => Promise<Indexed<T>>;

export interface WatchOptions {
  /** Stops the watch: the loop ends (no error) and an in-flight request is cancelled. */
  signal: AbortSignal;
  /** How long each request may block (default 5 min, Consul's default wait). */
  waitMs?: number;
  /** Back-off between failed requests. */
  retry?: RetryOptions;
  sleep?: Sleep;
  random?: () => number;
  /** Told about every failure before the back-off. */
  onError?: (err: unknown, ctx: { attempt: number; delayMs: number }) => void;
}

export interface WatchEvent<T> {
  value: T;
  /** The X-Consul-Index this value came with. */
  index: number;
}

/**
 * A blocking-query loop. Yields the first result at once, then each result
 * whose index differs from the one waited on (the server may also answer
 * unchanged when the wait ends: that is not yielded). Consul's index rules: an
 * index that goes backwards restarts the loop from 0 (the next answer is
 * yielded as new); after that first request an index below 1 is sent as 1, so
 * a confused server cannot make the loop spin. Errors back off
 * (p-retry-style, injected sleep); a 4xx ends the watch with that error, as
 * does running out of `retry.retries`. Aborting `signal` ends it quietly.
 */
export async function* watch<T>(query: BlockingQuery<T>, opts: WatchOptions): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const { signal } = opts;
  const waitMs = opts.waitMs ?? 5 * 60_000;
  const retry = retryOptions(opts.retry);
  const sleep = opts.sleep ?? defaultSleep;
  let index = 0;
  let fresh = true; // the next answer is yielded whatever its index
  let failures = 0;
  while (!signal.aborted) {
    let res: Indexed<T>;
    try {
      res = await query({ index, waitMs, signal });
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof MusterError && err.status >= 400 && err.status < 500) throw err;
      failures++;
      if (failures > retry.retries) throw err;
      const delayMs = backoffDelayMs(failures, retry, opts.random);
      opts.onError?.(err, { attempt: failures, delayMs });
      try {
        await sleep(delayMs, signal);
      } catch {
        return;
      }
      continue;
    }
    failures = 0;
    const next = res.meta.index;
    if (!fresh && next < index) {
      index = 0; // went backwards: start over, and take the next answer as new
      fresh = true;
      continue;
    }
    const changed = fresh || next !== index;
    fresh = false;
    index = Math.max(1, next);
    if (changed) yield { value: res.value, index: next };
  }
}

/** Watches one KV key: yields its entry (undefined while it does not exist) on every change. */
export function watchKey(client: MusterClient, key: string, opts: WatchOptions & Pick<QueryOptions, 'consistent' | 'stale'>): AsyncGenerator<WatchEvent<KvPair | undefined>, void, undefined> {
  const extra = consistency(opts);
  return watch((q) => client.kv.getWithMeta(key, { ...q, ...extra }), opts);
}

/** Watches every key under a prefix (`?recurse`): yields the whole list on every change (deletes too). */
export function watchPrefix(client: MusterClient, prefix: string, opts: WatchOptions & Pick<QueryOptions, 'consistent' | 'stale'>): AsyncGenerator<WatchEvent<KvPair[]>, void, undefined> {
  const extra = consistency(opts);
  return watch((q) => client.kv.listWithMeta(prefix, { ...q, ...extra }), opts);
}

/**
 * Watches any blocking read by path (`/v1/health/service/web`, `/v1/catalog/services`, ...):
 * yields the parsed JSON.
 */
export function watchPath<T = unknown>(client: MusterClient, path: string, opts: WatchOptions & Pick<QueryOptions, 'consistent' | 'stale'> & { query?: Record<string, string> }): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const extra = consistency(opts);
  return watch((q) => client.read<T>(path, { ...q, ...extra }, opts.query ?? {}), opts);
}

function consistency(o: Pick<QueryOptions, 'consistent' | 'stale'>): Pick<QueryOptions, 'consistent' | 'stale'> {
  return { ...(o.consistent ? { consistent: true } : {}), ...(o.stale ? { stale: true } : {}) };
}
