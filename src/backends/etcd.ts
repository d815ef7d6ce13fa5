import type { HealthStatus } from '../agent/definition.js';
import type { Registration } from '../docker/types.js';
import { MusterError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Backend, RegisteredService } from './types.js';
import { EtcdGateway, isLeaseNotFound } from './etcd-gateway.js';
import { decodeService, encodeService, serviceKey, type EtcdValueFormat } from './etcd-value.js';

export type { EtcdValueFormat } from './etcd-value.js';

/** Lease TTL in seconds when `-ttl` is 0: a dead sidecar's services disappear within this. */
export const DEFAULT_LEASE_TTL_S = 30;
/** Deadline of every request to etcd. */
export const DEFAULT_ETCD_TIMEOUT_MS = 5_000;
/** The port of `etcd://HOST/PREFIX` (etcd's client port). */
export const DEFAULT_ETCD_PORT = 2379;
/**
 * Meta key that `services()` adds to a key held by another lease than this
 * backend's (or by none): an earlier sidecar's, soon to expire. Such an entry
 * never equals a wanted registration, so the reconciler writes it again under
 * the live lease (and removes it when it is ours and no longer wanted).
 */
export const ETCD_LEASE_META = 'muster-etcd-lease';

export interface EtcdBackendOptions {
  /** `http://host:port` of an etcd v3 member (its JSON gateway). */
  endpoint: string;
  /** Key prefix without a trailing slash: keys are `PREFIX/<name>/<id>`; `''` gives `/<name>/<id>`. */
  prefix: string;
  /** Default `json`. */
  format?: EtcdValueFormat;
  /** Seconds; default DEFAULT_LEASE_TTL_S. */
  leaseTtlSeconds?: number;
  /** Per request; default DEFAULT_ETCD_TIMEOUT_MS. */
  timeoutMs?: number;
  log?: Logger;
}

/** What this backend last wrote for a service, so it can be written again under a new lease. */
interface Written {
  key: string;
  value: string;
  reg: Registration;
}

interface Lease {
  id: string;
  /** Seconds, as granted. */
  ttl: number;
  /** Local time until which etcd is known to keep it (last renewal sent + TTL). */
  aliveUntil: number;
}

/**
 * etcd v3 (over its JSON gateway) as the registry: one key per service
 * instance, `PREFIX/<name>/<id>`, every key attached to one lease that this
 * backend keeps alive (a renewal every TTL/3). When the sidecar dies, the
 * lease expires and etcd deletes its keys.
 *
 * When the lease is gone (etcd answers that it does not know it, or it could
 * not be renewed within its TTL: etcd restarted without its data, or was away
 * too long), a new lease is granted and everything this backend wrote is
 * written again under it: by the next renewal tick, or by the next write,
 * whichever comes first. `services()` reflects what etcd holds, so a `-resync`
 * puts right anything else (a key deleted by hand).
 *
 * Writes are serialised; every request has a deadline and reports failures to
 * the caller (whose queue retries). etcd has no health checks: `updateCheck`
 * does nothing, like registrator's etcd adapter.
 */
export class EtcdBackend implements Backend {
  readonly name: string;
  private readonly gateway: EtcdGateway;
  private readonly prefix: string;
  private readonly format: EtcdValueFormat;
  private readonly leaseTtl: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  /** service id → what this backend wrote for it (and has not deleted). */
  private readonly written = new Map<string, Written>();
  private lease: Lease | undefined;
  /** The lease was replaced and not every written key has been put under the new one yet. */
  private repairNeeded = false;
  private serial: Promise<unknown> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private renewFailures = 0;
  private repairFailures = 0;
  private closed = false;

  constructor(opts: EtcdBackendOptions) {
    this.prefix = opts.prefix;
    this.format = opts.format ?? 'json';
    this.leaseTtl = opts.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_S;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
    this.log = (opts.log ?? silentLogger()).child({ component: 'etcd' });
    this.name = `etcd://${new URL(opts.endpoint).host}${this.prefix}${this.format === 'plain' ? '?format=plain' : ''}`;
    this.gateway = new EtcdGateway({ endpoint: opts.endpoint, name: this.name, timeoutMs: this.timeoutMs });
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.gateway.status(signal);
  }

