import type { Logger } from '../log.js';
import type { HealthStatus } from '../agent/definition.js';
import type { Backend, RegisteredService } from '../backends/types.js';
import { OpQueue } from './op-queue.js';
import type { SidecarObserver } from './observer.js';
import { mapContainer } from './services.js';
import { CONTAINER_META, DOCKER_HEALTH_CHECK_SUFFIX, OWNER_META, type ContainerInspect, type MappingOptions, type Registration } from './types.js';

/** registrator's pattern for the IDs it makes: `host:container:port[:udp]`. */
const REGISTRATOR_ID = /^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$/;

export interface ReconcilerOptions {
  mapping: MappingOptions;
  deregister: 'always' | 'on-success';
  cleanup: boolean;
  requireLabel: string | undefined;
  /** Told of every registration and deregistration the registry accepted (metrics). */
  observer?: SidecarObserver;
}

/** How a container ended, for `-deregister on-success`. */
export interface ContainerExit {
  /** False when the container no longer exists (`--rm`, removed). */
  exists: boolean;
  running: boolean;
  exitCode: number;
}

export interface ReconcileInput {
  running: ContainerInspect[];
  /** Looks up a container that is not running (for services whose container may have exited). */
  exitOf: (containerId: string) => Promise<ContainerExit>;
}

/**
 * What the sidecar wants registered, and the changes that bring the registry
 * there. Registrations are owned: each carries `muster-sidecar=<hostname>`
 * and `muster-container=<id>` in Meta, so that a full reconciliation can tell
 * what is dangling (registered by us, container gone) from what belongs to
 * someone else.
 */
export class Reconciler {
  /** container id → its wanted registrations by service id. */
  private readonly desired = new Map<string, Map<string, Registration>>();
  /** service id → fingerprint of what the registry was last given (or found to hold). */
  private readonly applied = new Map<string, string>();
  /** container id → last Docker health status seen (healthy, unhealthy, starting). */
  private readonly health = new Map<string, string>();
  /** container id → services kept registered after a failed exit (-deregister on-success), removed when the container is. */
  private readonly retained = new Map<string, string[]>();
  readonly queue: OpQueue;

  constructor(private readonly backend: Backend, private readonly opts: ReconcilerOptions, private readonly log: Logger, signal: AbortSignal) {
    this.queue = new OpQueue({ log, signal });
  }

  /**
   * A running container (start event, or found by a sync): register what it
   * should have. `eventAt`: when the Docker event that told of it arrived
   * (`performance.now()`), for the event-to-registration latency.
   */
  containerUp(info: ContainerInspect, quiet = false, eventAt?: number): void {
    const regs = this.registrationsOf(info, quiet);
    const id = info.Id;
    this.retained.delete(id);
    const before = this.desired.get(id);
    const now = new Map(regs.map((r) => [r.service.id, r]));
    this.desired.set(id, now);
    if (info.State?.Health?.Status) this.health.set(id, info.State.Health.Status);
    for (const reg of now.values()) this.ensureRegistered(reg, eventAt);
    for (const sid of before?.keys() ?? []) if (!now.has(sid)) this.removeService(sid);
  }

  /** A container died: deregister per `-deregister`. `exit` undefined means: it is gone. */
  containerDown(containerId: string, exit: ContainerExit | undefined): void {
    const regs = this.desired.get(containerId);
    this.desired.delete(containerId);
    this.health.delete(containerId);
    if (!regs) {
      const kept = exit ? undefined : this.retained.get(containerId);
      this.retained.delete(containerId);
      for (const sid of kept ?? []) this.removeService(sid);
      return;
    }
    if (exit && !this.shouldRemove(exit)) {
      this.retained.set(containerId, [...regs.keys()]);
      this.log.info({ container: containerId.slice(0, 12), exitCode: exit.exitCode }, 'container failed; keeping its services (-deregister on-success)');
      return;
    }
    for (const sid of regs.keys()) this.removeService(sid);
  }

  /** A `health_status` event: mirror it into each service's Docker health check. */
  healthChanged(containerId: string, dockerStatus: string): void {
    this.health.set(containerId, dockerStatus);
    for (const reg of this.desired.get(containerId)?.values() ?? []) this.pushHealth(reg, dockerStatus);
  }

  /** Re-sends every Docker health status, before the checks' TTL runs out. */
  refreshHealth(): void {
    for (const [cid, regs] of this.desired) {
      const st = this.health.get(cid);
      if (st) for (const reg of regs.values()) this.pushHealth(reg, st);
    }
  }

  /** Re-writes every registration on TTL backends (registrator's -ttl-refresh). */
  refreshTtl(): void {
    const refresh = this.backend.refresh?.bind(this.backend);
    if (!refresh) return;
    for (const regs of this.desired.values()) {
      for (const reg of regs.values()) {
        this.queue.push(`refresh:${reg.service.id}`, { describe: `refresh ${reg.service.id}`, run: () => refresh(reg) });
      }
    }
  }

