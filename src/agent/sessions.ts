import { randomUUID } from 'node:crypto';
import { MusterError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { StateStore } from '../state/store.js';
import type { SessionInput } from '../state/commands.js';
import type { SessionRow } from '../state/sessions.js';
import { systemTimers, type Timers } from '../time.js';
import { parseDurationMs } from '../config/duration.js';
import type { CommandWriter } from './writer.js';

/** Consul's session limits. */
export const SESSION_TTL_MIN_MS = 10_000;
export const SESSION_TTL_MAX_MS = 86_400_000;
/** A session lives up to TTL × this without a renewal (Consul's SessionTTLMultiplier). */
export const SESSION_TTL_MULTIPLIER = 2;
export const DEFAULT_LOCK_DELAY_MS = 15_000;
export const MAX_LOCK_DELAY_MS = 60_000;

export type SessionRequest = Omit<SessionInput, 'id'>;

/**
 * Sessions on the leader: creation, renewal and the TTL timers. Expiry is
 * decided here and written as a `session-destroy` command, so that the
 * replicated state never depends on a replica's clock.
 */
export class Sessions {
  private readonly timers = new Map<string, unknown>();

  constructor(
    private readonly store: StateStore,
    private readonly writer: CommandWriter,
    private readonly log: Logger,
    private readonly clockTimers: Timers = systemTimers,
  ) {}

  /** `name` names the write, as CommandWriter.write's does (a resent request's name makes it apply once). */
  async create(req: SessionRequest, name?: string): Promise<string> {
    validateTtl(req.ttl);
    const id = randomUUID();
    await this.writer.write({ type: 'session-create', session: { ...req, id } }, name);
    this.arm(id, req.ttl);
    return id;
  }

  async destroy(id: string, name?: string): Promise<void> {
    this.disarm(id);
    await this.writer.write({ type: 'session-destroy', id }, name);
  }

  /** Resets the TTL timer; the session as stored, or a 404 for an unknown one. */
  renew(id: string): SessionRow {
    const row = this.store.sessions.get(id);
    if (!row) throw new MusterError('ERR_SESSION_NOT_FOUND', `Session id '${id}' not found`);
    this.arm(id, row.ttl);
    return row;
  }

  /** After a restart or a leader change: every session with a TTL gets a full timer again. */
  armAll(): void {
    for (const s of this.store.sessions.list()) this.arm(s.id, s.ttl);
  }

  stop(): void {
    for (const id of [...this.timers.keys()]) this.disarm(id);
  }

  private arm(id: string, ttl: string): void {
    this.disarm(id);
    const ms = ttl ? parseDurationMs(ttl) ?? 0 : 0;
    if (ms <= 0) return;
    const handle = this.clockTimers.setTimeout(() => {
      this.timers.delete(id);
      if (!this.store.sessions.get(id)) return;
      this.log.info({ session: id }, 'session ttl expired; invalidating');
      this.writer.write({ type: 'session-destroy', id }).catch((err: unknown) => {
        this.log.warn({ session: id, err: errorMessage(err) }, 'could not invalidate expired session');
      });
    }, ms * SESSION_TTL_MULTIPLIER);
    (handle as { unref?: () => void }).unref?.();
    this.timers.set(id, handle);
  }

  private disarm(id: string): void {
    const h = this.timers.get(id);
    if (h !== undefined) this.clockTimers.clearTimeout(h);
    this.timers.delete(id);
  }
}

/** "" and "0s" mean no TTL; otherwise Consul's bounds. */
export function validateTtl(ttl: string): void {
  if (ttl === '') return;
  const ms = parseDurationMs(ttl);
  if (ms === undefined) throw new MusterError('ERR_SESSION_INVALID_INPUT', `Session TTL '${ttl}' invalid: time: invalid duration "${ttl}"`, { status: 400 });
  if (ms === 0) return;
  if (ms < SESSION_TTL_MIN_MS || ms > SESSION_TTL_MAX_MS) {
    throw new MusterError('ERR_SESSION_INVALID_INPUT', `Invalid Session TTL '${Math.round(ms * 1e6)}', must be between [10s=24h0m0s]`, { status: 400 });
  }
}