  register(reg: Registration): Promise<void> {
    return this.exclusive(() => this.write(reg));
  }

  /** registrator's Refresh: writes the key again (the lease is renewed on its own). */
  refresh(reg: Registration): Promise<void> {
    return this.exclusive(() => this.write(reg));
  }

  deregister(serviceId: string): Promise<void> {
    return this.exclusive(async () => {
      const mine = this.written.get(serviceId);
      const keys = mine
        ? [mine.key]
        : (await this.gateway.range(`${this.prefix}/`))
          .filter((kv) => this.decode(kv.key, kv.value)?.id === serviceId)
          .map((kv) => kv.key);
      for (const key of keys) await this.gateway.delete(key);
      this.written.delete(serviceId);
    });
  }

  /**
   * Every service instance under the prefix (the caller keeps those whose
   * meta names this sidecar as owner). A key that this backend wrote under its
   * live lease is reported as written (in the plain format too, whose value
   * has no tags or meta); a key held by another lease carries ETCD_LEASE_META.
   */
  async services(): Promise<RegisteredService[]> {
    const kvs = await this.gateway.range(`${this.prefix}/`);
    const leaseId = this.lease?.id;
    const out: RegisteredService[] = [];
    for (const kv of kvs) {
      const svc = this.decode(kv.key, kv.value);
      if (!svc) continue;
      const held = leaseId !== undefined && kv.lease === leaseId;
      const mine = this.written.get(svc.id);
      if (held && mine?.key === kv.key && mine.value === kv.value) {
        const s = mine.reg.service;
        out.push({ id: s.id, name: s.name, address: s.address, port: s.port, tags: [...s.tags], meta: { ...s.meta } });
      } else {
        out.push(held ? svc : { ...svc, meta: { ...svc.meta, [ETCD_LEASE_META]: kv.lease } });
      }
    }
    return out;
  }

  /** etcd has no checks; registrator's etcd adapter ignores them too. A critical container stays registered. */
  async updateCheck(_checkId: string, _status: HealthStatus, _output: string): Promise<void> {
    // nothing to do
  }

