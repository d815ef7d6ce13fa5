import { MusterError, errorMessage } from '../errors.js';
import { parseDurationMs } from '../config/duration.js';
import type { Logger } from '../log.js';
import type { MusterClient } from './client.js';
import type { SessionCreateOptions } from './session.js';

/**
 * A session made for a Lock or Semaphore and kept alive in the background
 * (Go's `go session.RenewPeriodic(...)`); `stop()` ends the renewal and
 * destroys the session, and resolves when that is done.
 */
export class SessionKeeper {
  private constructor(readonly id: string, private readonly done: Promise<void>, private readonly ctl: AbortController) {}

  /** A TTL as Go's LockOpts checks it: it must parse as a duration. */
  static checkTtl(ttl: string): void {
    if (parseDurationMs(ttl) === undefined) throw new MusterError('ERR_LOCK', `invalid SessionTTL: time: invalid duration "${ttl}"`);
  }

  static async start(client: MusterClient, opts: SessionCreateOptions, renewTtl: string, signal: AbortSignal | undefined, log: Logger | undefined): Promise<SessionKeeper> {
    const id = await client.session.create(opts, signal ? { signal } : {});
    const ctl = new AbortController();
    const ttl = opts.ttl || renewTtl;
    const done = client.session.renewPeriodically(id, ttl, ctl.signal).catch((err: unknown) => {
      // the lock's monitor sees the consequence (the key loses its session); this only reports it
      log?.warn({ session: id, err: errorMessage(err) }, 'session renewal stopped');
    });
    return new SessionKeeper(id, done, ctl);
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await this.done;
  }
}
