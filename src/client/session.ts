import { MusterError, errorMessage } from '../errors.js';
import { parseDurationMs } from '../config/duration.js';
import { sleep as defaultSleep } from '../time.js';
import type { MusterClient, QueryOptions, WriteOptions } from './client.js';
import { encodePath, parseJson } from './client.js';

export type SessionBehavior = 'release' | 'delete';

/** The fields of `PUT /v1/session/create`; what is not given takes Consul's default. */
export interface SessionCreateOptions {
  name?: string;
  /** Default: the agent's node. */
  node?: string;
  /** Node checks the session is tied to (Consul's default: `serfHealth`); [] ties it to none. */
  nodeChecks?: string[];
  serviceChecks?: Array<{ id: string; namespace?: string }>;
  /** A Go duration (`15s`, the default; `0s` turns the lock-delay off). */
  lockDelay?: string;
  /** What happens to the keys the session holds when it is invalidated (default `release`). */
  behavior?: SessionBehavior;
  /** A Go duration between 10s and 24h; the session dies after 2×TTL without a renewal. */
  ttl?: string;
}

export interface SessionInfo {
  id: string;
  name: string;
  node: string;
  nodeChecks: string[];
  serviceChecks: Array<{ id: string; namespace: string }>;
  lockDelayMs: number;
  behavior: SessionBehavior;
  /** As the server stores it (`15s`), '' for none. */
  ttl: string;
  createIndex: number;
  modifyIndex: number;
}

export interface RenewOptions {
  /** Destroy the session when `signal` aborts (default true, as Go's RenewPeriodic on doneCh). */
  destroyOnStop?: boolean;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Milliseconds between retries after a failed renewal (Go: 1 s). */
  retryMs?: number;
}

/** `/v1/session/*`. */
export class Sessions {
  constructor(private readonly client: MusterClient) {}

  /** Creates a session; resolves with its ID. */
  async create(opts: SessionCreateOptions = {}, w: WriteOptions = {}): Promise<string> {
    const res = await this.client.write('/v1/session/create', { json: sessionCreateBody(opts), ...w });
    const id = (parseJson(res) as { ID?: unknown } | null)?.ID;
    if (typeof id !== 'string' || id === '') throw new MusterError('ERR_DECODE', 'session create: no ID in the answer');
    return id;
  }

  /** Invalidates the session (its locks are released or its keys deleted); fine if it is gone. */
  async destroy(id: string, w: WriteOptions = {}): Promise<void> {
    await this.client.write(`/v1/session/destroy/${encodePath(id)}`, w);
  }

  /** Resets the TTL timer; undefined when the session is gone (404), as Go's client. */
  async renew(id: string, w: WriteOptions = {}): Promise<SessionInfo | undefined> {
    const res = await this.client.call('PUT', `/v1/session/renew/${encodePath(id)}`, {
      query: w.dc ? { dc: w.dc } : {}, ...(w.signal ? { signal: w.signal } : {}),
    }, [200, 404]);
    if (res.status === 404) return undefined;
    return decodeSessions(parseJson(res))[0];
  }

  async info(id: string, q: QueryOptions = {}): Promise<SessionInfo | undefined> {
    return (await this.client.read(`/v1/session/info/${encodePath(id)}`, q, {}, decodeSessions)).value[0];
  }

  async list(q: QueryOptions = {}): Promise<SessionInfo[]> {
    return (await this.client.read('/v1/session/list', q, {}, decodeSessions)).value;
  }

  async node(node: string, q: QueryOptions = {}): Promise<SessionInfo[]> {
    return (await this.client.read(`/v1/session/node/${encodePath(node)}`, q, {}, decodeSessions)).value;
  }