  /** Stops renewing the lease. The keys stay until it expires (a quick restart loses nothing). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.serial.catch(() => undefined);
  }

  private async write(reg: Registration): Promise<void> {
    const { id, name } = reg.service;
    const key = serviceKey(this.prefix, name, id);
    const value = encodeService(reg.service, this.format);
    await this.withLease((lease) => this.gateway.put(key, value, lease));
    const before = this.written.get(id);
    if (before && before.key !== key) await this.gateway.delete(before.key); // renamed service
    this.written.set(id, { key, value, reg });
  }

  /** Runs `fn` with the live lease; a lease etcd no longer knows is replaced once. */
  private async withLease(fn: (leaseId: string) => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const lease = await this.liveLease();
        await fn(lease.id);
        return;
      } catch (err) {
        if (attempt > 0 || !isLeaseNotFound(err)) throw err;
        this.leaseLost(this.lease, 'etcd no longer knows it');
      }
    }
  }

  /** The current lease, granted if there is none; after a loss, first puts every written key under the new one. */
  private async liveLease(): Promise<Lease> {
    if (!this.lease) {
      const sentAt = Date.now();
      const granted = await this.gateway.grant(this.leaseTtl);
      this.lease = { id: granted.id, ttl: granted.ttl, aliveUntil: sentAt + granted.ttl * 1000 };
      this.log.info({ lease: granted.id, ttl: granted.ttl }, 'etcd lease granted');
      this.schedule();
    }
    const lease = this.lease;
    if (this.repairNeeded) {
      const entries = [...this.written.values()];
      this.log.warn({ services: entries.length, lease: lease.id }, 'etcd lease was lost; registering everything again under a new lease');
      for (const e of entries) await this.gateway.put(e.key, e.value, lease.id);
      this.repairNeeded = false;
      this.repairFailures = 0;
    }
    return lease;
  }

  private leaseLost(lease: Lease | undefined, why: string): void {
    if (!lease || this.lease !== lease) return;
    this.lease = undefined;
    this.repairNeeded = this.written.size > 0;
    this.log.warn({ lease: lease.id, services: this.written.size }, `etcd lease lost: ${why}`);
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const ttl = this.lease?.ttl ?? this.leaseTtl;
    this.timer = setTimeout(() => { void this.tick(); }, Math.max(500, (ttl * 1000) / 3));
    this.timer.unref();
  }

  /** Renews the lease; when it is gone, gets a new one and writes everything again. Never throws. */
  private async tick(): Promise<void> {
    this.timer = undefined;
    try {
      const lease = this.lease;
      if (lease) await this.renew(lease);
      if (!this.closed && (this.lease ? this.repairNeeded : this.written.size > 0)) {
        await this.exclusive(() => this.withLease(() => Promise.resolve()));
      }
    } catch (err) {
      this.repairFailures++;
      const level = this.repairFailures === 1 || this.repairFailures % 10 === 0 ? 'warn' : 'debug';
      this.log[level]({ err: errorMessage(err), services: this.written.size }, 'etcd: could not register again under a new lease; will retry');
    } finally {
      if (this.lease || this.written.size > 0) this.schedule();
    }
  }

  private async renew(lease: Lease): Promise<void> {
    const sentAt = Date.now();
    try {
      const ttl = await this.gateway.keepAlive(lease.id, Math.min(this.timeoutMs, Math.max(1000, (lease.ttl * 1000) / 2)));
      if (ttl <= 0) {
        this.leaseLost(lease, 'etcd no longer knows it (expired, revoked, or etcd lost its data)');
        return;
      }
      lease.aliveUntil = sentAt + ttl * 1000;
      if (this.renewFailures > 0) this.log.info({ lease: lease.id, failures: this.renewFailures }, 'etcd lease renewed again');
      this.renewFailures = 0;
    } catch (err) {
      this.renewFailures++;
      const level = this.renewFailures === 1 || this.renewFailures % 10 === 0 ? 'warn' : 'debug';
      this.log[level]({ err: errorMessage(err), lease: lease.id }, 'etcd lease renewal failed');
      if (Date.now() >= lease.aliveUntil) this.leaseLost(lease, `not renewed within its ${lease.ttl} s TTL`);
    }
  }

  private decode(key: string, value: string): RegisteredService | undefined {
    const head = `${this.prefix}/`;
    return key.startsWith(head) ? decodeService(key.slice(head.length), value) : undefined;
  }

  /** Runs `fn` after every earlier write has finished (one at a time, in order). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }
}

export interface EtcdUriOptions {
  endpoint: string;
  prefix: string;
  format: EtcdValueFormat;
}

/**
 * `etcd://HOST:PORT/PREFIX[?format=json|plain]` (no host: 127.0.0.1:2379, as
 * registrator; no port: 2379). The path is the key prefix, leading slash kept
 * as registrator does, trailing slashes dropped.
 */
export function etcdOptionsFromUri(uri: URL): EtcdUriOptions {
  if (uri.protocol !== 'etcd:') throw new MusterError('ERR_CONFIG', `unrecognized adapter: ${uri.href}`);
  for (const key of uri.searchParams.keys()) {
    if (key !== 'format') throw new MusterError('ERR_CONFIG', `unknown parameter "${key}" in ${uri.href} (etcd takes only format=json or format=plain)`);
  }
  const format = uri.searchParams.get('format') ?? 'json';
  if (format !== 'json' && format !== 'plain') {
    throw new MusterError('ERR_CONFIG', `etcd format must be "json" or "plain", not "${format}" (in ${uri.href})`);
  }
  const host = !uri.host ? `127.0.0.1:${DEFAULT_ETCD_PORT}` : uri.port ? uri.host : `${uri.host}:${DEFAULT_ETCD_PORT}`;
  let prefix: string;
  try { prefix = decodeURIComponent(uri.pathname); } catch { throw new MusterError('ERR_CONFIG', `bad key prefix in ${uri.href}`); }
  return { endpoint: `http://${host}`, prefix: prefix.replace(/\/+$/, ''), format };
}
