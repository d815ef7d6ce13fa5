/**
 * Unit tests of the Raft core, message by message: each test builds a few
 * cores over MemoryStorage, decides which messages are delivered, and looks
 * at roles, terms, logs and the messages sent. The runtime contract is kept:
 * a Ready is persisted before its messages are handed to the test.
 */
import t from 'tap';
import { ProposalDroppedError, RaftCore } from '../../src/raft/core.js';
import type { RaftConfig } from '../../src/raft/config.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { message, type Entry, type Message, type MessageType, type Ready } from '../../src/raft/types.js';

const KNOBS = {
  electionTicks: 10, heartbeatTicks: 1, maxSizePerMsg: 4096, maxInflight: 8, maxCommittedSizePerReady: 0,
  preVote: true, checkQuorum: false,
};

function ents(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: i + 1, term, type: 'normal', data: new TextEncoder().encode(`e${i + 1}`) }));
}

interface TestNode {
  id: string;
  core: RaftCore;
  storage: MemoryStorage;
  readies: Ready[];
}

/** A few cores and a queue of messages the test delivers by hand. */
class Net {
  readonly nodes = new Map<string, TestNode>();
  queue: Message[] = [];

  constructor(voters: string[], opts: { knobs?: Partial<typeof KNOBS>; logs?: Record<string, Entry[]>; terms?: Record<string, number>; learners?: string[] } = {}) {
    for (const id of [...voters, ...(opts.learners ?? [])]) {
      const storage = new MemoryStorage({ voters, learners: opts.learners ?? [] });
      const log = opts.logs?.[id] ?? [];
      storage.append(log);
      const term = opts.terms?.[id] ?? (log.length ? Math.max(...log.map((e) => e.term)) : 0);
      // entries common to every log count as committed at the start
      const commit = Math.min(...[...voters, ...(opts.learners ?? [])].map((v) => commonPrefix(log, opts.logs?.[v] ?? [])));
      if (term > 0) storage.setHardState({ term, vote: '', commit });
      const cfg: RaftConfig = { ...KNOBS, ...opts.knobs, id, applied: 0, random: () => 0 };
      this.nodes.set(id, { id, core: new RaftCore(cfg, storage), storage, readies: [] });
    }
  }

  get(id: string): RaftCore {
    return (this.nodes.get(id) as TestNode).core;
  }

  /** Processes every server's Ready (persist, then queue the messages, then advance). */
  flush(): void {
    for (const n of this.nodes.values()) {
      while (n.core.hasReady()) {
        const rd = n.core.ready();
        n.readies.push(rd);
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        this.queue.push(...rd.messages);
        n.core.advance(rd);
      }
    }
  }

  /** Takes the queued messages matching `pick` (all by default) out of the queue. */
  take(pick: (m: Message) => boolean = () => true): Message[] {
    this.flush();
    const out = this.queue.filter(pick);
    this.queue = this.queue.filter((m) => !pick(m));
    return out;
  }

  deliver(ms: Message[]): void {
    for (const m of ms) this.nodes.get(m.to)?.core.step(m);
    this.flush();
  }

  /** Delivers queued messages (those matching `pick`; the rest are dropped) until none is left. */
  stabilize(pick: (m: Message) => boolean = () => true, maxRounds = 100): number {
    let rounds = 0;
    for (let ms = this.take(); ms.length > 0 && rounds < maxRounds; ms = this.take(), rounds++) this.deliver(ms.filter(pick));
    return rounds;
  }

  lastEntries(id: string): Entry[] {
    const log = this.get(id).log;
    return log.slice(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  }
}

function commonPrefix(a: Entry[], b: Entry[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i]?.term === b[i]?.term) i++;
  return i;
}

const ofType = (type: MessageType, to?: string) => (m: Message): boolean => m.type === type && (to === undefined || m.to === to);

