/**
 * Suspicion timers with Lifeguard's independent confirmations.
 *
 * A suspect member is declared dead when its timer runs out. The timer starts
 * at `max` (so a lone accuser, which may itself be the unhealthy one, waits
 * long) and shrinks on a log scale towards `min` as other members confirm the
 * suspicion independently; `k` confirmations reach `min`.
 */

/**
 * The base suspicion timeout: suspicionMult × max(1, log10(max(1, n))) ×
 * probeInterval, in whole milliseconds. n is the number of live members.
 */
export function suspicionTimeout(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs);
}

/**
 * Time left (possibly negative: already expired) after `elapsedMs` on a timer
 * that has seen `n` of the `k` wanted confirmations:
 *
 *   timeout = max − (max − min) × log(n + 1) / log(k + 1), floored to ms, at least min
 *
 * With k < 1 there is nothing to wait for and the timeout is min.
 */
export function remainingSuspicionTime(n: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs - elapsedMs;
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, raw) - elapsedMs;
}

/** Confirmations wanted before the timer reaches min: suspicionMult − 2, or 0 in clusters too small to give them. */
export function wantedConfirmations(suspicionMult: number, liveMembers: number): number {
  const k = suspicionMult - 2;
  return liveMembers - 2 < k ? 0 : Math.max(0, k);
}

/** One suspect member's timer. The core checks `deadlineMs` on each tick. */
export class Suspicion {
  /** Confirmations counted so far (the accuser that started it is not one). */
  private n = 0;
  private readonly confirmedBy = new Set<string>();
  /** When the member is to be declared dead, by the core's clock. */
  deadlineMs: number;

  constructor(
    readonly incarnation: number,
    from: string,
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number,
    readonly startMs: number,
  ) {
    this.confirmedBy.add(from);
    this.deadlineMs = startMs + (k < 1 ? minMs : maxMs);
  }

  get confirmations(): number {
    return this.n;
  }

  /**
   * Counts a suspicion from `from` if it is new, and pulls the deadline in.
   * True when it counted (the caller then re-gossips the suspect message, so
   * independent confirmations keep flowing).
   */
  confirm(from: string, nowMs: number): boolean {
    if (this.n >= this.k || this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.n++;
    const remaining = remainingSuspicionTime(this.n, this.k, nowMs - this.startMs, this.minMs, this.maxMs);
    this.deadlineMs = nowMs + Math.max(0, remaining);
    return true;
  }
}
