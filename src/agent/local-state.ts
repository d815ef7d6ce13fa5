import type { HealthStatus, ServiceDefinition } from './definition.js';
import type { ResolvedCheck } from './validate.js';
import type { Clock } from '../time.js';

export interface LocalCheck {
  def: ResolvedCheck;
  status: HealthStatus;
  output: string;
  /** When the check last turned critical (ms), for DeregisterCriticalServiceAfter. */
  criticalSinceMs: number | undefined;
}

/**
 * The services and checks this agent owns (registered through its API, its
 * config files or its sidecar). The catalog copy is kept in step by
 * anti-entropy; `onChange` tells it that something moved.
 */
export class LocalState {
  readonly services = new Map<string, ServiceDefinition>();
  readonly checks = new Map<string, LocalCheck>();

  constructor(private readonly clock: Clock, private readonly onChange: () => void) {}

  /** Adds or replaces a service. Its checks are merged (kept unless `replaceExistingChecks`). Returns the ids of checks removed. */
  addService(def: ServiceDefinition, checks: ResolvedCheck[], replaceExistingChecks: boolean): string[] {
    const removed: string[] = [];
    if (replaceExistingChecks) {
      const keep = new Set(checks.map((c) => c.checkId));
      for (const [id, c] of this.checks) {
        if (c.def.serviceId === def.id && !keep.has(id)) { this.checks.delete(id); removed.push(id); }
      }
    }
    this.services.set(def.id, def);
    for (const c of checks) this.putCheck(c);
    this.onChange();
    return removed;
  }

  /** Removes a service and its checks; returns the removed check ids, or undefined if the service was unknown. */
  removeService(id: string): string[] | undefined {
    if (!this.services.delete(id)) return undefined;
    const removed: string[] = [];
    for (const [cid, c] of this.checks) {
      if (c.def.serviceId === id) { this.checks.delete(cid); removed.push(cid); }
    }
    this.onChange();
    return removed;
  }

  addCheck(def: ResolvedCheck): void {
    this.putCheck(def);
    this.onChange();
  }

  removeCheck(id: string): boolean {
    const had = this.checks.delete(id);
    if (had) this.onChange();
    return had;
  }

  /** Records a check result; returns false when the check is unknown. */
  setStatus(id: string, status: HealthStatus, output: string): boolean {
    const c = this.checks.get(id);
    if (!c) return false;
    if (c.status === status && c.output === output) return true;
    if (status === 'critical' && c.status !== 'critical') c.criticalSinceMs = this.clock.now();
    if (status !== 'critical') c.criticalSinceMs = undefined;
    c.status = status;
    c.output = output;
    this.onChange();
    return true;
  }

  private putCheck(def: ResolvedCheck): void {
    const prev = this.checks.get(def.checkId);
    // Re-registering keeps the current status unless the definition names one.
    const status: HealthStatus = def.status ?? prev?.status ?? 'critical';
    this.checks.set(def.checkId, {
      def,
      status,
      output: def.status === undefined && prev ? prev.output : '',
      criticalSinceMs: status === 'critical' ? (prev?.criticalSinceMs ?? this.clock.now()) : undefined,
    });
  }
}