t.test('election with three servers, step by step (pre-vote, vote, first append)', async (t) => {
  const net = new Net(['n1', 'n2', 'n3']);
  const n1 = net.get('n1');
  n1.campaign();
  t.equal(n1.role, 'pre-candidate', 'n1 first asks whether it could win');
  t.equal(n1.term, 0, 'without raising its term');
  const prevotes = net.take();
  t.same(prevotes.map((m) => [m.type, m.to, m.term, m.index, m.logTerm]), [['pre-vote', 'n2', 1, 0, 0], ['pre-vote', 'n3', 1, 0, 0]], 'pre-votes for term 1');
  t.notOk(net.nodes.get('n1')?.readies.some((r) => r.hardState), 'a pre-vote writes nothing');

  net.deliver(prevotes);
  t.equal(net.get('n2').term, 0, 'a pre-vote does not move the voter\'s term');
  const grants = net.take();
  t.same(grants.map((m) => [m.type, m.from, m.term, m.reject]), [['pre-vote-resp', 'n2', 1, false], ['pre-vote-resp', 'n3', 1, false]], 'both grant');

  net.deliver(grants.slice(0, 1));
  t.equal(n1.role, 'candidate', 'one grant and its own make a quorum: n1 campaigns');
  t.equal(n1.term, 1, 'in term 1');
  t.equal(n1.vote, 'n1', 'voting for itself');
  const rd = net.nodes.get('n1')?.readies.at(-1);
  t.same(rd?.hardState, { term: 1, vote: 'n1', commit: 0 }, 'the vote is persisted with the campaign');
  t.ok(rd?.mustSync, 'and synced before the vote requests leave');
  net.deliver(grants.slice(1)); // a late pre-vote grant does nothing to a candidate
  t.equal(n1.role, 'candidate', 'a late pre-vote grant changes nothing');

  const votes = net.take();
  t.same(votes.map((m) => [m.type, m.to, m.term]), [['vote', 'n2', 1], ['vote', 'n3', 1]], 'vote requests');
  net.deliver(votes);
  t.equal(net.get('n2').vote, 'n1', 'n2 voted for n1');
  t.same(net.nodes.get('n2')?.storage.initialState().hardState, { term: 1, vote: 'n1', commit: 0 }, 'and persisted its vote before answering');
  const voteResps = net.take();
  net.deliver(voteResps.slice(0, 1));
  t.equal(n1.role, 'leader', 'n1 leads after one vote');
  t.same(net.lastEntries('n1').map((e) => [e.index, e.term, e.data.length]), [[1, 1, 0]], 'with an empty entry of its term');
  t.equal(n1.log.committed, 0, 'not committed yet');

  net.stabilize();
  for (const id of ['n1', 'n2', 'n3']) {
    t.equal(net.get(id).log.committed, 1, `${id} commits the leader's entry`);
    t.equal(net.get(id).lead, 'n1', `${id} follows n1`);
  }
});

t.test('a vote is refused to a candidate whose log is less up to date', async (t) => {
  const cases: Array<{ voter: number[]; cand: number[]; granted: boolean; why: string }> = [
    { voter: [1, 1], cand: [1], granted: false, why: 'same last term, shorter log' },
    { voter: [1, 2], cand: [1, 1, 1], granted: false, why: 'longer log but older last term' },
    { voter: [1, 1], cand: [1, 1], granted: true, why: 'identical logs' },
    { voter: [1, 1, 1], cand: [1, 2], granted: true, why: 'shorter log with a newer last term' },
    { voter: [1], cand: [1, 1], granted: true, why: 'longer log, same last term' },
  ];
  for (const c of cases) {
    const net = new Net(['n1', 'n2', 'n3'], { logs: { n1: ents(...c.cand), n2: ents(...c.voter) }, terms: { n1: 5, n2: 5, n3: 5 } });
    const n2 = net.get('n2');
    n2.step(message('vote', 'n1', 'n2', 6, { index: c.cand.length, logTerm: c.cand[c.cand.length - 1] ?? 0 }));
    const resp = net.take(ofType('vote-resp'));
    t.equal(resp.length, 1, `${c.why}: answered`);
    t.equal(resp[0]?.reject, !c.granted, `${c.why}: ${c.granted ? 'granted' : 'refused'}`);
    t.equal(n2.term, 6, `${c.why}: the voter moved to the candidate's term anyway`);
    t.equal(n2.vote, c.granted ? 'n1' : '', `${c.why}: vote recorded only when granted`);
  }
  // one vote per term
  const net = new Net(['n1', 'n2', 'n3']);
  const n3 = net.get('n3');
  n3.step(message('vote', 'n1', 'n3', 1));
  n3.step(message('vote', 'n2', 'n3', 1));
  n3.step(message('vote', 'n1', 'n3', 1)); // a duplicate of the first: granted again
  t.same(net.take(ofType('vote-resp')).map((m) => [m.to, m.reject]), [['n1', false], ['n2', true], ['n1', false]], 'one vote per term; the same candidate may ask again');
});

