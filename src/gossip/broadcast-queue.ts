import { MESSAGE_HEADER_BYTES } from './wire.js';

/**
 * Piggybacked dissemination (memberlist's TransmitLimitedQueue).
 *
 * Every alive/suspect/dead message this member originates or relays becomes a
 * Broadcast, keyed by the member it is about. Outgoing packets (gossip rounds,
 * pings, acks) are topped up with broadcasts, fewest transmissions first and
 * newest first among equals, until the packet is full. Each broadcast is sent
 * at most retransmitLimit(retransmitMult, N) times, then dropped. A newer
 * broadcast about a member supersedes (invalidates) the queued one: only the
 * latest word on each member is ever in flight, so the queue holds at most one
 * entry per known member.
 */

/** retransmitMult × ceil(log10(n + 1)): the number of packets each broadcast rides on. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

export interface Broadcast {
  /** The member this broadcast is about; a newer one about the same member replaces it. */
  readonly key: string;
  /** The message with its type and length header (wire.ts encodeMessage). */
  readonly message: Uint8Array;
  transmits: number;
  /** Insertion order: higher is newer. */
  readonly id: number;
  /** Called once, when it is sent for the last time or superseded. */
  readonly onFinished?: () => void;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, Broadcast>();
  /** buckets[t] holds the broadcasts sent t times; each kept sorted newest first when read. */
  private readonly buckets: Broadcast[][] = [];
  private nextId = 0;

  get length(): number {
    return this.byKey.size;
  }

  /** Queues `message` about `key`, replacing any queued broadcast about the same member. */
  queue(key: string, message: Uint8Array, onFinished?: () => void): void {
    const old = this.byKey.get(key);
    if (old) this.removeFromBucket(old);
    const b: Broadcast = onFinished
      ? { key, message, transmits: 0, id: this.nextId++, onFinished }
      : { key, message, transmits: 0, id: this.nextId++ };
    this.byKey.set(key, b);
    this.bucket(0).unshift(b); // newest first
    old?.onFinished?.();
  }

  /** Removes the queued broadcast about `key` (e.g. the member was reaped). */
  drop(key: string): void {
    const b = this.byKey.get(key);
    if (!b) return;
    this.removeFromBucket(b);
    this.byKey.delete(key);
    b.onFinished?.();
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Takes broadcasts whose messages (with their headers) fit in `budgetBytes`,
   * fewest transmissions first, counting one transmission each; broadcasts
   * that reach `limit` transmissions leave the queue.
   */
  take(budgetBytes: number, limit: number, maxCount = 254): Uint8Array[] {
    const out: Uint8Array[] = [];
    const moved: Broadcast[] = [];
    let room = budgetBytes;
    for (let t = 0; t < this.buckets.length && room > MESSAGE_HEADER_BYTES && out.length < maxCount; t++) {
      const bucket = this.buckets[t];
      if (!bucket || bucket.length === 0) continue;
      let kept: Broadcast[] | undefined; // built only once something is taken from this bucket
      for (let i = 0; i < bucket.length; i++) {
        const b = bucket[i] as Broadcast;
        if (b.message.length > room || out.length >= maxCount) {
          kept?.push(b);
          continue;
        }
        kept ??= bucket.slice(0, i);
        room -= b.message.length;
        out.push(b.message);
        b.transmits++;
        moved.push(b);
      }
      if (kept) this.buckets[t] = kept;
    }
    for (const b of moved) {
      if (b.transmits >= limit) {
        this.byKey.delete(b.key);
        b.onFinished?.();
      } else {
        insertNewestFirst(this.bucket(b.transmits), b);
      }
    }
    return out;
  }

  private bucket(t: number): Broadcast[] {
    while (this.buckets.length <= t) this.buckets.push([]);
    return this.buckets[t] as Broadcast[];
  }

  private removeFromBucket(b: Broadcast): void {
    const bucket = this.buckets[b.transmits];
    const i = bucket ? bucket.indexOf(b) : -1;
    if (bucket && i >= 0) bucket.splice(i, 1);
  }
}

function insertNewestFirst(bucket: Broadcast[], b: Broadcast): void {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bucket[mid] as Broadcast).id > b.id) lo = mid + 1;
    else hi = mid;
  }
  bucket.splice(lo, 0, b);
}
