import { MusterError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep as defaultSleep } from '../time.js';
import { isServerError, type MusterClient } from './client.js';
import type { KvPair, KvValue } from './kv.js';
import type { Sleep } from './retry.js';
import { SessionKeeper } from './session-keeper.js';
import { joinKey } from './key-path.js';
import { DEFAULT_MONITOR_RETRY_TIME_MS, runHolding } from './lock.js';

/** 0xe0f69a2baa414de0: marks the keys of a Semaphore (Go's api.SemaphoreFlagValue). */
export const SEMAPHORE_FLAG_VALUE = 16209093007834647008n;
export const DEFAULT_SEMAPHORE_SESSION_NAME = 'Consul API Semaphore';
export const DEFAULT_SEMAPHORE_SESSION_TTL = '15s';
export const DEFAULT_SEMAPHORE_WAIT_TIME_MS = 15_000;
/** The coordination key inside the prefix (shared with `consul lock`'s lock key, so the two conflict visibly). */
export const DEFAULT_SEMAPHORE_KEY = '.lock';

export interface SemaphoreOptions {
  /** The KV prefix: contender keys `<prefix>/<session>` and the coordination key `<prefix>/.lock`. */
  prefix: string;
  /** How many holders at once; every contender must agree on it. */
  limit: number;
  /** Stored in this contender's key. */
  value?: KvValue;
  /** An existing session; it is then neither renewed nor destroyed here (it should have Behavior delete). */
  session?: string;
  sessionName?: string;
  sessionTtl?: string;
  monitorRetries?: number;
  monitorRetryTimeMs?: number;
  semaphoreWaitTimeMs?: number;
  semaphoreTryOnce?: boolean;
  sleep?: Sleep;
  log?: Logger;
}

interface SemaphoreLock {
  Limit: number;
  Holders: Record<string, boolean>;
}

/**
 * A distributed semaphore, Consul's algorithm (Go's api.Semaphore): each
 * contender holds `<prefix>/<session>` with a session whose Behavior is delete,
 * and the holders are listed in `<prefix>/.lock` (`{"Limit":N,"Holders":{...}}`),
 * changed only by check-and-set; holders whose contender key is gone are
 * pruned. Interoperates with Go clients and `consul lock -n N`.
 */
