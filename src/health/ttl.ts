import type { HealthStatus } from '../agent/definition.js';
import { systemTimers, type Timers } from '../time.js';
import { CheckLimits, truncateUtf8, type CheckResult } from './check.js';

/** Output reported when a TTL check was not updated in time. */
export const TTL_EXPIRED_OUTPUT = 'TTL expired';

/**
 * A TTL check: the outside reports the status (`update`), and the check turns
 * critical with `TTL expired` when no update arrives within `ttlMs`. Every
 * update re-arms the timer; an expiry is reported once, until the next update.
 * It reports nothing at start: the initial status is the definition's.
 */
export class TtlCheck {
  private timer: unknown;
  private armed = false;
  private stopped = false;

  constructor(
    private readonly ttlMs: number,
    private readonly deps: { report: (result: CheckResult) => void; timers?: Timers },
  ) {}

  start(): void {
    if (this.stopped) return;
    this.arm();
  }

  /** Reports `status` (output cut to 4 KiB) and restarts the TTL. */
  update(status: HealthStatus, output: string): void {
    if (this.stopped) return;
    this.arm();
    this.deps.report({ status, output: truncateUtf8(output, CheckLimits.outputMaxBytes) });
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private arm(): void {
    this.disarm();
    this.armed = true;
    this.timer = this.timers().setTimeout(() => {
      this.armed = false;
      if (this.stopped) return;
      this.deps.report({ status: 'critical', output: TTL_EXPIRED_OUTPUT });
    }, this.ttlMs);
  }

  private disarm(): void {
    if (!this.armed) return;
    this.armed = false;
    this.timers().clearTimeout(this.timer);
  }

  private timers(): Timers {
    return this.deps.timers ?? systemTimers;
  }
}