t.test('stale and newer terms', async (t) => {
  const net = new Net(['n1', 'n2', 'n3'], { terms: { n1: 5, n2: 5, n3: 5 } });
  const n2 = net.get('n2');
  n2.step(message('app', 'n1', 'n2', 3, { index: 0, logTerm: 0, entries: [] }));
  let out = net.take();
  t.same(out.map((m) => [m.type, m.to, m.term, m.reject]), [['app-resp', 'n1', 5, false]], 'an append from an old leader is answered with our term (so it steps down)');
  t.equal(n2.lead, '', 'and not followed');
  n2.step(message('heartbeat', 'n1', 'n2', 4));
  t.same(net.take().map((m) => [m.type, m.term]), [['app-resp', 5]], 'same for an old heartbeat');
  n2.step(message('vote', 'n1', 'n2', 4, { index: 9, logTerm: 4 }));
  t.same(net.take(), [], 'an old vote request is ignored');
  n2.step(message('pre-vote', 'n1', 'n2', 4, { index: 9, logTerm: 4 }));
  out = net.take();
  t.same(out.map((m) => [m.type, m.term, m.reject]), [['pre-vote-resp', 5, true]], 'an old pre-vote is refused with our term');
  n2.step(message('app-resp', 'n1', 'n2', 4, { index: 3 }));
  n2.step(message('vote-resp', 'n1', 'n2', 4));
  t.same(net.take(), [], 'old responses are ignored');
  t.equal(n2.term, 5, 'the term never went back');

  n2.step(message('heartbeat', 'n3', 'n2', 7));
  t.equal(n2.term, 7, 'a heartbeat of a newer term moves the term');
  t.equal(n2.lead, 'n3', 'and names the leader');
  t.equal(n2.role, 'follower', 'as a follower');
  n2.step(message('pre-vote', 'n1', 'n2', 9));
  t.equal(n2.term, 7, 'a pre-vote of a newer term does not');

  // a leader that hears of a newer term steps down
  const net2 = new Net(['n1', 'n2', 'n3'], { knobs: { preVote: false } });
  net2.get('n1').campaign();
  net2.stabilize();
  const leader = net2.get('n1');
  t.equal(leader.role, 'leader', 'n1 leads term 1');
  leader.step(message('app-resp', 'n3', 'n1', leader.term + 1, { index: 0 }));
  t.equal(leader.role, 'follower', 'a leader steps down on a response of a newer term');
  t.equal(leader.term, 2, 'and takes the newer term');
  t.throws(() => leader.propose(new Uint8Array([1])), ProposalDroppedError, 'and refuses proposals');
});

