/**
 * Counters of one gossip member: what came in, what went out, and every input
 * that was dropped, by reason. Bad input never throws; it ends up here.
 */

/** Why a packet or stream frame was dropped. Values are stable (they are logged and tested). */
export type DropReason =
  | 'truncated' // shorter than its header or a length field says
  | 'oversized' // longer than a packet or stream frame may be
  | 'bad-magic' // does not start with the protocol's magic byte
  | 'unknown-version' // a protocol version this member does not speak
  | 'unknown-type' // a message type number this member does not know
  | 'malformed' // fields out of range, bad UTF-8, trailing bytes
  | 'decrypt-failed' // encryption is on and no key in the ring opens it
  | 'plaintext' // encryption is on and the peer sent plaintext
  | 'unexpected-encryption' // encryption is off and the peer sent a sealed frame
  | 'wrong-target' // a ping for another member name
  | 'name-conflict' // an alive message for a known name at another address
  | 'unknown-ack' // an ack or nack for no probe in flight (late or forged)
  | 'internal'; // a handler failed on input that decoded: counted, never thrown

export const DROP_REASONS: readonly DropReason[] = [
  'truncated', 'oversized', 'bad-magic', 'unknown-version', 'unknown-type', 'malformed',
  'decrypt-failed', 'plaintext', 'unexpected-encryption', 'wrong-target', 'name-conflict',
  'unknown-ack', 'internal',
];

export interface GossipStatsSnapshot {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  streamsIn: number;
  streamsOut: number;
  streamBytesIn: number;
  streamBytesOut: number;
  /** Messages carried inside packets and frames, both directions. */
  messagesIn: number;
  messagesOut: number;
  /** Drops by reason; `droppedTotal` is their sum. */
  dropped: Record<DropReason, number>;
  droppedTotal: number;
  /** Probes that got no ack at all (direct or indirect). */
  probesFailed: number;
  /** Times this member refuted a suspicion or death of itself. */
  refutations: number;
  /** Push-pull exchanges this member started that failed. */
  pushPullFailures: number;
}

export class GossipStats {
  private readonly s: GossipStatsSnapshot;

  constructor() {
    const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
    this.s = {
      packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0,
      streamsIn: 0, streamsOut: 0, streamBytesIn: 0, streamBytesOut: 0,
      messagesIn: 0, messagesOut: 0, dropped, droppedTotal: 0,
      probesFailed: 0, refutations: 0, pushPullFailures: 0,
    };
  }

  drop(reason: DropReason): void {
    this.s.dropped[reason]++;
    this.s.droppedTotal++;
  }

  packetIn(bytes: number): void {
    this.s.packetsIn++;
    this.s.bytesIn += bytes;
  }

  packetOut(bytes: number, messages: number): void {
    this.s.packetsOut++;
    this.s.bytesOut += bytes;
    this.s.messagesOut += messages;
  }

  streamIn(bytes: number): void {
    this.s.streamsIn++;
    this.s.streamBytesIn += bytes;
  }

  streamOut(bytes: number): void {
    this.s.streamsOut++;
    this.s.streamBytesOut += bytes;
  }

  /** Bytes of a stream reply (counted apart from the stream that carried the request). */
  streamBytes(direction: 'in' | 'out', bytes: number): void {
    if (direction === 'in') this.s.streamBytesIn += bytes;
    else this.s.streamBytesOut += bytes;
  }

  messagesIn(n: number): void {
    this.s.messagesIn += n;
  }

  count(counter: 'probesFailed' | 'refutations' | 'pushPullFailures'): void {
    this.s[counter]++;
  }

  /** A copy: later counting does not change it. */
  snapshot(): GossipStatsSnapshot {
    return { ...this.s, dropped: { ...this.s.dropped } };
  }
}
