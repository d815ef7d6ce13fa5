/**
 * Named Raft stories on the simulated cluster (test/sim/raft-cluster.ts):
 * each one sets up a situation with partitions, crashes or membership
 * changes and checks what the paper promises. Every invariant of the
 * harness (election safety, log matching, leader completeness, state machine
 * safety, no stale read) is checked after every step as well.
 * SEED=n replays a story with another seed.
 */
import t, { type Test } from 'tap';
import { RaftCluster, simSeed, type Proposal, type RaftSimOptions, type SimRaftNode } from './raft-cluster.js';
import type { Entry, Message } from '../../src/raft/types.js';

const FILE = 'test/sim/raft-scenarios.test.ts';
const ELECTION_MS = 100; // electionTicks 10 × tickMs 10

function seeded(t: Test, fallback: number): number {
  const seed = simSeed(fallback);
  t.teardown(() => {
    if (!t.passing()) console.log(`# ${t.name}: seed=${seed}; replay with SEED=${seed} node scripts/test.mjs ${FILE}`);
  });
  return seed;
}

function cluster(seed: number, voters: number, extra: Partial<RaftSimOptions> = {}): RaftCluster {
  return new RaftCluster({ seed, voters, logCheckEvery: 1, traceSize: 200, ...extra });
}

/** Runs until a leader committed a write; returns it. */
function elect(t: Test, sim: RaftCluster): SimRaftNode {
  const p = sim.proposeUntilAcked(30 * ELECTION_MS);
  if (!p) throw new Error(`no leader committed a write:\n${sim.describe()}`);
  const l = sim.get(p.node);
  t.ok(l.isLeader(), `${l.id} leads term ${l.raft.term}`);
  return l;
}

function proposeMany(sim: RaftCluster, n: number): Proposal[] {
  const out: Proposal[] = [];
  for (let i = 0; i < n; i++) {
    const p = sim.proposeUntilAcked(30 * ELECTION_MS);
    if (!p) throw new Error(`write ${i} was not committed:\n${sim.describe()}`);
    out.push(p);
  }
  return out;
}

t.test('a partitioned old leader rolls back its uncommitted entries when the partition heals', async (t) => {
  const sim = cluster(seeded(t, 11), 5);
  const old = elect(t, sim);
  const buddy = [...sim.nodes.keys()].find((id) => id !== old.id) as string;
  const majority = [...sim.nodes.keys()].filter((id) => id !== old.id && id !== buddy);
  sim.partition([[old.id, buddy], majority]);
  const oldTerm = old.raft.term;
  const stranded: Proposal[] = [];
  for (let i = 0; i < 3; i++) {
    const p = sim.propose(old.id);
    if (p) stranded.push(p);
  }
  t.equal(stranded.length, 3, 'the cut-off leader accepts three proposals');
  const applied: Array<{ node: string; e: Entry }> = [];
  sim.onApply = (n, e) => applied.push({ node: n.id, e });

  // the majority side elects a leader and commits other entries at the same indexes
  const next = sim.runUntilTrue(() => majority.some((id) => sim.get(id).isLeader()), 30 * ELECTION_MS);
  t.ok(next !== undefined, 'the majority elects a new leader');
  const newLeader = majority.map((id) => sim.get(id)).find((n) => n.isLeader()) as SimRaftNode;
  t.ok(newLeader.raft.term > oldTerm, 'in a later term');
  proposeMany(sim, 5);
  t.notOk(stranded.some((p) => sim.isAcked(p.opId)), 'the stranded proposals were never acknowledged');
  const before = stranded.map((p) => sim.entryAt(old.id, p.index));
  t.ok(before.every((e) => e?.term === oldTerm), 'the old leader still holds them (uncommitted)');

  sim.heal();
  sim.settle(30 * ELECTION_MS, 60 * ELECTION_MS);
  for (const p of stranded) {
    for (const n of sim.up()) {
      const e = sim.entryAt(n.id, p.index);
      t.ok(e === undefined || e.term !== p.term, `${n.id} no longer holds ${p.index}/${p.term}`);
    }
  }
  t.notOk(applied.some(({ e }) => stranded.some((p) => p.index === e.index && p.term === e.term)), 'no server ever applied a stranded entry');
  t.notOk(sim.up().some((n) => stranded.some((p) => n.fsm.ids.has(p.opId))), 'no state machine holds a stranded write');
  t.equal(old.raft.role, 'follower', 'the old leader follows');
  t.equal(old.raft.lead, sim.leader()?.id, 'the new leader');
});

