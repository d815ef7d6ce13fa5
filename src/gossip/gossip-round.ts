import type { GossipContext } from './context.js';
import type { MemberRecord } from './members.js';

/**
 * The members one gossip round sends pending broadcasts to: `gossipNodes`
 * random members other than ourselves that are alive or suspect, or dead for
 * less than gossipToTheDeadTimeMs (so a member that was only cut off or paused
 * hears of its death and refutes). Left members are not gossiped to.
 */
export function gossipTargets(ctx: GossipContext): MemberRecord[] {
  const { config, nowMs } = ctx;
  return ctx.table.randomMembers(config.gossipNodes, ctx.rng, (m) => {
    if (m === ctx.self) return true;
    if (m.state === 'alive' || m.state === 'suspect') return false;
    return m.state !== 'dead' || nowMs - m.stateChangedAtMs > config.gossipToTheDeadTimeMs;
  });
}
