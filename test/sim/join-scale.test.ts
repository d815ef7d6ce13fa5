import t from 'tap';
import { seeded, SimCluster, startCluster } from './sim-cluster.js';

const FILE = 'test/sim/join-scale.test.ts';

t.test('hundreds of members joining through one seed converge on one view', async (t) => {
  const seed = seeded(t, 401, FILE);
  const sim = new SimCluster({ seed, lossRate: 0.01 });
  const names = startCluster(sim, 300, 10); // one join every 10 ms, all through m0
  const took = sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000, 250);
  t.ok(took !== undefined, `all 300 see all 300 alive ${took} ms after the last join`);
  t.same(sim.log.filter((e) => e.type === 'fail'), [], 'no one was declared failed on the way');
  const joins = sim.log.filter((e) => e.type === 'join').length;
  t.equal(joins, 300 * 300, 'exactly one join event per member per observer');
});

t.test('tag updates spread and settle on the latest (incarnation-ordered)', async (t) => {
  const seed = seeded(t, 402, FILE);
  const sim = new SimCluster({ seed, lossRate: 0.05 });
  const names = startCluster(sim, 40);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 30_000);
  sim.setTags('m3', { role: 'server', v: '1' });
  sim.runFor(30);
  sim.setTags('m3', { role: 'server', v: '2' });
  const took = sim.runUntilTrue(() => sim.up().every((o) => o.core.member('m3')?.tags.v === '2'), 10_000, 50);
  t.ok(took !== undefined, `every member has the latest tags after ${took} ms`);
  sim.runFor(10_000);
  t.ok(sim.up().every((o) => o.core.member('m3')?.tags.v === '2'), 'and keeps them');
  t.ok(sim.log.filter((e) => e.type === 'update' && e.member === 'm3' && e.observer !== 'm3').length >= 39, 'update events');
});

t.test('a run is replayed exactly from its seed', async (t) => {
  const run = (seed: number) => {
    const sim = new SimCluster({ seed, lossRate: 0.1 });
    startCluster(sim, 20);
    sim.runFor(10_000);
    sim.crash('m4');
    sim.runFor(40_000);
    return JSON.stringify(sim.log) + sim.udpBytes;
  };
  const seed = seeded(t, 403, FILE);
  t.equal(run(seed), run(seed), 'same seed, same events at the same times');
  t.not(run(seed), run(seed + 1), 'another seed, another run');
});