t.test('pre-vote: a partitioned follower rejoining does not disrupt the leader', async (t) => {
  const sim = cluster(seeded(t, 12), 3);
  const leader = elect(t, sim);
  const term = leader.raft.term;
  const f = [...sim.nodes.values()].find((n) => n !== leader) as SimRaftNode;
  let maxTermWhileAway = 0;
  let votesAsked = 0;
  sim.onSend = (m) => {
    if (m.from === f.id && m.type === 'vote') votesAsked++;
  };
  sim.isolate(f.id);
  for (let i = 0; i < 10; i++) {
    sim.runFor(ELECTION_MS);
    maxTermWhileAway = Math.max(maxTermWhileAway, f.raft.term);
  }
  t.equal(maxTermWhileAway, term, 'the cut-off follower never raised its term (its pre-votes failed)');
  t.equal(votesAsked, 0, 'and never asked for real votes');
  sim.heal();
  proposeMany(sim, 3);
  sim.runFor(10 * ELECTION_MS);
  t.ok(leader.isLeader(), 'the leader kept its place');
  t.equal(leader.raft.term, term, 'in the same term');
  t.equal(sim.stats.elections, 1, 'no election happened after the first');
  t.equal(f.raft.lead, leader.id, 'the follower rejoined under the same leader');
  t.equal(f.fsm.applied, leader.fsm.applied, 'and caught up');
});

t.test('check-quorum: a leader that loses its majority steps down within an election timeout', async (t) => {
  const sim = cluster(seeded(t, 13), 5);
  const leader = elect(t, sim);
  const term = leader.raft.term;
  // when the leader last heard from a majority (replies are counted per quorum check)
  const heard = new Map<string, number>();
  sim.onDeliver = (m: Message) => {
    if (m.to === leader.id && m.term === term) heard.set(m.from, sim.now);
  };
  sim.runFor(ELECTION_MS);
  sim.isolate(leader.id);
  const cutAt = sim.now;
  const took = sim.runUntilTrue(() => !leader.isLeader(), 5 * ELECTION_MS);
  t.ok(took !== undefined, 'the isolated leader stepped down');
  // a majority of 5 is the leader + 2: the reply that made the last quorum
  const replies = [...heard.values()].sort((a, b) => b - a);
  const lastQuorumReply = replies[1] ?? cutAt;
  t.comment(`stepped down ${took} ms after the cut, ${sim.now - lastQuorumReply} ms after the last reply from a majority`);
  // The quorum check runs every election timeout; replies count until the next
  // check, so the leader steps down at the first check after one full period
  // without a majority: within an election timeout of the check that still saw
  // one, i.e. at most two election timeouts after the last reply.
  t.ok((took as number) <= 2 * ELECTION_MS + 10, 'within two election timeouts of the cut');
  t.ok(sim.now - lastQuorumReply <= 2 * ELECTION_MS + 10, 'at most two election timeouts after the last majority reply');
  t.equal(leader.raft.term, term, 'it stepped down without raising its term');
  t.ok(sim.runUntilTrue(() => sim.leaders().some((l) => l !== leader), 30 * ELECTION_MS) !== undefined, 'the majority elected another leader');
  t.notOk(sim.propose(leader.id), 'the deposed leader refuses proposals');
});