export class Semaphore {
  private readonly opts: SemaphoreOptions & Required<Pick<SemaphoreOptions, 'sessionName' | 'sessionTtl' | 'monitorRetries' | 'monitorRetryTimeMs' | 'semaphoreWaitTimeMs' | 'semaphoreTryOnce' | 'sleep'>>;
  private held = false;
  private lockSession = '';
  private keeper: SessionKeeper | undefined;
  private monitor: { stop: AbortController; done: Promise<void> } | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly client: MusterClient, opts: SemaphoreOptions) {
    if (!opts.prefix) throw new MusterError('ERR_LOCK', 'missing prefix');
    if (!Number.isInteger(opts.limit) || opts.limit <= 0) throw new MusterError('ERR_LOCK', 'semaphore limit must be positive');
    this.opts = {
      ...opts,
      sessionName: opts.sessionName || DEFAULT_SEMAPHORE_SESSION_NAME,
      sessionTtl: opts.sessionTtl || DEFAULT_SEMAPHORE_SESSION_TTL,
      monitorRetries: opts.monitorRetries ?? 0,
      monitorRetryTimeMs: opts.monitorRetryTimeMs || DEFAULT_MONITOR_RETRY_TIME_MS,
      semaphoreWaitTimeMs: opts.semaphoreWaitTimeMs || DEFAULT_SEMAPHORE_WAIT_TIME_MS,
      semaphoreTryOnce: opts.semaphoreTryOnce ?? false,
      sleep: opts.sleep ?? defaultSleep,
    };
    SessionKeeper.checkTtl(this.opts.sessionTtl);
  }

  get isHeld(): boolean {
    return this.held;
  }

  get session(): string | undefined {
    return this.lockSession || undefined;
  }

  /** The coordination key, `<prefix>/.lock`. */
  get lockKey(): string {
    return joinKey(this.opts.prefix, DEFAULT_SEMAPHORE_KEY);
  }

  /**
   * Blocks until a slot is ours; resolves with a signal that aborts when the
   * slot is lost (or released), or undefined when `signal` aborted or a
   * `semaphoreTryOnce` wait ran out.
   */
  acquire(opts: { signal?: AbortSignal } = {}): Promise<AbortSignal | undefined> {
    return this.serial(() => this.doAcquire(opts.signal));
  }

  /** Removes us from the holders (CAS), deletes our contender key, destroys the session it made. */
  release(): Promise<void> {
    return this.serial(() => this.doRelease());
  }

  /** Deletes the coordination key if there are no live holders (ERR_LOCK_IN_USE otherwise). */
  destroy(): Promise<void> {
    return this.serial(() => this.doDestroy());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async doAcquire(signal: AbortSignal | undefined): Promise<AbortSignal | undefined> {
    if (this.held) throw new MusterError('ERR_LOCK', 'Semaphore already held');
    if (signal?.aborted) return undefined;
    this.lockSession = this.opts.session ?? '';
    if (!this.lockSession) {
      try {
        this.keeper = await SessionKeeper.start(this.client,
          { name: this.opts.sessionName, ttl: this.opts.sessionTtl, behavior: 'delete' }, this.opts.sessionTtl, signal, this.opts.log);
      } catch (err) {
        if (signal?.aborted) return undefined;
        throw new MusterError('ERR_LOCK', `failed to create session: ${errorMessage(err)}`, { cause: err });
      }
      this.lockSession = this.keeper.id;
    }
    try {
      if (!(await this.acquireSlot(signal))) return undefined;
      this.held = true;
      return this.startMonitor(this.lockSession);
    } finally {
      if (!this.held) {
        await this.keeper?.stop();
        this.keeper = undefined;
        this.lockSession = '';
      }
    }
  }

  private async acquireSlot(signal: AbortSignal | undefined): Promise<boolean> {
    const { prefix, limit, semaphoreTryOnce, semaphoreWaitTimeMs } = this.opts;
    const kv = this.client.kv;
    const sig = signal ? { signal } : {};
    // 1. the contender entry
    let made = false;
    let why = '<nil>';
    try {
      made = await kv.put(joinKey(prefix, this.lockSession), this.opts.value, { acquire: this.lockSession, flags: SEMAPHORE_FLAG_VALUE, ...sig });
    } catch (err) {
      if (signal?.aborted) return false;
      why = errorMessage(err);
    }
    if (!made) throw new MusterError('ERR_LOCK', `failed to make contender entry: ${why}`);

    let waitIndex = 0;
    let waitMs = semaphoreWaitTimeMs;
    const start = Date.now();
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) return false;
      if (semaphoreTryOnce && attempts > 0) {
        const elapsed = Date.now() - start;
        if (elapsed > semaphoreWaitTimeMs) return false;
        waitMs = semaphoreWaitTimeMs - elapsed;
      }
      attempts++;
      // 2. read the prefix, decide, CAS ourselves into the holders
      let read;
      try {
        read = await kv.listWithMeta(prefix, { index: waitIndex, waitMs, ...sig });
      } catch (err) {
        if (signal?.aborted) return false;
        throw new MusterError('ERR_LOCK', `failed to read prefix: ${errorMessage(err)}`, { cause: err });
      }
      const lockPair = this.findLock(read.value);
      if (lockPair.flags !== SEMAPHORE_FLAG_VALUE) throw new MusterError('ERR_LOCK_CONFLICT', 'Existing key does not match semaphore use');
      const lock = this.decodeLock(lockPair);
      if (lock.Limit !== limit) throw new MusterError('ERR_LOCK', `semaphore limit conflict (lock: ${lock.Limit}, local: ${limit})`);
      pruneDeadHolders(lock, read.value);
      if (Object.keys(lock.Holders).length >= lock.Limit) {
        waitIndex = read.meta.index;
        continue;
      }
      lock.Holders[this.lockSession] = true;
      let didSet: boolean;
      try {
        didSet = await kv.put(this.lockKey, encodeLock(lock), { cas: lockPair.modifyIndex, flags: SEMAPHORE_FLAG_VALUE, ...sig });
      } catch (err) {
        if (signal?.aborted) return false;
        throw new MusterError('ERR_LOCK', `failed to update lock: ${errorMessage(err)}`, { cause: err });
      }
      if (didSet) return true;
      // lost a race with another contender: read again (the index has moved, so no wait)
    }
  }

  /** 3. Monitor: a consistent blocking read of the prefix while we are among the live holders. */
  private startMonitor(session: string): AbortSignal {
    const stop = new AbortController();
    const lost = new AbortController();
    const { prefix, monitorRetries, monitorRetryTimeMs } = this.opts;
    const done = (async () => {
      let reason: unknown = new MusterError('ERR_LOCK', `semaphore slot at ${prefix} lost`);
      let index = 0;
      let retries = monitorRetries;
      try {
        for (;;) {
          let read;
          try {
            read = await this.client.kv.listWithMeta(prefix, { index, consistent: true, signal: stop.signal });
          } catch (err) {
            if (stop.signal.aborted) break;
            if (retries > 0 && isServerError(err)) {
              retries--;
              index = 0;
              await this.opts.sleep(monitorRetryTimeMs, stop.signal).catch(() => undefined);
              if (stop.signal.aborted) break;
              continue;
            }
            reason = new MusterError('ERR_LOCK', `semaphore slot at ${prefix} lost: ${errorMessage(err)}`, { cause: err });
            break;
          }
          let lock: SemaphoreLock;
          try {
            lock = this.decodeLock(this.findLock(read.value));
          } catch (err) {
            reason = err;
            break;
          }
          pruneDeadHolders(lock, read.value);
          if (!lock.Holders[session]) break;
          index = read.meta.index;
          retries = monitorRetries;
        }
      } finally {
        if (stop.signal.aborted) reason = stop.signal.reason;
        lost.abort(reason);
      }
    })();
    this.monitor = { stop, done };
    return lost.signal;
  }

  private async doRelease(): Promise<void> {
    if (!this.held) throw new MusterError('ERR_LOCK', 'Semaphore not held');
    this.held = false;
    const session = this.lockSession;
    this.lockSession = '';
    const m = this.monitor;
    this.monitor = undefined;
    if (m) {
      m.stop.abort(new MusterError('ERR_LOCK', `semaphore slot at ${this.opts.prefix} released`));
      await m.done;
    }
    const kv = this.client.kv;
    try {
      // 4. take ourselves out of the holders, then remove the contender key
      for (;;) {
        const pair = await kv.get(this.lockKey) ?? emptyPair(this.lockKey);
        const lock = this.decodeLock(pair);
        if (!lock.Holders[session]) break;
        delete lock.Holders[session];
        let didSet: boolean;
        try {
          didSet = await kv.put(this.lockKey, encodeLock(lock), { cas: pair.modifyIndex, flags: SEMAPHORE_FLAG_VALUE });
        } catch (err) {
          throw new MusterError('ERR_LOCK', `failed to update lock: ${errorMessage(err)}`, { cause: err });
        }
        if (didSet) break;
      }
      await kv.delete(joinKey(this.opts.prefix, session));
    } finally {
      await this.keeper?.stop();
      this.keeper = undefined;
    }
  }

  private async doDestroy(): Promise<void> {
    if (this.held) throw new MusterError('ERR_LOCK', 'Semaphore already held');
    let pairs: KvPair[];
    try {
      pairs = await this.client.kv.list(this.opts.prefix);
    } catch (err) {
      throw new MusterError('ERR_LOCK', `failed to read prefix: ${errorMessage(err)}`, { cause: err });
    }
    const lockPair = this.findLock(pairs);
    if (lockPair.modifyIndex === 0) return;
    if (lockPair.flags !== SEMAPHORE_FLAG_VALUE) throw new MusterError('ERR_LOCK_CONFLICT', 'Existing key does not match semaphore use');
    const lock = this.decodeLock(lockPair);
    pruneDeadHolders(lock, pairs);
    if (Object.keys(lock.Holders).length > 0) throw new MusterError('ERR_LOCK_IN_USE', 'Semaphore in use');
    let removed: boolean;
    try {
      removed = await this.client.kv.delete(this.lockKey, { cas: lockPair.modifyIndex });
    } catch (err) {
      throw new MusterError('ERR_LOCK', `failed to remove semaphore: ${errorMessage(err)}`, { cause: err });
    }
    if (!removed) throw new MusterError('ERR_LOCK_IN_USE', 'Semaphore in use');
  }

  /** The coordination entry among `pairs`, or an empty one carrying the semaphore flag. */
  private findLock(pairs: readonly KvPair[]): KvPair {
    const key = this.lockKey;
    return pairs.find((p) => p.key === key) ?? { ...emptyPair(key), flags: SEMAPHORE_FLAG_VALUE };
  }

  /** An entry with no value is an empty lock with our limit (Go's decodeLock). */
  private decodeLock(pair: KvPair): SemaphoreLock {
    if (pair.value.length === 0) return { Limit: this.opts.limit, Holders: {} };
    let raw: unknown;
    try {
      raw = JSON.parse(pair.value.toString('utf8'));
    } catch (err) {
      throw new MusterError('ERR_LOCK', `lock decoding failed: ${errorMessage(err)}`, { cause: err });
    }
    if (typeof raw !== 'object' || raw === null) throw new MusterError('ERR_LOCK', 'lock decoding failed: not an object');
    // Go's encoding/json matches field names case-insensitively
    const fields = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v as unknown]));
    const limit = fields.get('limit');
    const holders = fields.get('holders');
    const out: SemaphoreLock = { Limit: typeof limit === 'number' ? limit : 0, Holders: {} };
    if (holders && typeof holders === 'object') {
      for (const [k, v] of Object.entries(holders)) if (v === true) out.Holders[k] = true;
    }
    return out;
  }
}