  /**
   * Keeps a session alive until `signal` aborts, as Go's RenewPeriodic: renew
   * every TTL/2 (the TTL the server answers with wins), retry a failed renewal
   * every second, and give up once a whole TTL has passed without a renewal.
   * Resolves after `signal` aborts (and the session is destroyed, unless
   * `destroyOnStop` is false). Rejects with ERR_SESSION_NOT_FOUND when the server no
   * longer knows the session, or with the last error when renewals failed for a TTL.
   */
  async renewPeriodically(id: string, ttl: string | number, signal: AbortSignal, opts: RenewOptions = {}): Promise<void> {
    let ttlMs = typeof ttl === 'number' ? ttl : parseDurationMs(ttl);
    if (ttlMs === undefined || !(ttlMs > 0)) throw new MusterError('ERR_BAD_REQUEST', `session TTL must be a positive duration, not ${String(ttl)}`);
    const sleep = opts.sleep ?? defaultSleep;
    const retryMs = opts.retryMs ?? 1000;
    let waitMs = ttlMs / 2;
    let lastRenew = Date.now();
    let lastErr: unknown;
    const stop = async () => {
      // best effort, as Go's: the session dies of its TTL anyway
      if (opts.destroyOnStop !== false) await this.destroy(id).catch(() => undefined);
    };
    for (;;) {
      if (signal.aborted) return stop();
      if (Date.now() - lastRenew > ttlMs) {
        throw lastErr instanceof Error ? lastErr : new MusterError('ERR_SESSION_NOT_FOUND', `session ${id} could not be renewed for a whole TTL`);
      }
      try {
        await sleep(waitMs, signal);
      } catch (err) {
        if (signal.aborted) continue;
        throw err;
      }
      let entry: SessionInfo | undefined;
      try {
        entry = await this.renew(id, { signal });
      } catch (err) {
        if (signal.aborted) continue;
        lastErr = new MusterError('ERR_API', `session ${id} renewal failed: ${errorMessage(err)}`, { cause: err });
        waitMs = retryMs;
        continue;
      }
      if (!entry) throw new MusterError('ERR_SESSION_NOT_FOUND', `session expired: ${id}`);
      const serverTtl = entry.ttl ? parseDurationMs(entry.ttl) : undefined;
      if (serverTtl !== undefined && serverTtl > 0) ttlMs = serverTtl;
      waitMs = ttlMs / 2;
      lastRenew = Date.now();
    }
  }
}

/** The create body: only what was given, as Go's client sends it. */
export function sessionCreateBody(o: SessionCreateOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.name) body.Name = o.name;
  if (o.node) body.Node = o.node;
  if (o.nodeChecks !== undefined) body.NodeChecks = o.nodeChecks;
  if (o.serviceChecks !== undefined) body.ServiceChecks = o.serviceChecks.map((c) => ({ ID: c.id, Namespace: c.namespace ?? '' }));
  if (o.lockDelay !== undefined) body.LockDelay = o.lockDelay;
  if (o.behavior) body.Behavior = o.behavior;
  if (o.ttl) body.TTL = o.ttl;
  return body;
}

export function decodeSessions(body: unknown): SessionInfo[] {
  if (body === null) return [];
  if (!Array.isArray(body)) throw new MusterError('ERR_DECODE', 'session: expected a JSON array');
  return body.map((raw) => {
    const s = (raw ?? {}) as Record<string, unknown>;
    const nodeChecks = Array.isArray(s.NodeChecks) ? s.NodeChecks : Array.isArray(s.Checks) ? s.Checks : [];
    const serviceChecks = Array.isArray(s.ServiceChecks) ? s.ServiceChecks : [];
    return {
      id: String(s.ID ?? ''),
      name: String(s.Name ?? ''),
      node: String(s.Node ?? ''),
      nodeChecks: nodeChecks.map(String),
      serviceChecks: serviceChecks.map((c) => {
        const r = (c ?? {}) as { ID?: unknown; Namespace?: unknown };
        return { id: String(r.ID ?? ''), namespace: String(r.Namespace ?? '') };
      }),
      lockDelayMs: Number(s.LockDelay ?? 0) / 1e6,
      behavior: s.Behavior === 'delete' ? 'delete' : 'release',
      ttl: String(s.TTL ?? ''),
      createIndex: Number(s.CreateIndex ?? 0),
      modifyIndex: Number(s.ModifyIndex ?? 0),
    };
  });
}
