import type { Clock } from '../time.js';
import type { LocalState } from './local-state.js';

/**
 * DeregisterCriticalServiceAfter: a service whose check has been critical
 * longer than the check allows is deregistered, checks and all. The decision
 * is a pure function of local state and the clock (`due`), run on a timer.
 */
export class CriticalReaper {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly local: LocalState,
    private readonly clock: Clock,
    private readonly reap: (serviceId: string, checkId: string) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => { this.runOnce(); }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  runOnce(): void {
    for (const [serviceId, checkId] of this.due()) this.reap(serviceId, checkId);
  }

  /** Services to deregister now, each with the check that condemned it. */
  due(): Array<[string, string]> {
    const now = this.clock.now();
    const out = new Map<string, string>();
    for (const c of this.local.checks.values()) {
      const after = c.def.deregisterCriticalServiceAfterMs;
      if (!c.def.serviceId || after === undefined || after <= 0) continue;
      if (c.status === 'critical' && c.criticalSinceMs !== undefined && now - c.criticalSinceMs >= after) {
        if (!out.has(c.def.serviceId)) out.set(c.def.serviceId, c.def.checkId);
      }
    }
    return [...out.entries()];
  }
}
