/**
 * Local health awareness (Lifeguard). The score rises when this member misses
 * acks it should have had (no nacks from the intermediaries either) or must
 * refute a suspicion of itself, and falls with each successful probe. Probe
 * timeouts are scaled by score + 1, so a member that is itself slow (CPU
 * starved, paused, dropping packets) waits longer before suspecting others.
 */

/** `timeoutMs` × (score + 1), with score clamped to [0, maxMultiplier − 1]. */
export function scaleTimeout(timeoutMs: number, score: number, maxMultiplier: number): number {
  const s = Math.min(Math.max(0, score), Math.max(0, maxMultiplier - 1));
  return timeoutMs * (s + 1);
}

export class Awareness {
  private value = 0;

  constructor(private readonly maxMultiplier: number) {}

  /** Adds `delta` and clamps the score to [0, maxMultiplier − 1]. */
  applyDelta(delta: number): void {
    this.value = Math.min(Math.max(0, this.value + delta), this.maxMultiplier - 1);
  }

  /** 0 is healthy; maxMultiplier − 1 is the worst. */
  get score(): number {
    return this.value;
  }

  scaleTimeout(timeoutMs: number): number {
    return scaleTimeout(timeoutMs, this.value, this.maxMultiplier);
  }
}
