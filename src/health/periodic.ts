import type { Logger } from '../log.js';
import type { Timers } from '../time.js';
import type { CheckResult } from './check.js';

/** One attempt of an interval check; must resolve (failures are critical results), and stop work when `signal` aborts. */
export type Probe = (signal: AbortSignal) => Promise<CheckResult>;

export interface PeriodicCheckOptions {
  /** Time between the starts of two runs, already raised to the minimum. */
  intervalMs: number;
  /** Delay before the first run. */
  firstDelayMs: number;
}

/**
 * Runs a probe now and then, forever, until stopped. Runs never overlap: the
 * next one is timed from the start of the previous one and begins no sooner
 * than its end. After `stop()` the in-flight probe is aborted and nothing more
 * is reported.
 */
export class PeriodicCheck {
  private timer: unknown;
  private armed = false;
  private inFlight: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly probe: Probe,
    private readonly opts: PeriodicCheckOptions,
    private readonly deps: {
      report: (result: CheckResult) => void;
      timers: Timers;
      log: Logger;
      /** Monotonic milliseconds, to time a run; performance.now by default. */
      now?: () => number;
    },
  ) {}

  start(): void {
    if (this.stopped) return;
    this.schedule(this.opts.firstDelayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.armed) this.deps.timers.clearTimeout(this.timer);
    this.armed = false;
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  private schedule(delayMs: number): void {
    this.armed = true;
    this.timer = this.deps.timers.setTimeout(() => {
      this.armed = false;
      if (this.stopped) return;
      void this.runOnce().catch((err: unknown) => {
        // runOnce guards its own steps; this only catches a bug, and keeps the check alive.
        this.deps.log.error({ err }, 'check run failed');
        if (!this.stopped) this.schedule(this.opts.intervalMs);
      });
    }, delayMs);
  }

  private async runOnce(): Promise<void> {
    const controller = new AbortController();
    this.inFlight = controller;
    const now = this.deps.now ?? (() => performance.now());
    const startedAt = now();
    let result: CheckResult;
    try {
      result = await this.probe(controller.signal);
    } catch (err) {
      result = { status: 'critical', output: `check failed: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      if (this.inFlight === controller) this.inFlight = undefined;
    }
    if (this.stopped || controller.signal.aborted) return;
    try {
      this.deps.report(result);
    } catch (err) {
      this.deps.log.error({ err }, 'check result handler failed');
    }
    if (this.stopped) return;
    const elapsed = now() - startedAt;
    this.schedule(Math.max(0, this.opts.intervalMs - elapsed));
  }
}