t.test('lagging follower catches up by snapshot after compaction', async (t) => {
  const sim = cluster(seeded(t, 14), 3, { snapshotEvery: 10, snapshotKeep: 2 });
  const leader = elect(t, sim);
  const lag = [...sim.nodes.values()].find((n) => n !== leader) as SimRaftNode;
  sim.crash(lag.id);
  const lastBefore = lag.durable.lastIndex();
  proposeMany(sim, 40);
  t.ok(leader.live.firstIndex() > lastBefore + 1, `the leader compacted past the lagging follower's log (first ${leader.live.firstIndex()} > ${lastBefore + 1})`);
  const restored: number[] = [];
  sim.onRestore = (n, s) => {
    if (n === lag) restored.push(s.meta.index);
  };
  sim.restart(lag.id);
  const took = sim.runUntilTrue(() => lag.fsm.applied >= leader.raft.log.committed, 20 * ELECTION_MS);
  t.ok(took !== undefined, `caught up in ${took} ms`);
  t.ok(restored.length >= 1, `by installing a snapshot (at ${restored.join(', ')})`);
  t.ok(restored.every((i) => i > lastBefore), 'newer than anything it had');
  proposeMany(sim, 3);
  sim.runFor(ELECTION_MS);
  t.same([...lag.fsm.kv], [...leader.fsm.kv], 'same key/value state as the leader');
  t.equal(lag.fsm.hash, leader.fsm.hash, 'same applied history');
});

t.test('leadership transfer', async (t) => {
  const sim = cluster(seeded(t, 15), 3);
  const from = elect(t, sim);
  const term = from.raft.term;
  const to = [...sim.nodes.values()].find((n) => n !== from) as SimRaftNode;
  // let the target fall behind, so the leader must catch it up first
  sim.isolate(to.id);
  proposeMany(sim, 5);
  sim.heal();
  sim.transferLeadership(from.id, to.id);
  t.notOk(sim.propose(from.id), 'proposals are refused while the transfer is in progress');
  const took = sim.runUntilTrue(() => to.isLeader(), 2 * ELECTION_MS);
  t.ok(took !== undefined, `${to.id} took over in ${took} ms (within an election timeout)`);
  t.ok((took ?? Infinity) <= ELECTION_MS, 'well before an election timeout would have elected anyone');
  t.equal(to.raft.term, term + 1, 'in the next term');
  t.equal(from.raft.role, 'follower', 'the old leader follows');
  proposeMany(sim, 2);
  sim.settle(10 * ELECTION_MS, 10 * ELECTION_MS);
  t.ok(sim.acked.every((p) => to.fsm.ids.has(p.opId)), 'the new leader has every acknowledged write');
});

t.test('ReadIndex answers only after a quorum heartbeat and a leader cut off cannot answer', async (t) => {
  const sim = cluster(seeded(t, 16), 3);
  const leader = elect(t, sim);
  proposeMany(sim, 3);
  const acks = new Map<string, number>();
  sim.onDeliver = (m) => {
    if (m.type === 'heartbeat-resp' && m.context && m.to === leader.id && !acks.has(m.context)) acks.set(m.context, sim.now);
  };
  const ctx = sim.readIndex(leader.id) as string;
  t.ok(ctx, 'the leader takes the read');
  t.equal(sim.readsDone.length, 0, 'not answered at once');
  const took = sim.runUntilTrue(() => sim.readsDone.some((r) => r.context === ctx), ELECTION_MS);
  t.ok(took !== undefined, `answered after ${took} ms`);
  const done = sim.readsDone.find((r) => r.context === ctx);
  t.ok(acks.has(ctx), 'after a follower acknowledged the heartbeat carrying it');
  t.ok((done?.index ?? 0) >= Math.max(...sim.acked.map((p) => p.index)), 'at an index covering every acknowledged write');

  sim.isolate(leader.id);
  const cut = sim.readIndex(leader.id) as string;
  t.ok(cut, 'the cut-off leader still takes the read');
  const other = sim.runUntilTrue(() => sim.leaders().some((l) => l !== leader), 30 * ELECTION_MS);
  t.ok(other !== undefined, 'the others elect a new leader');
  proposeMany(sim, 3);
  sim.runFor(5 * ELECTION_MS);
  t.notOk(sim.readsDone.some((r) => r.context === cut), 'the cut-off leader never answered (it would have been stale)');
  t.notOk(acks.has(cut), 'no follower acknowledged its heartbeat');
  sim.heal();
  sim.settle(10 * ELECTION_MS, 10 * ELECTION_MS);
  t.notOk(sim.readsDone.some((r) => r.context === cut), 'not even after the partition healed');
});

