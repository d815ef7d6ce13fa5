import t from 'tap';
import { pushPullScale } from '../../src/gossip/push-pull.js';
import { seeded, SimCluster, startCluster } from './sim-cluster.js';

const FILE = 'test/sim/partition.test.ts';

t.test('a partition splits the view, and heals into one view', async (t) => {
  const seed = seeded(t, 201, FILE);
  const sim = new SimCluster({ seed, delayMs: [1, 10] });
  const names = startCluster(sim, 24);
  t.ok(sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000) !== undefined, 'the cluster formed');
  const left = names.slice(0, 12);
  const right = names.slice(12);
  sim.partition([left, right]);
  // Long enough to outlive gossipToTheDeadTime: only reconnects can heal it.
  sim.runFor(90_000);
  const other = (o: string) => (left.includes(o) ? right : left);
  t.ok(sim.up().every((o) => other(o.name).every((n) => sim.stateOf(o, n) === 'dead')), 'each side declared the other failed');
  t.ok(sim.up().every((o) => (left.includes(o.name) ? left : right).every((n) => sim.stateOf(o, n) === 'alive')), 'and kept its own side alive');

  sim.heal();
  // Bound: a reconnect (every reconnectIntervalMs, with probability ~1 when half the
  // cluster is failed) or a push-pull crosses over; then refutations spread by gossip.
  const c = sim.config;
  const bound = 2 * Math.max(c.reconnectIntervalMs, pushPullScale(c.pushPullIntervalMs, 24)) + 10_000;
  const healed = sim.runUntilTrue(() => sim.allSee(names, 'alive'), bound, 250);
  t.ok(healed !== undefined, `one view again within ${bound} ms`);
  t.comment(`healed ${healed} ms after the partition ended`);
  t.ok(sim.log.some((e) => e.type === 'join' && e.atMs > sim.nowMs - (healed ?? 0) - 1), 'members rejoined (join events)');
});

t.test('a member cut off alone under packet loss is failed, then merges back after the cut heals', async (t) => {
  const seed = seeded(t, 202, FILE);
  const sim = new SimCluster({ seed, lossRate: 0.05 });
  const names = startCluster(sim, 16);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000);
  const rest = names.filter((n) => n !== 'm3');
  sim.partition([['m3'], rest]);
  sim.runFor(60_000);
  t.ok(sim.up().filter((o) => o.name !== 'm3').every((o) => sim.stateOf(o, 'm3') === 'dead'), 'the others failed it');
  // Lifeguard: every probe of the isolated member fails without nacks, so its own
  // health score climbs and its probes slow down; it accuses the others slowly.
  t.ok(sim.get('m3').core.healthScore() >= sim.config.awarenessMaxMultiplier / 2, `its health score degraded (${sim.get('m3').core.healthScore()})`);
  t.comment(`m3 declared ${rest.filter((n) => sim.stateOf('m3', n) === 'dead').length} of ${rest.length} failed`);
  sim.heal();
  const c = sim.config;
  const bound = 2 * Math.max(c.reconnectIntervalMs, c.pushPullIntervalMs) + 10_000;
  const healed = sim.runUntilTrue(() => sim.allSee(names, 'alive'), bound, 250);
  t.ok(healed !== undefined, `one view again within ${bound} ms (took ${healed} ms)`);
});