/** Drops holders that have no live contender key (a key with a session). */
function pruneDeadHolders(lock: SemaphoreLock, pairs: readonly KvPair[]): void {
  const alive = new Set(pairs.filter((p) => p.session).map((p) => p.session));
  for (const holder of Object.keys(lock.Holders)) if (!alive.has(holder)) delete lock.Holders[holder];
}

/** As Go's json.Marshal writes it: fields in order, map keys sorted. */
function encodeLock(lock: SemaphoreLock): Buffer {
  const holders = Object.keys(lock.Holders).sort().map((k) => `${JSON.stringify(k)}:true`).join(',');
  return Buffer.from(`{"Limit":${lock.Limit},"Holders":{${holders}}}`);
}

function emptyPair(key: string): KvPair {
  return { key, flags: 0n, value: Buffer.alloc(0), lockIndex: 0, createIndex: 0, modifyIndex: 0 };
}

export interface WithSemaphoreOptions extends Omit<SemaphoreOptions, 'prefix' | 'limit'> {
  signal?: AbortSignal;
}

/** As withLock, for one of `limit` slots of the semaphore at `prefix`. */
export async function withSemaphore<T>(client: MusterClient, prefix: string, limit: number, fn: (signal: AbortSignal) => Promise<T> | T, opts: WithSemaphoreOptions = {}): Promise<T> {
  const { signal, ...semOpts } = opts;
  const sem = new Semaphore(client, { ...semOpts, prefix, limit });
  const lost = await sem.acquire(signal ? { signal } : {});
  if (!lost) {
    if (signal?.aborted) throw signal.reason;
    throw new MusterError('ERR_LOCK', `timed out waiting for a slot of the semaphore at ${prefix}`);
  }
  return runHolding(fn, lost, signal, () => sem.release());
}