t.test('a learner does not vote and is promoted after catching up', async (t) => {
  const sim = cluster(seeded(t, 17), 3, { spares: 1, snapshotEvery: 20 });
  const leader = elect(t, sim);
  proposeMany(sim, 30);
  const learnerCampaigns: Message[] = [];
  sim.onSend = (m) => {
    if (m.from === 'n4' && (m.type === 'vote' || m.type === 'pre-vote')) learnerCampaigns.push(m);
  };
  sim.startSpare('n4');
  t.ok(sim.proposeConfChange(leader.id, { type: 'add-learner', node: 'n4', context: 'addr-n4' }), 'the leader takes add-learner n4');
  const n4 = sim.get('n4');
  t.ok(sim.runUntilTrue(() => n4.fsm.applied >= leader.raft.log.committed && n4.fsm.conf.learners.includes('n4'), 20 * ELECTION_MS) !== undefined, 'n4 caught up as a learner');
  t.same(leader.raft.confState().learners, ['n4'], 'the leader lists n4 as a learner');

  // two voters down: the learner does not make a quorum with the third
  const voters = [...sim.nodes.values()].filter((n) => n.id !== 'n4' && n !== leader);
  for (const v of voters) sim.crash(v.id);
  const p = sim.propose(leader.id);
  sim.runFor(3 * ELECTION_MS);
  t.notOk(p && sim.isAcked(p.opId), 'a write does not commit with one voter and a learner');
  sim.isolate(leader.id);
  sim.runFor(10 * ELECTION_MS);
  t.equal(learnerCampaigns.length, 0, 'the learner never campaigned, even without a leader');
  sim.heal();
  for (const v of voters) sim.restart(v.id);
  elect(t, sim);

  const l = sim.leader() as SimRaftNode;
  const st = l.raft.status();
  t.ok((st.progress.n4?.match ?? 0) + 3 >= st.commit, 'the learner is caught up');
  t.ok(sim.proposeConfChange(l.id, { type: 'add-voter', node: 'n4', context: 'addr-n4' }), 'the leader takes add-voter n4 (a promotion)');
  t.ok(sim.runUntilTrue(() => sim.up().every((n) => n.fsm.conf.voters.includes('n4')), 20 * ELECTION_MS) !== undefined, 'every server applied the promotion');
  t.same(sim.conf(), { voters: ['n1', 'n2', 'n3', 'n4'], learners: [] }, 'n4 is a voter');
  // with four voters, a quorum is three: n4 now counts
  const down = [...sim.nodes.values()].find((n) => n.id !== 'n4' && !n.isLeader()) as SimRaftNode;
  sim.crash(down.id);
  t.ok(sim.proposeUntilAcked(10 * ELECTION_MS), 'a write commits with n4 in the quorum of three');
  sim.settle(30 * ELECTION_MS, 30 * ELECTION_MS);
});

t.test('remove the leader from the configuration', async (t) => {
  const sim = cluster(seeded(t, 18), 5);
  const leader = elect(t, sim);
  proposeMany(sim, 3);
  const term = leader.raft.term;
  t.ok(sim.proposeConfChange(leader.id, { type: 'remove', node: leader.id, context: '' }), 'the leader takes its own removal');
  t.ok(sim.runUntilTrue(() => !leader.isLeader(), 5 * ELECTION_MS) !== undefined, 'it steps down once the removal is applied');
  t.notOk(leader.raft.confState().voters.includes(leader.id), 'it knows it is out');
  let campaigned = 0;
  sim.onSend = (m) => {
    if (m.from === leader.id && (m.type === 'vote' || m.type === 'pre-vote')) campaigned++;
  };
  const next = sim.runUntilTrue(() => sim.leaders().some((l) => l !== leader), 30 * ELECTION_MS);
  t.ok(next !== undefined, `the others elected a new leader ${next} ms later`);
  const nl = sim.leader() as SimRaftNode;
  t.ok(nl.raft.term > term, 'in a later term');
  t.same(nl.raft.confState().voters, [...sim.nodes.keys()].filter((id) => id !== leader.id), 'over four voters');
  proposeMany(sim, 5);
  sim.runFor(20 * ELECTION_MS);
  t.equal(campaigned, 0, 'the removed server never campaigns');
  t.equal(nl.raft.term, sim.leader()?.raft.term, 'and the new leader is not disturbed');
  sim.settle(10 * ELECTION_MS, 10 * ELECTION_MS);
});

