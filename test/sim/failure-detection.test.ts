import t from 'tap';
import { retransmitLimit } from '../../src/gossip/broadcast-queue.js';
import type { GossipConfig } from '../../src/gossip/config.js';
import { suspicionTimeout } from '../../src/gossip/suspicion.js';
import { seeded, SimCluster, startCluster } from './sim-cluster.js';

const FILE = 'test/sim/failure-detection.test.ts';

/**
 * Upper bound on the time from a crash to every live member declaring it dead:
 * - the first failed probe of it: at worst one full round-robin round of its
 *   prober (n probe intervals), plus that probe's own interval;
 * - the longest suspicion timeout (no independent confirmation at all):
 *   suspicionMaxTimeoutMult × suspicionMult × log10(n) × probeInterval;
 * - the spread of the verdict: each relay sends it retransmitLimit times at
 *   gossipNodes per round, so a member keeps it in flight for
 *   retransmitLimit / gossipNodes rounds; we allow that many rounds per
 *   hop for log2(n) hops.
 */
export function detectionBoundMs(c: Readonly<GossipConfig>, n: number): number {
  const firstProbe = (n + 1) * c.probeIntervalMs;
  const suspicion = c.suspicionMaxTimeoutMult * suspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
  const spread = Math.ceil(Math.log2(n)) * Math.ceil(retransmitLimit(c.retransmitMult, n) / Math.max(1, c.gossipNodes)) * c.gossipIntervalMs;
  return firstProbe + suspicion + spread;
}

for (const [loss, fallbackSeed] of [[0, 101], [0.05, 102]] as const) {
  t.test(`crashed members are declared failed by every live member within the bound (${loss * 100}% loss)`, async (t) => {
    const seed = seeded(t, fallbackSeed, FILE);
    const sim = new SimCluster({ seed, lossRate: loss });
    const names = startCluster(sim, 40);
    t.ok(sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000) !== undefined, 'the cluster formed');
    const bound = detectionBoundMs(sim.config, 40);
    const crashed = ['m7', 'm19', 'm33'];
    const crashedAt = new Map<string, number>();
    for (const name of crashed) {
      sim.crash(name);
      crashedAt.set(name, sim.nowMs);
      sim.runFor(3000);
    }
    sim.runUntilTrue(() => sim.allSee(crashed, 'dead'), bound);
    for (const name of crashed) {
      const fails = sim.firstEvents('fail', name);
      const live = sim.up().map((n) => n.name);
      const late = live.filter((o) => (fails.get(o) ?? Infinity) - (crashedAt.get(name) ?? 0) > bound);
      t.same(late, [], `${name}: every live member declared it failed within ${bound} ms`);
      const times = live.map((o) => (fails.get(o) ?? NaN) - (crashedAt.get(name) ?? 0)).sort((a, b) => a - b);
      t.comment(`${name}: first ${times[0]} ms, last ${times[times.length - 1]} ms after the crash (bound ${bound} ms)`);
    }
    const wrong = sim.log.filter((e) => e.type === 'fail' && !crashed.includes(e.member));
    t.same(wrong, [], 'no live member was declared failed');
  });
}

t.test('with 10% packet loss and no crashes, no live member is ever declared failed (50 members, 300 s)', async (t) => {
  const seed = seeded(t, 103, FILE);
  const sim = new SimCluster({ seed, lossRate: 0.1 });
  const names = startCluster(sim, 50);
  t.ok(sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000) !== undefined, 'the cluster formed');
  const start = sim.nowMs;
  let suspectedSeen = 0;
  while (sim.nowMs - start < 300_000) {
    sim.runFor(1000);
    suspectedSeen += sim.up().reduce((acc, o) => acc + o.core.members().filter((m) => m.state === 'suspect').length, 0);
  }
  t.same(sim.log.filter((e) => e.type === 'fail'), [], 'no fail event');
  t.ok(sim.allSee(names, (s) => s === 'alive' || s === 'suspect'), 'everyone alive (or, for a moment, suspect) everywhere at the end');
  const refutations = sim.nodes.reduce((acc, n) => acc + n.core.stats().refutations, 0);
  t.ok(refutations > 0 && suspectedSeen > 0, `suspicions happened and were refuted (${refutations} refutations)`);
  t.comment(`${refutations} refutations, ${sim.udpPackets} packets in ${(sim.nowMs / 1000).toFixed(0)} simulated s`);
});