t.test('only entries of the current term are committed by counting replicas (Raft figure 8)', async (t) => {
  // s1 and s2 hold (2,2) from term 2; s5 holds (2,3) from its term-3 leadership, on itself only
  const net = new Net(['s1', 's2', 's3', 's4', 's5'], {
    knobs: { preVote: false },
    logs: { s1: ents(1, 2), s2: ents(1, 2), s3: ents(1, 2), s4: ents(1), s5: ents(1, 3) },
    terms: { s1: 3, s2: 3, s3: 3, s4: 3, s5: 4 },
  });
  const s1 = net.get('s1');
  t.equal(s1.log.committed, 1, 'index 1 is committed everywhere');
  s1.campaign();
  net.deliver(net.take(ofType('vote')).filter((m) => m.to === 's2' || m.to === 's3'));
  net.deliver(net.take(ofType('vote-resp')));
  t.equal(s1.role, 'leader', 's1 leads term 4 with the votes of s2 and s3');
  t.equal(s1.term, 4, 'in term 4');
  t.same(net.lastEntries('s1').map((e) => [e.index, e.term]), [[1, 1], [2, 2], [3, 4]], 'and appended an entry of its own term at 3');
  net.take(); // its appends are lost

  // s2 and s3 acknowledge index 2 (as they would an append of entry 2 alone)
  net.deliver([message('app-resp', 's2', 's1', 4, { index: 2 }), message('app-resp', 's3', 's1', 4, { index: 2 })]);
  t.same([s1.status().progress.s2?.match, s1.status().progress.s3?.match], [2, 2], 'the leader knows three of five hold (2,2)');
  t.equal(s1.log.committed, 1, 'yet (2,2) is not committed: it is not of the leader\'s term');
  net.take();

  // figure 8 (d): had s1 committed (2,2), s5 could now be elected and overwrite it
  const s5 = net.get('s5');
  s5.campaign();
  net.deliver(net.take(ofType('vote')).filter((m) => m.to !== 's1'));
  net.deliver(net.take(ofType('vote-resp')));
  t.equal(s5.role, 'leader', 's5 (last term 3) wins term 5 with s2, s3 and s4 (last term 2 or less)');
  net.stabilize((m) => m.to !== 's1' && m.from !== 's1');
  for (const id of ['s2', 's3', 's4']) t.equal(net.lastEntries(id).find((e) => e.index === 2)?.term, 3, `${id}'s index 2 is now (2,3)`);
  t.equal(net.get('s2').log.committed, 3, 'committed by s5 with an entry of its own term');
  t.equal(s1.log.committed, 1, 's1 never committed the entry that was overwritten');
});

t.test('a leader commits earlier-term entries once an entry of its own term reaches a majority', async (t) => {
  const net = new Net(['s1', 's2', 's3'], {
    knobs: { preVote: false },
    logs: { s1: ents(1, 2), s2: ents(1), s3: ents(1) },
    terms: { s1: 2, s2: 2, s3: 2 },
  });
  const s1 = net.get('s1');
  s1.campaign();
  net.stabilize((m) => m.to !== 's3' || m.type === 'vote');
  t.equal(s1.role, 'leader', 's1 leads with s2');
  t.equal(s1.log.committed, 3, '(2,2) and (3,3) commit together with s2');
  t.same(net.lastEntries('s2').map((e) => [e.index, e.term]), [[1, 1], [2, 2], [3, 3]]);
});

t.test('flow control: replication pauses at maxInflight appends in flight', async (t) => {
  const net = new Net(['n1', 'n2', 'n3'], { knobs: { maxInflight: 3, maxSizePerMsg: 0 } });
  const n1 = net.get('n1');
  n1.campaign();
  net.stabilize();
  t.equal(n1.status().progress.n2?.state, 'replicate', 'n2 is in replicate state');
  for (let i = 0; i < 10; i++) n1.propose(new TextEncoder().encode(`p${i}`));
  const apps = net.take(ofType('app', 'n2'));
  t.equal(apps.filter((m) => m.entries.length > 0).length, 3, 'three appends to n2 are in flight, no more');
  t.same(apps.map((m) => m.entries.map((e) => e.index)), [[2], [3], [4]], 'one entry each (maxSizePerMsg 0)');
  t.equal(n1.status().progress.n2?.next, 5);
  n1.tick();
  t.equal(net.take(ofType('app', 'n2')).length, 0, 'a heartbeat tick sends no append while paused');

  net.deliver(apps.slice(0, 1));
  const ack = net.take(ofType('app-resp', 'n1')).filter((m) => m.from === 'n2');
  net.deliver(ack);
  t.same(net.take(ofType('app', 'n2')).map((m) => m.entries.map((e) => e.index)), [[5]], 'one acknowledgement frees one slot: one more append');

  // a heartbeat response frees one slot of a full window (the follower is alive)
  net.deliver([message('heartbeat-resp', 'n2', 'n1', n1.term)]);
  t.same(net.take(ofType('app', 'n2')).map((m) => m.entries.map((e) => e.index)), [[6]], 'a heartbeat response lets one more through');
  t.equal(n1.status().progress.n3?.state, 'replicate', 'n3 (its appends in flight too) stays in replicate state');
  net.stabilize();
  t.equal(net.get('n2').log.lastIndex(), 11, 'everything arrives in the end');
  t.equal(n1.log.committed, 11);
});

