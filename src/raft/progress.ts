/**
 * The leader's view of one follower.
 *
 * - 'probe': we do not know where the follower's log ends; send one append
 *   per heartbeat interval and wait for the answer before the next.
 * - 'replicate': the follower is caught up to `match`; stream appends
 *   optimistically (advance `next` on send), up to `maxInflight` at once.
 * - 'snapshot': a snapshot at `pendingSnapshot` is on its way; send nothing
 *   until it is reported applied or failed.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A ring of the last index of each append in flight, oldest first. */
export class Inflights {
  private readonly buf: number[] = [];
  constructor(private readonly size: number) {}

  add(last: number): void {
    this.buf.push(last);
  }

  /** Frees every append whose last index is <= to. */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.buf.length && (this.buf[n] as number) <= to) n++;
    if (n > 0) this.buf.splice(0, n);
  }

  freeFirstOne(): void {
    this.buf.shift();
  }

  full(): boolean {
    return this.buf.length >= this.size;
  }

  count(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf.length = 0;
  }
}

export class Progress {
  /** Highest index known to be in the follower's log. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight ('snapshot' state). */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum. */
  recentActive = false;
  /** 'probe': an append was sent and not yet answered. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** An acknowledgement up to n; false if it tells us nothing new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append after index `rejected`; `hint` is where the
   * follower suggests probing. False if the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflights.full();
      case 'snapshot': return true;
    }
  }

  /** Replicate state: entries up to last were sent. */
  sentEntries(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflights.add(last);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
