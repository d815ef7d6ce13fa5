import { MusterError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep as defaultSleep } from '../time.js';
import { isServerError, type MusterClient } from './client.js';
import type { KvValue } from './kv.js';
import type { SessionCreateOptions } from './session.js';
import type { Sleep } from './retry.js';
import { SessionKeeper } from './session-keeper.js';

/** 0x2ddccbc058a50c18: marks a key used by a Lock (Go's api.LockFlagValue; Consul.NET's too). */
export const LOCK_FLAG_VALUE = 3304740253564472344n;
export const DEFAULT_LOCK_SESSION_NAME = 'Consul API Lock';
export const DEFAULT_LOCK_SESSION_TTL = '15s';
/** How long one blocking read waits for the key to be free (Go: 15 s). */
export const DEFAULT_LOCK_WAIT_TIME_MS = 15_000;
/** Pause after a failed acquire while the key is free: a lock-delay is running (Go: 5 s). */
export const DEFAULT_LOCK_RETRY_TIME_MS = 5_000;
/** Pause between monitor retries after a 5xx (Go: 2 s; `consul lock` uses 1 s). */
export const DEFAULT_MONITOR_RETRY_TIME_MS = 2_000;

export interface LockOptions {
  /** The key to lock. */
  key: string;
  /** Stored in the key while held (default empty). */
  value?: KvValue;
  /** An existing session to lock with; it is then neither renewed nor destroyed here. */
  session?: string;
  /** Name of the session created for the lock (default `Consul API Lock`). */
  sessionName?: string;
  /** TTL of the session created for the lock (default `15s`); renewed every TTL/2. */
  sessionTtl?: string;
  /** The whole session to create (Go's SessionOpts: e.g. a short `lockDelay`); replaces name and TTL. */
  sessionOptions?: SessionCreateOptions;
  /** 5xx answers the monitor rides out before the lock counts as lost (default 0). */
  monitorRetries?: number;
  monitorRetryTimeMs?: number;
  /** Wait of each blocking read; with `lockTryOnce`, the whole time allowed (default 15 s). */
  lockWaitTimeMs?: number;
  /** Give up (lock() resolves undefined) once `lockWaitTimeMs` has passed. */
  lockTryOnce?: boolean;
  /** Go's DefaultLockRetryTime (5 s), the pause while a lock-delay runs; a setting here for tests and demos. */
  lockRetryTimeMs?: number;
  sleep?: Sleep;
  /** Where background failures (session renewal) are reported; silent by default. */
  log?: Logger;
}

type ResolvedLockOptions = Required<Pick<LockOptions, 'key' | 'sessionName' | 'sessionTtl' | 'monitorRetries' | 'monitorRetryTimeMs' | 'lockWaitTimeMs' | 'lockTryOnce' | 'lockRetryTimeMs' | 'sleep'>> & LockOptions;

/**
 * A distributed mutex on one KV key, Consul's algorithm (Go's api.Lock) step by
 * step, so that it and a Go/.NET/`consul lock` holder exclude each other: a
 * session (created and renewed here unless given), a blocking read until the
 * key is free, `?acquire` with the lock flag, a 5 s pause when an acquire fails
 * on a free key (lock-delay), and a monitor that reports the loss of the lock.
 * Calls are serialised, like the Go mutex around Lock/Unlock/Destroy.
 */
