import { checkTypeOf, type CheckDefinition, type HealthStatus } from '../agent/definition.js';
import type { Logger } from '../log.js';
import { systemTimers, type Timers } from '../time.js';
import { CheckLimits, type CheckResult } from './check.js';
import { httpCheckConfig, runHttpCheck } from './http.js';
import { PeriodicCheck, type Probe } from './periodic.js';
import { runTcpCheck, tcpCheckConfig } from './tcp.js';
import { TtlCheck } from './ttl.js';

export interface CheckRunnersDeps {
  log: Logger;
  /** Called with every new result; the only way runners report. Must not throw (a throw is logged). */
  onResult: (checkId: string, status: HealthStatus, output: string) => void;
  timers?: Timers;
  /** Uniform in [0, 1), for the first-run stagger; Math.random by default. */
  random?: () => number;
}

type Running =
  | { kind: 'interval'; check: PeriodicCheck }
  | { kind: 'ttl'; check: TtlCheck };

/**
 * The running HTTP, TCP and TTL checks of one agent, keyed by check ID.
 * Results go to `onResult` only; the agent owns every status.
 */
export class CheckRunners {
  private readonly running = new Map<string, Running>();
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly random: () => number;

  constructor(private readonly deps: CheckRunnersDeps) {
    this.log = deps.log.child({ component: 'health' });
    this.timers = deps.timers ?? systemTimers;
    this.random = deps.random ?? Math.random;
  }

  /**
   * Starts the runner `def` describes, replacing any under `checkId`. Returns
   * false, and leaves nothing running under `checkId`, for a kind that is not
   * run here (script, gRPC, none) or an HTTP/TCP check without an interval.
   */
  start(checkId: string, def: CheckDefinition): boolean {
    this.stop(checkId);
    const report = (result: CheckResult): void => this.report(checkId, result);
    const type = checkTypeOf(def);
    switch (type) {
      case 'http':
      case 'tcp': {
        if (def.intervalMs === undefined || !(def.intervalMs > 0)) {
          this.log.warn({ check: checkId }, 'check has no interval; not run');
          return false;
        }
        const intervalMs = Math.max(def.intervalMs, CheckLimits.minIntervalMs);
        const probe = this.probeFor(def);
        if (probe === undefined) return false;
        const firstDelayMs = Math.floor(this.random() * Math.min(intervalMs, CheckLimits.firstRunStaggerMaxMs));
        const check = new PeriodicCheck(probe, { intervalMs, firstDelayMs }, { report, timers: this.timers, log: this.log.child({ check: checkId }) });
        this.running.set(checkId, { kind: 'interval', check });
        check.start();
        return true;
      }
      case 'ttl': {
        const check = new TtlCheck(def.ttlMs ?? 0, { report, timers: this.timers });
        this.running.set(checkId, { kind: 'ttl', check });
        check.start();
        return true;
      }
      default:
        this.log.debug({ check: checkId, type }, 'check kind not run');
        return false;
    }
  }

  /** Stops the runner under `checkId`; an in-flight run is aborted and never reports. */
  stop(checkId: string): boolean {
    const r = this.running.get(checkId);
    if (r === undefined) return false;
    this.running.delete(checkId);
    r.check.stop();
    return true;
  }

  /**
   * Reports `status`/`output` for a TTL check (through `onResult`, before
   * returning) and restarts its TTL. False when `checkId` has no TTL runner.
   */
  updateTtl(checkId: string, status: HealthStatus, output: string): boolean {
    const r = this.running.get(checkId);
    if (r?.kind !== 'ttl') return false;
    r.check.update(status, output);
    return true;
  }

  stopAll(): void {
    for (const id of [...this.running.keys()]) this.stop(id);
  }

  has(checkId: string): boolean {
    return this.running.has(checkId);
  }

  private probeFor(def: CheckDefinition): Probe | undefined {
    const timers = this.timers;
    if (def.http) {
      const cfg = httpCheckConfig({ ...def, http: def.http });
      return (signal) => runHttpCheck(cfg, { signal, timers });
    }
    if (def.tcp) {
      const cfg = tcpCheckConfig({ ...def, tcp: def.tcp });
      return (signal) => runTcpCheck(cfg, { signal, timers });
    }
    return undefined;
  }

  private report(checkId: string, result: CheckResult): void {
    try {
      this.deps.onResult(checkId, result.status, result.output);
    } catch (err) {
      this.log.error({ err, check: checkId }, 'check result handler failed');
    }
  }
}
