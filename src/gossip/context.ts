import type { Awareness } from './awareness.js';
import type { BroadcastQueue } from './broadcast-queue.js';
import type { GossipConfig } from './config.js';
import type { Member, MemberRecord, MemberTable } from './members.js';
import type { Rng } from './rng.js';
import type { GossipStats } from './stats.js';
import type { PacketMessage } from './wire.js';

/**
 * What the parts of the core (membership, probe, push-pull) share. The core
 * owns it and sets `nowMs` before handing control to any part, so the parts
 * read the time but never a clock.
 */
export interface GossipContext {
  readonly config: Readonly<GossipConfig>;
  readonly rng: Rng;
  readonly table: MemberTable;
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly stats: GossipStats;
  /** The local member's own record (always in the table, never reaped). */
  readonly self: MemberRecord;
  /** The time of the input being handled. */
  nowMs: number;
  /** Sends `messages` in one UDP packet to "ip:port", topped up with broadcasts. */
  send(to: string, messages: PacketMessage[]): void;
  /** Reports a member event to the runtime (ready().events). */
  emit(type: MemberEventType, member: MemberRecord): void;
}

/**
 * - `join`: a member became alive for the first time, or again after dead/left.
 * - `update`: an alive member published new tags or a new address.
 * - `leave`: a member left gracefully (state `left`).
 * - `fail`: a member was declared dead (Consul's `failed`).
 * - `reap`: a dead or left member was forgotten (reconnectTimeoutMs / tombstoneTimeoutMs).
 */
export type MemberEventType = 'join' | 'update' | 'leave' | 'fail' | 'reap';

export interface MemberEvent {
  readonly type: MemberEventType;
  /** The member as it was right after the change. */
  readonly member: Member;
  readonly atMs: number;
}
