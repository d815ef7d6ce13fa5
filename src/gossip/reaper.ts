import type { GossipContext } from './context.js';
import type { MemberRecord } from './members.js';

/**
 * Serf's reaper: removes from the table the members dead for longer than
 * reconnectTimeoutMs and those left for longer than tombstoneTimeoutMs, and
 * returns them (the core reports a `reap` event for each). The local member is
 * never reaped.
 */
export function reapExpired(ctx: GossipContext): MemberRecord[] {
  const { config, nowMs, table } = ctx;
  const reaped: MemberRecord[] = [];
  for (const m of [...table.all()]) {
    if (m === ctx.self) continue;
    const age = nowMs - m.stateChangedAtMs;
    if ((m.state === 'dead' && age > config.reconnectTimeoutMs) || (m.state === 'left' && age > config.tombstoneTimeoutMs)) {
      table.remove(m.name);
      reaped.push(m);
    }
  }
  return reaped;
}