export class Lock {
  private readonly opts: ResolvedLockOptions;
  private held = false;
  private lockSession = '';
  private keeper: SessionKeeper | undefined;
  private monitor: { stop: AbortController; done: Promise<void> } | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly client: MusterClient, opts: LockOptions) {
    if (!opts.key) throw new MusterError('ERR_LOCK', 'missing key');
    this.opts = {
      ...opts,
      sessionName: opts.sessionName || DEFAULT_LOCK_SESSION_NAME,
      sessionTtl: opts.sessionTtl || DEFAULT_LOCK_SESSION_TTL,
      monitorRetries: opts.monitorRetries ?? 0,
      monitorRetryTimeMs: opts.monitorRetryTimeMs || DEFAULT_MONITOR_RETRY_TIME_MS,
      lockWaitTimeMs: opts.lockWaitTimeMs || DEFAULT_LOCK_WAIT_TIME_MS,
      lockTryOnce: opts.lockTryOnce ?? false,
      lockRetryTimeMs: opts.lockRetryTimeMs ?? DEFAULT_LOCK_RETRY_TIME_MS,
      sleep: opts.sleep ?? defaultSleep,
    };
    SessionKeeper.checkTtl(this.opts.sessionOptions?.ttl || this.opts.sessionTtl);
  }

  get key(): string {
    return this.opts.key;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** The session holding (or trying for) the lock. */
  get session(): string | undefined {
    return this.lockSession || undefined;
  }

  /**
   * Blocks until the lock is held; resolves with a signal that aborts when the
   * lock is lost (or released), or with undefined when `signal` aborted or a
   * `lockTryOnce` wait ran out. Rejects on errors (ERR_LOCK_CONFLICT when the
   * key is not a lock's: "Existing key does not match lock use").
   */
  lock(opts: { signal?: AbortSignal } = {}): Promise<AbortSignal | undefined> {
    return this.serial(() => this.doLock(opts.signal));
  }

  /** Releases the lock (`?release`), then destroys the session it created. */
  unlock(): Promise<void> {
    return this.serial(() => this.doUnlock());
  }

  /** Deletes the lock key if nobody holds it (ERR_LOCK_IN_USE otherwise); optional cleanup. */
  destroy(): Promise<void> {
    return this.serial(() => this.doDestroy());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async doLock(signal: AbortSignal | undefined): Promise<AbortSignal | undefined> {
    if (this.held) throw new MusterError('ERR_LOCK', 'Lock already held');
    if (signal?.aborted) return undefined;
    this.lockSession = this.opts.session ?? '';
    if (!this.lockSession) {
      const sessionOpts = this.opts.sessionOptions ?? { name: this.opts.sessionName, ttl: this.opts.sessionTtl };
      try {
        this.keeper = await SessionKeeper.start(this.client, sessionOpts, this.opts.sessionTtl, signal, this.opts.log);
      } catch (err) {
        if (signal?.aborted) return undefined;
        throw new MusterError('ERR_LOCK', `failed to create session: ${errorMessage(err)}`, { cause: err });
      }
      this.lockSession = this.keeper.id;
    }
    try {
      if (!(await this.acquire(signal))) return undefined;
      this.held = true;
      return this.startMonitor(this.lockSession);
    } finally {
      if (!this.held) {
        // not acquired: the session made for it goes (Go's deferred close of sessionRenew)
        await this.keeper?.stop();
        this.keeper = undefined;
        this.lockSession = '';
      }
    }
  }

  /** Steps 2 and 3 of the recipe; true once the key is ours. */
  private async acquire(signal: AbortSignal | undefined): Promise<boolean> {
    const { key, lockTryOnce, lockWaitTimeMs } = this.opts;
    const kv = this.client.kv;
    const sig = signal ? { signal } : {};
    let waitIndex = 0;
    let waitMs = lockWaitTimeMs;
    const start = Date.now();
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) return false;
      if (lockTryOnce && attempts > 0) {
        const elapsed = Date.now() - start;
        if (elapsed > lockWaitTimeMs) return false;
        waitMs = lockWaitTimeMs - elapsed;
      }
      attempts++;
      let read;
      try {
        read = await kv.getWithMeta(key, { index: waitIndex, waitMs, ...sig });
      } catch (err) {
        if (signal?.aborted) return false;
        throw new MusterError('ERR_LOCK', `failed to read lock: ${errorMessage(err)}`, { cause: err });
      }
      const pair = read.value;
      if (pair && pair.flags !== LOCK_FLAG_VALUE) throw new MusterError('ERR_LOCK_CONFLICT', 'Existing key does not match lock use');
      if (pair && pair.session === this.lockSession) return true;
      if (pair?.session) {
        waitIndex = read.meta.index;
        continue;
      }
      let locked: boolean;
      try {
        locked = await kv.put(key, this.opts.value, { acquire: this.lockSession, flags: LOCK_FLAG_VALUE, ...sig });
      } catch (err) {
        if (signal?.aborted) return false;
        throw new MusterError('ERR_LOCK', `failed to acquire lock: ${errorMessage(err)}`, { cause: err });
      }
      if (locked) return true;
      // Why not? Held by another: block on the key. Free: a lock-delay runs, wait it out.
      waitIndex = 0;
      const again = await kv.getWithMeta(key, { index: 0, ...sig }).catch(() => undefined);
      if (signal?.aborted) return false;
      if (again?.value?.session) {
        waitIndex = again.meta.index;
        continue;
      }
      try {
        await this.opts.sleep(this.opts.lockRetryTimeMs, signal);
      } catch {
        if (signal?.aborted) return false;
      }
    }
  }

  /** Step 4: a consistent blocking read of the key while its session is ours. */
  private startMonitor(session: string): AbortSignal {
    const stop = new AbortController();
    const lost = new AbortController();
    const { key, monitorRetries, monitorRetryTimeMs } = this.opts;
    const done = (async () => {
      let reason: unknown = new MusterError('ERR_LOCK', `lock on ${key} lost`);
      let index = 0;
      let retries = monitorRetries;
      try {
        for (;;) {
          let read;
          try {
            read = await this.client.kv.getWithMeta(key, { index, consistent: true, signal: stop.signal });
          } catch (err) {
            if (stop.signal.aborted) break;
            if (retries > 0 && isServerError(err)) {
              retries--;
              index = 0;
              await this.opts.sleep(monitorRetryTimeMs, stop.signal).catch(() => undefined);
              if (stop.signal.aborted) break;
              continue;
            }
            reason = new MusterError('ERR_LOCK', `lock on ${key} lost: ${errorMessage(err)}`, { cause: err });
            break;
          }
          if (read.value?.session !== session) break;
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

  private async stopMonitor(reason: string): Promise<void> {
    const m = this.monitor;
    this.monitor = undefined;
    if (!m) return;
    m.stop.abort(new MusterError('ERR_LOCK', reason));
    await m.done;
  }

  private async doUnlock(): Promise<void> {
    if (!this.held) throw new MusterError('ERR_LOCK', 'Lock not held');
    this.held = false;
    const session = this.lockSession;
    this.lockSession = '';
    await this.stopMonitor(`lock on ${this.opts.key} released`);
    try {
      await this.client.kv.put(this.opts.key, this.opts.value, { release: session, flags: LOCK_FLAG_VALUE });
    } catch (err) {
      throw new MusterError('ERR_LOCK', `failed to release lock: ${errorMessage(err)}`, { cause: err });
    } finally {
      await this.keeper?.stop();
      this.keeper = undefined;
    }
  }

  private async doDestroy(): Promise<void> {
    if (this.held) throw new MusterError('ERR_LOCK', 'Lock already held');
    let pair;
    try {
      pair = await this.client.kv.get(this.opts.key);
    } catch (err) {
      throw new MusterError('ERR_LOCK', `failed to read lock: ${errorMessage(err)}`, { cause: err });
    }
    if (!pair) return;
    if (pair.flags !== LOCK_FLAG_VALUE) throw new MusterError('ERR_LOCK_CONFLICT', 'Existing key does not match lock use');
    if (pair.session) throw new MusterError('ERR_LOCK_IN_USE', 'Lock in use');
    let removed: boolean;
    try {
      removed = await this.client.kv.delete(this.opts.key, { cas: pair.modifyIndex });
    } catch (err) {
      throw new MusterError('ERR_LOCK', `failed to remove lock: ${errorMessage(err)}`, { cause: err });
    }
    if (!removed) throw new MusterError('ERR_LOCK_IN_USE', 'Lock in use');
  }
}

export interface WithLockOptions extends Omit<LockOptions, 'key'> {
  /** Stops waiting for the lock (withLock rejects with the reason) and is passed on, combined, to `fn`. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` while holding the lock on `key` (the "Action" style): waits for the
 * lock, calls `fn(signal)` where `signal` aborts if the lock is lost (or
 * `opts.signal` aborts), and releases the lock when `fn` returns or throws.
 * Rejects with `opts.signal`'s reason if it aborted before the lock was held,
 * ERR_LOCK if a `lockTryOnce` wait ran out, and `fn`'s error if it threw.
 */
export async function withLock<T>(client: MusterClient, key: string, fn: (signal: AbortSignal) => Promise<T> | T, opts: WithLockOptions = {}): Promise<T> {
  const { signal, ...lockOpts } = opts;
  const lock = new Lock(client, { ...lockOpts, key });
  const lost = await lock.lock(signal ? { signal } : {});
  if (!lost) {
    if (signal?.aborted) throw signal.reason;
    throw new MusterError('ERR_LOCK', `timed out waiting for the lock on ${key}`);
  }
  return runHolding(fn, lost, signal, () => lock.unlock());
}

/** Calls `fn` with the loss signal (combined with the caller's), then `release`; `fn`'s error wins over release's. */
export async function runHolding<T>(fn: (signal: AbortSignal) => Promise<T> | T, lost: AbortSignal, signal: AbortSignal | undefined, release: () => Promise<void>): Promise<T> {
  const combined = signal ? AbortSignal.any([lost, signal]) : lost;
  let result: T;
  try {
    result = await fn(combined);
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  await release();
  return result;
}