t.test('a rejected append backtracks by term, not entry by entry', async (t) => {
  // the leader has 100 entries of term 3 after index 10; the follower 140 of term 2
  const leaderLog = ents(...Array(10).fill(1), ...Array(100).fill(3));
  const followerLog = ents(...Array(10).fill(1), ...Array(140).fill(2));
  const net = new Net(['n1', 'n2'], { knobs: { preVote: false, maxSizePerMsg: 1 << 20 }, logs: { n1: leaderLog, n2: followerLog }, terms: { n1: 3, n2: 3 } });
  const n1 = net.get('n1');
  n1.campaign();
  net.deliver(net.take());
  net.deliver(net.take());
  t.equal(n1.role, 'leader', 'n1 wins (newer last term)');
  let rejects = 0;
  let appends = 0;
  const rounds = net.stabilize((m) => {
    if (m.type === 'app-resp' && m.reject) rejects++;
    if (m.type === 'app') appends++;
    return true;
  });
  t.ok(rejects <= 2, `${rejects} rejection(s) before the logs met (not ~100)`);
  t.ok(rounds <= 8, `${rounds} delivery rounds`);
  t.comment(`${appends} appends, ${rejects} rejections`);
  t.same(net.lastEntries('n2').map((e) => e.term), net.lastEntries('n1').map((e) => e.term), 'the follower holds the leader\'s log');
  t.equal(net.get('n2').log.lastIndex(), 111, 'its longer divergent tail is gone');
  t.equal(n1.log.committed, 111);
});

t.test('a follower with a shorter log is probed at its last index', async (t) => {
  const net = new Net(['n1', 'n2'], { knobs: { preVote: false }, logs: { n1: ents(...Array(50).fill(1)), n2: ents(1, 1, 1) }, terms: { n1: 1, n2: 1 } });
  const n1 = net.get('n1');
  n1.campaign();
  net.deliver(net.take());
  net.deliver(net.take());
  const probe = net.take(ofType('app', 'n2'));
  t.same(probe.map((m) => m.index), [50], 'the first probe is after the leader\'s last entry');
  net.deliver(probe);
  const rej = net.take(ofType('app-resp'));
  t.same(rej.map((m) => [m.reject, m.rejectHint]), [[true, 3]], 'the follower hints at its last index');
  net.deliver(rej);
  t.same(net.take(ofType('app', 'n2')).map((m) => [m.index, m.entries[0]?.index]), [[3, 4]], 'the next probe starts right after it');
});

t.test('a Ready that installs a snapshot must be synced', async (t) => {
  const net = new Net(['n1', 'n2'], { terms: { n1: 2, n2: 2 } });
  const n2 = net.get('n2');
  const snap = { meta: { index: 20, term: 2, conf: { voters: ['n1', 'n2'], learners: [] } }, data: new Uint8Array([1]) };
  n2.step(message('heartbeat', 'n1', 'n2', 2));
  net.take();
  n2.step(message('snap', 'n1', 'n2', 2, { snapshot: snap }));
  t.ok(n2.hasReady());
  const rd = n2.ready();
  t.equal(rd.snapshot?.meta.index, 20, 'the snapshot is handed over');
  t.same(rd.messages.map((m) => [m.type, m.index, m.reject]), [['app-resp', 20, false]], 'with the acknowledgement of index 20');
  t.ok(rd.mustSync, 'so it must be durable before that acknowledgement leaves');
});

t.test('proposals: only a leader takes them, not during a transfer, and one configuration change at a time', async (t) => {
  const net = new Net(['n1', 'n2', 'n3'], { learners: ['n4'] });
  t.throws(() => net.get('n2').propose(new Uint8Array([1])), ProposalDroppedError, 'a follower refuses');
  const n1 = net.get('n1');
  n1.campaign();
  net.stabilize();
  t.same(n1.propose(new Uint8Array([1])), { index: 2, term: 1 }, 'the leader appends after its empty entry');
  net.stabilize();
  t.ok(n1.proposeConfChange({ type: 'add-voter', node: 'n4', context: '' }));
  t.throws(() => n1.proposeConfChange({ type: 'remove', node: 'n3', context: '' }), ProposalDroppedError, 'a second change waits for the first to be applied');
  net.stabilize();
  n1.transferLeadership('n2');
  t.throws(() => n1.propose(new Uint8Array([2])), ProposalDroppedError, 'no proposals while leadership is being transferred');
});

