import type { MemberEvent } from './context.js';
import type { Tags } from './members.js';
import type { Rng } from './rng.js';
import type { DropReason } from './stats.js';
import type { StreamErrorReason } from './wire.js';

/** Who the local member is. */
export interface SelfSpec {
  /** Unique in the cluster; at most 255 UTF-8 bytes. */
  name: string;
  /** The IP address other members reach us at (the advertise address). */
  addr: string;
  port: number;
  /** Published with our alive messages; at most 512 bytes encoded. */
  tags?: Tags;
}

export interface GossipCoreDeps {
  /** The core's only source of randomness (probe order, gossip targets, stagger). */
  rng: Rng;
  self: SelfSpec;
  /** Bytes the runtime adds to each packet (encryption: 29); subtracted from udpBufferSize. */
  packetOverhead?: number;
}

/** A UDP datagram that arrived from "ip:port". */
export interface InboundPacket {
  from: string;
  data: Uint8Array;
  nowMs: number;
}

/** A stream frame (already decrypted) that a peer opened a connection to send us. */
export interface InboundStream {
  from: string;
  data: Uint8Array;
  nowMs: number;
}

/** A UDP datagram to send to "ip:port". */
export interface OutboundPacket {
  to: string;
  data: Uint8Array;
}

/** Why the core wants a stream exchange. */
export type StreamKind = 'join' | 'push-pull' | 'reconnect';

/**
 * A push-pull exchange for the runtime to run: connect to `to`, send `data` as
 * one frame, read one frame back, and report it with `streamDone(id, ...)`.
 */
export interface StreamRequest {
  id: number;
  to: string;
  data: Uint8Array;
  kind: StreamKind;
}

/** How a stream exchange ended, as the runtime reports it to `streamDone`. */
export interface StreamResult {
  id: number;
  nowMs: number;
  /** The reply frame (decrypted), when one came. */
  data?: Uint8Array;
  /** Why no usable reply came (refused, timed out, could not decrypt, ...), when none did. */
  error?: string;
}

export type StreamOutcome =
  | { ok: true; kind: StreamKind; members: number }
  | { ok: false; kind: StreamKind | undefined; reason: string; dropReason?: DropReason; peerError?: StreamErrorReason };

/**
 * The outbox, drained by `ready()`. Order of handling does not matter to the
 * core: packets and streams are fire-and-forget from its point of view
 * (loss is part of the protocol) and events are reports.
 */
export interface Ready {
  packets: OutboundPacket[];
  streams: StreamRequest[];
  events: MemberEvent[];
}

/** One entry of `join()`'s answer. */
export type JoinAttempt = { address: string; id: number } | { address: string; error: string };
