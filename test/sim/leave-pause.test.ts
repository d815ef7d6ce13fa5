import t from 'tap';
import { seeded, SimCluster, startCluster } from './sim-cluster.js';

const FILE = 'test/sim/leave-pause.test.ts';

t.test('a graceful leave propagates as left, never as failed', async (t) => {
  const seed = seeded(t, 301, FILE);
  const sim = new SimCluster({ seed, lossRate: 0.05 });
  const names = startCluster(sim, 30);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000);
  sim.leave('m5');
  const others = names.filter((n) => n !== 'm5');
  const took = sim.runUntilTrue(() => others.every((o) => sim.stateOf(o, 'm5') === 'left'), 10_000, 50);
  t.ok(took !== undefined, 'every member sees m5 left');
  t.comment(`left everywhere after ${took} ms`);
  t.ok(sim.runUntilTrue(() => sim.get('m5').core.leaveBroadcastDone(), 5000, 50) !== undefined, 'the leaver learns its leave was fully gossiped');
  sim.crash('m5'); // the process exits after leaving
  sim.runFor(120_000);
  t.ok(others.every((o) => sim.stateOf(o, 'm5') === 'left'), 'still left two minutes later');
  t.same(sim.log.filter((e) => e.member === 'm5' && e.type === 'fail'), [], 'never a fail event');
  t.equal(sim.log.filter((e) => e.member === 'm5' && e.type === 'leave' && e.observer !== 'm5').length, others.length, 'one leave event per member');
});

t.test('a member paused briefly is suspected, refutes on resume, and is never failed', async (t) => {
  const seed = seeded(t, 302, FILE);
  const sim = new SimCluster({ seed });
  const names = startCluster(sim, 20);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000);
  sim.runFor(5000);
  sim.pause('m6');
  // Paused until someone suspects it (its next prober's probe fails), then one
  // second more: well inside the minimum suspicion timeout (5.2 s for 20 members).
  const suspected = sim.runUntilTrue(() => sim.up().some((o) => sim.stateOf(o, 'm6') === 'suspect'), 30_000, 50);
  t.ok(suspected !== undefined, `suspected ${suspected} ms into the pause`);
  sim.runFor(1000);
  sim.resume('m6');
  const back = sim.runUntilTrue(() => sim.allSee(['m6'], 'alive'), 10_000, 50);
  t.ok(back !== undefined, `alive everywhere again ${back} ms after resuming`);
  t.ok(sim.get('m6').core.stats().refutations >= 1, 'by refuting');
  t.ok(sim.get('m6').core.localMember().incarnation > 1, 'with a higher incarnation');
  sim.runFor(60_000);
  t.same(sim.log.filter((e) => e.type === 'fail'), [], 'nobody was declared failed');
});

t.test('a member paused past its suspicion timeout is failed, then comes back alive', async (t) => {
  const seed = seeded(t, 303, FILE);
  const sim = new SimCluster({ seed });
  const names = startCluster(sim, 20);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000);
  sim.pause('m9');
  t.ok(sim.runUntilTrue(() => sim.allSee(['m9'], 'dead'), 90_000) !== undefined, 'declared failed everywhere');
  sim.runFor(60_000); // past gossipToTheDeadTime: nobody gossips to it any more
  sim.resume('m9');
  // It learns of its death at its first probe (the ack carries the accusation), or
  // at the latest from the next push-pull (its own, or a reconnect to it).
  const c = sim.config;
  const bound = Math.max(c.pushPullIntervalMs, c.reconnectIntervalMs) + 10_000;
  const back = sim.runUntilTrue(() => sim.allSee(names, 'alive'), bound, 100);
  t.ok(back !== undefined, `alive everywhere within ${bound} ms of resuming (took ${back} ms)`);
  t.ok(sim.log.filter((e) => e.type === 'join' && e.member === 'm9' && e.observer !== 'm9').length >= 19, 'a join event on every other member');
});