t.test('three of five crash losing unsynced state, restart, nothing acknowledged is lost', async (t) => {
  const base = simSeed(19);
  const runs = process.env.SEED ? 1 : 8;
  for (let r = 0; r < runs; r++) {
    const seed = base + r * 1000;
    const sim = cluster(seed, 5, { snapshotEvery: 15, net: { delay: [1, 8] } });
    elect(t, sim);
    // load: a write every few ms at whoever leads
    let on = true;
    const load = (): void => {
      if (!on) return;
      const l = sim.leader();
      if (l) sim.propose(l.id);
      sim.at(3, 'load', load);
    };
    sim.at(0, 'load', load);
    sim.runFor(3 * ELECTION_MS);
    const leader = sim.leader() as SimRaftNode;
    const victims = [leader.id, ...[...sim.nodes.keys()].filter((id) => id !== leader.id).slice(0, 2)];
    const ackedBefore = sim.acked.length;
    for (const id of victims) sim.crash(id, 'lose-unsynced');
    sim.runFor(3 * ELECTION_MS);
    t.equal(sim.leaders().length, 0, `seed ${seed}: no leader with three of five down`);
    for (const id of victims) sim.restart(id);
    sim.runFor(10 * ELECTION_MS);
    on = false;
    sim.settle(30 * ELECTION_MS, 60 * ELECTION_MS);
    t.ok(sim.acked.length > ackedBefore, `seed ${seed}: writes were acknowledged before and after (${sim.acked.length})`);
    for (const n of sim.up()) {
      if (!sim.acked.every((p) => n.fsm.ids.has(p.opId))) t.fail(`seed ${seed}: ${n.id} lost an acknowledged write`);
    }
  }
  t.pass('every acknowledged write survived on every server');
});

t.test('a follower that acknowledged a snapshot and crashed before the next fsync does not apply stale entries', async (t) => {
  const sim = cluster(seeded(t, 20), 3, { snapshotEvery: 10, snapshotKeep: 0 });
  const first = elect(t, sim);
  // make a follower lead, then strand it with uncommitted entries of its term
  const f = [...sim.nodes.values()].find((n) => n !== first) as SimRaftNode;
  sim.transferLeadership(first.id, f.id);
  t.ok(sim.runUntilTrue(() => f.isLeader(), 3 * ELECTION_MS) !== undefined, `${f.id} leads`);
  proposeMany(sim, 2);
  sim.isolate(f.id);
  const stranded = [sim.propose(f.id), sim.propose(f.id), sim.propose(f.id)];
  t.ok(stranded.every(Boolean), 'it takes three proposals it cannot commit');
  t.ok(sim.runUntilTrue(() => sim.leaders().some((l) => l !== f), 30 * ELECTION_MS) !== undefined, 'the others elect a leader');
  proposeMany(sim, 30); // past the stranded indexes, compacted away on the leader
  let crashedAt = 0;
  sim.onRestore = (n) => {
    if (n !== f || crashedAt) return;
    crashedAt = sim.now;
    // the acknowledgement is on its way; the snapshot was written but not synced
    sim.at(0, `crash ${f.id}`, () => sim.crash(f.id, 'lose-unsynced'));
    sim.at(30, `restart ${f.id}`, () => sim.restart(f.id));
  };
  sim.heal();
  t.ok(sim.runUntilTrue(() => crashedAt > 0, 30 * ELECTION_MS) !== undefined, `${f.id} received a snapshot and crashed`);
  sim.settle(30 * ELECTION_MS, 60 * ELECTION_MS);
  t.notOk(stranded.some((p) => p && f.fsm.ids.has(p.opId)), 'it never applied its stranded entries');
});