  /**
   * Full reconciliation: wanted = the mapping of every running container;
   * registers what is missing or different, removes our services whose
   * container is gone, and with `-cleanup` registrator-style leftovers of this
   * host. Throws when the registry cannot be listed (the caller retries).
   */
  async reconcile(input: ReconcileInput): Promise<{ registered: number; removed: number }> {
    const listed = await this.backend.services();
    const listedById = new Map(listed.map((s) => [s.id, s]));
    this.desired.clear();
    for (const info of input.running) {
      this.desired.set(info.Id, new Map(this.registrationsOf(info, true).map((r) => [r.service.id, r])));
      if (info.State?.Health?.Status) this.health.set(info.Id, info.State.Health.Status);
    }
    const wanted = new Map<string, Registration>();
    for (const regs of this.desired.values()) for (const [sid, r] of regs) wanted.set(sid, r);
    let registered = 0;
    for (const [sid, reg] of wanted) {
      const svc = listedById.get(sid);
      const fp = fingerprint(reg);
      const known = this.applied.get(sid);
      if (svc && matches(svc, reg) && (known === undefined || known === fp)) {
        this.applied.set(sid, fp); // already there as wanted: write nothing
        continue;
      }
      if (!svc) this.applied.delete(sid);
      if (this.ensureRegistered(reg)) registered++;
    }
    let removed = 0;
    const runningNames = new Set(input.running.map((c) => c.Name.replace(/^\//, '')));
    for (const svc of listed) {
      if (wanted.has(svc.id)) continue;
      if (svc.meta[OWNER_META] === this.opts.mapping.hostname) {
        const cid = svc.meta[CONTAINER_META] ?? '';
        if (cid && this.opts.deregister === 'on-success') {
          const exit = await input.exitOf(cid);
          if (!this.shouldRemove(exit)) continue;
        }
        this.log.info({ service: svc.id, container: cid.slice(0, 12) }, 'removing dangling service');
        this.removeService(svc.id);
        removed++;
      } else if (this.opts.cleanup && !svc.meta[OWNER_META]) {
        const m = REGISTRATOR_ID.exec(svc.id);
        if (m && m[1] === this.opts.mapping.hostname && !runningNames.has(m[2] as string)) {
          this.log.info({ service: svc.id }, 'removing dangling service (-cleanup)');
          this.removeService(svc.id);
          removed++;
        }
      }
    }
    return { registered, removed };
  }

  /** The registrations currently wanted, for tests and status. */
  wanted(): Registration[] {
    return [...this.desired.values()].flatMap((m) => [...m.values()]);
  }

  private registrationsOf(info: ContainerInspect, quiet: boolean): Registration[] {
    const container = info.Id.slice(0, 12);
    if (this.opts.requireLabel && !hasLabel(info, this.opts.requireLabel)) {
      if (!quiet) this.log.debug({ container }, `ignored: no ${this.opts.requireLabel} label`);
      return [];
    }
    let result;
    try {
      result = mapContainer(info, this.opts.mapping);
    } catch (err) {
      this.log.warn({ container, err }, 'could not map container; skipped');
      return [];
    }
    for (const w of result.warnings) this.log.warn({ container: w.container, key: w.key }, w.message);
    if (result.registrations.length === 0 && result.skipped && !quiet) this.log.debug({ container }, `ignored: ${result.skipped}`);
    return result.registrations;
  }

  /** Queues a registration unless the registry already has exactly it; true when queued. */
  private ensureRegistered(reg: Registration, eventAt?: number): boolean {
    const sid = reg.service.id;
    const fp = fingerprint(reg);
    if (this.applied.get(sid) === fp && !this.queue.has(`svc:${sid}`)) return false;
    this.queue.push(`svc:${sid}`, {
      describe: `register ${sid}`,
      run: async () => {
        await this.backend.register(reg);
        this.applied.set(sid, fp);
        this.opts.observer?.registered(eventAt === undefined ? undefined : performance.now() - eventAt);
        this.log.info({ service: sid, container: reg.containerId.slice(0, 12) }, 'added');
      },
    });
    return true;
  }

  private removeService(sid: string): void {
    this.queue.drop(`check:service:${sid}${DOCKER_HEALTH_CHECK_SUFFIX}`);
    this.queue.push(`svc:${sid}`, {
      describe: `deregister ${sid}`,
      run: async () => {
        await this.backend.deregister(sid);
        this.applied.delete(sid);
        this.opts.observer?.deregistered();
        this.log.info({ service: sid }, 'removed');
      },
    });
  }

  private pushHealth(reg: Registration, dockerStatus: string): void {
    const check = reg.service.checks.find((c) => c.checkId?.endsWith(DOCKER_HEALTH_CHECK_SUFFIX));
    if (!check?.checkId) return;
    const checkId = check.checkId;
    const status = healthStatusOf(dockerStatus);
    this.queue.push(`check:${checkId}`, {
      describe: `update ${checkId}`,
      run: () => this.backend.updateCheck(checkId, status, `Docker health status: ${dockerStatus}`),
    });
  }

  private shouldRemove(exit: ContainerExit): boolean {
    if (this.opts.deregister === 'always' || !exit.exists) return true;
    if (exit.running) return false;
    return exit.exitCode === 0 || (exit.exitCode & 128) !== 0;
  }
}

export function healthStatusOf(dockerStatus: string): HealthStatus {
  return dockerStatus === 'healthy' ? 'passing' : 'critical';
}

function hasLabel(info: ContainerInspect, label: string): boolean {
  const v = info.Config.Labels?.[label];
  return v !== undefined && !['false', '0', 'no', 'off'].includes(v.toLowerCase());
}

/** What identifies a registration's content; Docker health status is excluded (it is updated in place). */
function fingerprint(reg: Registration): string {
  const checks = reg.service.checks.map((c) => (c.checkId?.endsWith(DOCKER_HEALTH_CHECK_SUFFIX) ? { ...c, status: undefined } : c));
  return JSON.stringify({ ...reg.service, checks });
}

function matches(svc: RegisteredService, reg: Registration): boolean {
  const s = reg.service;
  return svc.name === s.name && svc.address === s.address && svc.port === s.port
    && svc.tags.length === s.tags.length && svc.tags.every((t, i) => t === s.tags[i])
    && JSON.stringify(Object.entries(svc.meta).sort()) === JSON.stringify(Object.entries(s.meta).sort());
}
