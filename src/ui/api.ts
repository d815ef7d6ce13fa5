/**
 * The UI talks to the agent through the same Consul HTTP API its users have.
 * `watch` keeps one blocking query open per view: it answers when the data
 * changes (or after `wait`), and is aborted with the view.
 */

/** How long the agent may hold a blocking query (Consul's `?wait`). */
const WAIT = '60s';
/** Least time between the starts of two queries of one watch, so a burst of writes is not a request storm. */
const MIN_GAP_MS = 250;
/** Back-off after failed queries: 1 s, 2 s, 4 s ... up to 30 s. */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Answer<T> {
  status: number;
  /** The parsed JSON body; undefined for a 404 (a missing key or folder). */
  body: T | undefined;
  /** X-Consul-Index, 0 when absent. */
  index: number;
}

/** Encodes each segment of a key or name, keeping the slashes of KV paths. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** A request whose JSON answer (or 404) is returned; other statuses throw an ApiError with the agent's message. */
export async function request<T>(method: string, path: string, opts: { body?: string; signal?: AbortSignal } = {}): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { Accept: 'application/json' } };
  if (opts.body !== undefined) init.body = opts.body;
  if (opts.signal) init.signal = opts.signal;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new ApiError(0, 'the agent is unreachable');
  }
  const index = Number(res.headers.get('X-Consul-Index') ?? '0') || 0;
  const text = await res.text();
  if (res.status === 404) return { status: 404, body: undefined, index };
  if (!res.ok) throw new ApiError(res.status, text.trim() || `HTTP ${res.status}`);
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) as T, index };
}

export function get<T>(path: string, signal?: AbortSignal): Promise<Answer<T>> {
  return request<T>('GET', path, signal ? { signal } : {});
}

export interface WatchHandlers<T> {
  /** A new answer (the first one, and each one whose index moved). */
  data(body: T | undefined, index: number): void;
  /** A failed query; the watch retries after `retryInMs`. */
  error(err: Error, retryInMs: number): void;
}

/**
 * Follows `path` with blocking queries until `signal` aborts: the first query
 * answers at once, each next one waits for an index past the last one seen.
 * An index that goes backwards (a restored snapshot, another server) starts
 * over from 0, as Consul's docs ask.
 */
export function watch<T>(path: string, signal: AbortSignal, on: WatchHandlers<T>): void {
  const sep = path.includes('?') ? '&' : '?';
  const loop = async () => {
    let index = 0;
    let failures = 0;
    let first = true;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const a = await get<T>(`${path}${sep}index=${index}&wait=${WAIT}`, signal);
        failures = 0;
        if (first || a.index !== index) on.data(a.body, a.index);
        first = false;
        index = a.index < index ? 0 : a.index;
        await delay(MIN_GAP_MS - (Date.now() - started), signal);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
        on.error(err instanceof Error ? err : new Error(String(err)), wait);
        await delay(wait, signal);
      }
    }
  };
  loop().catch(() => { /* only an abort ends the loop with an error */ });
}

/** Calls `fn` now and then every `everyMs` until `signal` aborts (for answers that cannot block, such as members). */
export function poll(everyMs: number, signal: AbortSignal, fn: () => Promise<void>): void {
  const loop = async () => {
    while (!signal.aborted) {
      try { await fn(); } catch { /* fn shows its own errors */ }
      await delay(everyMs, signal);
    }
  };
  loop().catch(() => { /* aborted */ });
}

/** Resolves after `ms` (at once if ms <= 0), or as soon as `signal` aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) { resolve(); return; }
    const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