t.test('a learner is replicated to but neither campaigns nor counts for a quorum', async (t) => {
  const net = new Net(['n1', 'n2'], { learners: ['n3'], knobs: { preVote: false } });
  const n3 = net.get('n3');
  for (let i = 0; i < 40; i++) n3.tick();
  t.equal(n3.role, 'follower', 'a learner never campaigns on its own');
  n3.campaign();
  t.equal(net.take().length, 0, 'not even when asked');
  const n1 = net.get('n1');
  n1.campaign();
  net.stabilize();
  t.equal(n1.role, 'leader', 'n1 leads with n2');
  n1.propose(new Uint8Array([7]));
  net.stabilize((m) => m.to !== 'n2' && m.from !== 'n2');
  t.equal(n3.log.lastIndex(), 2, 'the learner got the entry');
  t.equal(n1.log.committed, 1, 'but its acknowledgement does not make a quorum with the leader');
  n1.tick(); // a heartbeat: n2 answers and gets the entry
  net.stabilize();
  t.equal(n1.log.committed, 2, 'the voter does');
});

t.test('ReadIndex: a new leader answers only after committing an entry of its term and hearing from a quorum', async (t) => {
  const net = new Net(['n1', 'n2', 'n3'], { knobs: { preVote: false } });
  const n1 = net.get('n1');
  n1.campaign();
  net.deliver(net.take());
  net.deliver(net.take());
  t.equal(n1.role, 'leader', 'n1 leads, its first entry not yet committed');
  n1.readIndex('r1');
  net.flush();
  t.notOk(net.nodes.get('n1')?.readies.some((r) => r.readStates.length > 0), 'no answer before the leader committed in its term');
  net.stabilize((m) => m.type !== 'heartbeat-resp');
  t.notOk(net.nodes.get('n1')?.readies.some((r) => r.readStates.length > 0), 'no answer without heartbeat acknowledgements');
  n1.readIndex('r2');
  net.stabilize();
  const answers = net.nodes.get('n1')?.readies.flatMap((r) => r.readStates) ?? [];
  t.same(answers.map((a) => a.context).sort(), ['r1', 'r2'], 'both answered once a quorum acknowledged');
  t.ok(answers.every((a) => a.index === 1), 'at the commit index');
  t.throws(() => net.get('n2').readIndex('r3'), ProposalDroppedError, 'a follower does not take reads');
});

t.test('a snapshot restored while committed entries are being applied does not have its configuration undone by them', async (t) => {
  // n2 is handed a committed 'add-learner n4' to apply; before the runtime
  // applies it (fsync in progress), a snapshot arrives from a later point
  // where n4 was removed again.
  const net = new Net(['n1', 'n2', 'n3'], { terms: { n1: 2, n2: 2, n3: 2 } });
  const n2 = net.get('n2');
  const cc = { index: 1, term: 2, type: 'conf' as const, data: new TextEncoder().encode(JSON.stringify({ type: 'add-learner', node: 'n4', context: '' })) };
  n2.step(message('app', 'n1', 'n2', 2, { index: 0, logTerm: 0, entries: [cc], commit: 1 }));
  const rd1 = n2.ready();
  t.same(rd1.committedEntries.map((e) => e.index), [1], 'the conf entry is handed out to apply');
  const snapConf = { voters: ['n1', 'n2', 'n3'], learners: [] };
  n2.step(message('snap', 'n1', 'n2', 2, { snapshot: { meta: { index: 30, term: 2, conf: snapConf }, data: new Uint8Array() } }));
  // the runtime finishes rd1: persist, send, apply (the conf change), advance
  const s = net.nodes.get('n2') as TestNode;
  s.storage.append(rd1.entries);
  if (rd1.hardState) s.storage.setHardState(rd1.hardState);
  const applied = n2.applyConfChange({ type: 'add-learner', node: 'n4', context: '' });
  t.same(applied, { voters: ['n1', 'n2', 'n3'], learners: ['n4'] }, 'applying it returns the configuration as of index 1');
  n2.advance(rd1);
  net.flush();
  t.equal(s.storage.snapshot().meta.index, 30, 'the snapshot is installed next');
  t.same(n2.confState(), snapConf, 'and the configuration is the snapshot\'s, not undone by the older change');
});
