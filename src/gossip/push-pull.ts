import type { GossipContext } from './context.js';
import type { MemberRecord } from './members.js';
import type { Membership } from './membership.js';
import type { PushPullMsg } from './wire.js';

/**
 * Push-pull: a full state exchange over TCP with one member, on join and
 * periodically (the anti-entropy backstop for whatever gossip missed). Both
 * sides send every member they know, in every state, and merge the other's:
 *
 * - alive   → as an alive message (accepted only with a higher incarnation)
 * - left    → as a dead message from the member itself (left, not failed)
 * - suspect → as a suspicion of our own
 * - dead    → also only as a suspicion: another member's verdict is not taken on
 *             trust; if the member is alive it hears the suspicion and refutes
 *
 * Dead members are sent until they are reaped, so that a member on the other
 * side of a healed partition learns it was declared dead and refutes; that is
 * what lets a reconnect (config.reconnectIntervalMs) merge the two views.
 */

/** Above this many live members the push-pull interval grows (memberlist's pushPullScaleThreshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * The push-pull interval for n live members: unchanged up to 32, then
 * multiplied by ceil(log2(n) − log2(32)) + 1, so that the total TCP load of
 * the cluster grows slower than n.
 */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return intervalMs * multiplier;
}

/** Everything this member knows, as one push-pull frame. */
export function localState(ctx: GossipContext, join: boolean): PushPullMsg {
  return {
    type: 'push-pull',
    join,
    members: ctx.table.all().map((m) => ({
      name: m.name, addr: m.addr, port: m.port, incarnation: m.incarnation, state: m.state, tags: m.tags,
    })),
  };
}

/** Merges a remote member's full state into ours by the rules above. */
export function mergeRemoteState(ctx: GossipContext, membership: Membership, remote: PushPullMsg): void {
  for (const r of remote.members) {
    const local = ctx.table.get(r.name);
    // Same state at the same incarnation: nothing to learn (the common case, kept cheap).
    if (local && local.state === r.state && local.incarnation === r.incarnation && r.name !== ctx.self.name) continue;
    switch (r.state) {
      case 'alive':
        membership.applyAlive({ type: 'alive', incarnation: r.incarnation, name: r.name, addr: r.addr, port: r.port, tags: r.tags });
        break;
      case 'left':
        membership.applyDead({ type: 'dead', incarnation: r.incarnation, name: r.name, from: r.name });
        break;
      case 'dead':
      case 'suspect':
        membership.applySuspect({ type: 'suspect', incarnation: r.incarnation, name: r.name, from: ctx.self.name });
        break;
    }
  }
}

/** The periodic push-pull partner: one random alive member other than ourselves. */
export function pushPullTarget(ctx: GossipContext): MemberRecord | undefined {
  return ctx.table.randomMembers(1, ctx.rng, (m) => m === ctx.self || m.state !== 'alive')[0];
}

/**
 * Serf's reconnect: with probability failed / live (so attempts grow with the
 * share of failed members), one random failed member to push-pull with.
 */
export function reconnectTarget(ctx: GossipContext): MemberRecord | undefined {
  const failed = ctx.table.all().filter((m) => m.state === 'dead');
  if (failed.length === 0) return undefined;
  if (ctx.rng.next() > failed.length / Math.max(1, ctx.table.liveCount)) return undefined;
  return failed[ctx.rng.int(failed.length)];
}
