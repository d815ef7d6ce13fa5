import { validateRaftConfig, silentRaftLogger, type RaftConfig, type RaftLogger } from './config.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { changeConf, decodeConfChange, encodeConfChange, quorum } from './membership.js';
import { CompactedError, type Storage } from './storage.js';
import {
  message, type ConfChange, type ConfState, type Entry, type HardState, type Message, type MessageType,
  type NodeId, type ReadState, type Ready, type Role, type Snapshot, type SoftState,
} from './types.js';
import { ReadOnly } from './read-only.js';

/** A proposal the core will not take: not the leader, a transfer in progress, or a configuration change pending. */
export class ProposalDroppedError extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'ProposalDroppedError';
  }
}

type CampaignKind = 'pre-election' | 'election' | 'transfer';

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  role: Role;
  leader: NodeId;
  conf: ConfState;
  /** Leader only: each server's replication progress. */
  progress: Record<NodeId, { match: number; next: number; state: string; active: boolean }>;
  leadTransferee: NodeId;
}

/**
 * The Raft protocol as a deterministic state machine (etcd's raft is the
 * model). Two inputs: `step(message)` and `tick()`. Its output is data: the
 * Ready batch of entries to persist, messages to send and entries to apply.
 * The core never touches a socket, a timer or a file.
 */
export class RaftCore {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = '';
  lead: NodeId = '';
  role: Role = 'follower';
  readonly log: RaftLog;

  private voters = new Set<NodeId>();
  private learners = new Set<NodeId>();
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private readonly readOnly = new ReadOnly();
  /** read-index requests received before the leader committed an entry of its term. */
  private pendingReads: string[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = '';
  /** The leader's last configuration change; no new one is proposed until it is applied. */
  private pendingConfIndex = 0;
  /**
   * Indexes of the configuration entries handed out in Readys and not yet
   * applied (applyConfChange takes them in order), and the index of the last
   * snapshot restored: a change handed out before a newer snapshot was
   * restored is already part of that snapshot's configuration. `superseded`
   * follows such changes on the configuration they apply to (the one before
   * the restore), so that applyConfChange still returns the configuration as
   * of their index.
   */
  private confToApply: number[] = [];
  private restoredAt = 0;
  private superseded: ConfState | undefined = undefined;

  private prevSoft: SoftState;
  private prevHard: HardState;
  private readonly cfg: RaftConfig;
  private readonly logger: RaftLogger;

  constructor(config: RaftConfig, storage: Storage) {
    this.cfg = validateRaftConfig(config);
    this.id = config.id;
    this.logger = config.logger ?? silentRaftLogger;
    this.log = new RaftLog(storage, config.maxCommittedSizePerReady);
    const { hardState, conf } = storage.initialState();
    this.setConf(conf);
    if (hardState.term > 0 || hardState.vote || hardState.commit > 0) {
      if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
        throw new Error(`raft: persisted commit ${hardState.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
      }
      this.log.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (config.applied > 0) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, '');
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  // ---- public inputs ----

  /**
   * A fresh server's first configuration: appends one committed 'add-voter'
   * entry per peer (term 1, indexes 1..n), identical on every peer that
   * bootstraps with the same list. A no-op when the log is not empty.
   */
  bootstrap(peers: Array<{ id: NodeId; context: string }>): boolean {
    // a log with entries but no term is a bootstrap torn before its hard state reached the disk: redo it
    if (this.term !== 0 || this.log.committed !== 0) return false;
    const sorted = [...peers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const ents: Entry[] = sorted.map((p, i) => ({
      index: i + 1, term: 1, type: 'conf', data: encodeConfChange({ type: 'add-voter', node: p.id, context: p.context }),
    }));
    this.becomeFollower(1, '');
    this.log.append(ents);
    this.log.committed = ents.length;
    for (const p of sorted) this.applyConfChange({ type: 'add-voter', node: p.id, context: p.context });
    return true;
  }

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (if this server may vote). */
  campaign(): void {
    this.step(message('hup', this.id, this.id, 0));
  }

  /** Appends a command; only the leader takes proposals (followers forward them in the runtime). */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeEntry({ index: 0, term: 0, type: 'normal', data });
  }

  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    if (this.role === 'leader' && this.pendingConfIndex > this.log.applied) {
      throw new ProposalDroppedError('a configuration change is already in progress');
    }
    if (cc.type === 'remove' && this.voters.size === 1 && this.voters.has(cc.node)) {
      throw new ProposalDroppedError('cannot remove the last voter');
    }
    return this.proposeEntry({ index: 0, term: 0, type: 'conf', data: encodeConfChange(cc) });
  }

  /** Leader: ask for a read index; it comes back in a Ready's readStates with the same context. */
  readIndex(context: string): void {
    if (this.role !== 'leader') throw new ProposalDroppedError('not the leader');
    this.stepLeaderReadIndex(context, this.id);
  }

  /** Leader: hand leadership to `to` once it has caught up (within an election timeout). */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new ProposalDroppedError('not the leader');
    this.step(message('transfer-leader', to, this.id, 0));
  }

  reportUnreachable(id: NodeId): void {
    this.step(message('unreachable', id, this.id, 0));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.step(message('snap-status', id, this.id, 0, { reject: !ok }));
  }

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        const force = m.context === 'transfer';
        const inLease = this.cfg.checkQuorum && this.lead !== '' && this.electionElapsed < this.cfg.electionTicks;
        if (!force && inLease) {
          this.logger.debug({ from: m.from, term: m.term }, 'ignoring vote request: the leader is alive (lease)');
          return;
        }
      }
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && !m.reject)) {
        // pre-votes do not change our term
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, '');
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // a leader from an older term (partitioned away): tell it our term so it steps down
        this.send(message('app-resp', this.id, m.from, this.term));
      } else if (m.type === 'pre-vote') {
        this.send(message('pre-vote-resp', this.id, m.from, this.term, { reject: true }));
      }
      return;
    }

    switch (m.type) {
      case 'hup':
        this.hup(this.cfg.preVote ? 'pre-election' : 'election');
        return;
      case 'vote':
      case 'pre-vote':
        this.handleVote(m);
        return;
      default:
        break;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  // ---- output ----

  hasReady(): boolean {
    const s = this.softState();
    if (s.leader !== this.prevSoft.leader || s.role !== this.prevSoft.role) return true;
    const h = this.hardState();
    if (h.term !== this.prevHard.term || h.vote !== this.prevHard.vote || h.commit !== this.prevHard.commit) return true;
    return this.msgs.length > 0 || this.log.unstable.entries.length > 0 || this.log.unstable.snapshot !== undefined
      || this.log.hasNextEntries() || this.readStates.length > 0;
  }

  /** Collects the work for the runtime. Messages and read states are handed over now; call advance(rd) after. */
  ready(): Ready {
    const soft = this.softState();
    const hard = this.hardState();
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hardChanged = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote || hard.commit !== this.prevHard.commit;
    const entries = this.log.unstable.entries.slice();
    const committedEntries = this.log.nextEntries();
    const last = committedEntries[committedEntries.length - 1];
    for (const e of committedEntries) if (e.type === 'conf') this.confToApply.push(e.index);
    if (last) this.log.applying = last.index;
    const rd: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot: this.log.unstable.snapshot,
      committedEntries,
      messages: this.msgs,
      readStates: this.readStates,
      // A snapshot must be durable too: the reply to it acknowledges its index,
      // and the leader then sends commit indexes up to there in heartbeats.
      mustSync: entries.length > 0 || this.log.unstable.snapshot !== undefined
        || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    this.msgs = [];
    this.readStates = [];
    if (softChanged) this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    return rd;
  }

  /** The runtime persisted, sent and applied everything in rd. */
  advance(rd: Ready): void {
    const lastEnt = rd.entries[rd.entries.length - 1];
    if (lastEnt) this.log.unstable.stableTo(lastEnt.index, lastEnt.term);
    if (rd.snapshot) {
      this.log.unstable.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > this.log.applied) this.log.appliedTo(rd.snapshot.meta.index);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted && lastCommitted.index > this.log.applied) this.log.appliedTo(lastCommitted.index);
    // the leader's own copy now counts (the entry is still there: not replaced since the Ready)
    if (this.cfg.asyncLeaderPersist && lastEnt && this.role === 'leader' && this.log.term(lastEnt.index) === lastEnt.term) {
      if (this.prs.get(this.id)?.maybeUpdate(lastEnt.index) && this.maybeCommit()) {
        this.releasePendingReads();
        this.bcastAppend();
      }
    }
  }

  /**
   * The runtime applied a committed configuration entry: the change takes
   * effect now. Returns the new configuration (to keep with snapshots).
   */
  applyConfChange(cc: ConfChange): ConfState {
    const at = this.confToApply.shift();
    if (at !== undefined && at <= this.restoredAt) {
      // the core was stepped between ready() and advance() and restored a
      // newer snapshot meanwhile: its configuration already includes this change
      this.logger.info({ index: at, snapshot: this.restoredAt }, 'configuration change superseded by a restored snapshot');
      const conf = changeConf(this.superseded ?? this.confState(), cc);
      this.superseded = this.confToApply.some((i) => i <= this.restoredAt) ? conf : undefined;
      return conf;
    }
    const next = changeConf(this.confState(), cc);
    this.setConf(next);
    if (this.role === 'leader') {
      if (!this.voters.has(this.id)) {
        this.logger.info({ term: this.term }, 'removed from the configuration: stepping down');
        this.becomeFollower(this.term, '');
      } else {
        if (this.leadTransferee && !this.voters.has(this.leadTransferee)) this.leadTransferee = '';
        if (this.maybeCommit()) this.bcastAppend();
        else for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    return next;
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  status(): RaftStatus {
    const progress: RaftStatus['progress'] = {};
    if (this.role === 'leader') {
      for (const [id, pr] of this.prs) progress[id] = { match: pr.match, next: pr.next, state: pr.state, active: pr.recentActive };
    }
    return {
      id: this.id, term: this.term, vote: this.vote, commit: this.log.committed, applied: this.log.applied,
      lastIndex: this.log.lastIndex(), role: this.role, leader: this.lead, conf: this.confState(), progress,
      leadTransferee: this.leadTransferee,
    };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A voter: may campaign and count towards a quorum. */
  promotable(): boolean {
    return this.voters.has(this.id);
  }

  // ---- roles ----

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = '';
    }
    this.lead = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(this.cfg.random() * this.cfg.electionTicks);
    this.leadTransferee = '';
    this.votes.clear();
    const next = this.log.lastIndex() + 1;
    for (const [id, pr] of this.prs) {
      const fresh = new Progress(next, this.cfg.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = this.ownMatch();
      this.prs.set(id, fresh);
    }
    this.readOnly.reset();
    this.pendingReads = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // pre-candidates keep their term and vote; they only learn whether they could win
    this.votes.clear();
    this.lead = '';
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    for (const [id, pr] of this.prs) if (id === this.id) pr.becomeReplicate();
    // the configuration entries we cannot see as applied yet may still be pending
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ index: 0, term: 0, type: 'normal', data: new Uint8Array() }]);
    this.logger.info({ term: this.term }, 'became leader');
  }

  // ---- timers ----

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message('hup', this.id, this.id, 0));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(message('check-quorum', this.id, this.id, 0));
      if (this.role === 'leader' && this.leadTransferee) this.leadTransferee = '';
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(message('beat', this.id, this.id, 0));
    }
  }

  // ---- elections ----

  private hup(kind: CampaignKind): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConf()) {
      this.logger.warn({ term: this.term }, 'not campaigning: committed configuration changes are not applied yet');
      return;
    }
    this.campaignAs(kind);
  }

  private hasUnappliedConf(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    let ents: Entry[];
    try {
      ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    } catch {
      return false;
    }
    return ents.some((e) => e.type === 'conf');
  }

  private campaignAs(kind: CampaignKind): void {
    let type: MessageType;
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      type = 'pre-vote';
      term = this.term + 1; // the term we would campaign in; not stored
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, type === 'vote' ? 'vote-resp' : 'pre-vote-resp', true) === 'won') {
      if (kind === 'pre-election') this.campaignAs('election');
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.voters].sort()) {
      if (id === this.id) continue;
      this.send(message(type, this.id, id, term, {
        index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context: kind === 'transfer' ? 'transfer' : '',
      }));
    }
  }

  private poll(id: NodeId, _type: MessageType, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = quorum(this.voters.size);
    if (yes >= q) return 'won';
    if (no > this.voters.size - q) return 'lost';
    return 'pending';
  }

  private handleVote(m: Message): void {
    const canVote = this.vote === m.from
      || (this.vote === '' && this.lead === '')
      || (m.type === 'pre-vote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // a granted pre-vote answers in the candidate's future term, so it counts
      this.send(message(respType, this.id, m.from, m.term));
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message(respType, this.id, m.from, this.term, { reject: true }));
    }
  }

  // ---- per role ----

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        throw new ProposalDroppedError('not the leader');
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        this.logger.info({ from: m.from, term: this.term }, 'leadership transfer: campaigning now');
        // a transfer skips pre-vote: the leader asked for it
        if (this.promotable() && !this.hasUnappliedConf()) this.campaignAs('transfer');
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const want: MessageType = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    switch (m.type) {
      case 'prop':
        throw new ProposalDroppedError('no leader');
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'vote-resp':
      case 'pre-vote-resp': {
        if (m.type !== want) return;
        const r = this.poll(m.from, m.type, !m.reject);
        if (r === 'won') {
          if (this.role === 'pre-candidate') this.campaignAs('election');
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (r === 'lost') {
          this.becomeFollower(this.term, '');
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat('');
        return;
      case 'check-quorum':
        if (!this.quorumActive()) {
          this.logger.warn({ term: this.term }, 'stepping down: no contact with a majority within the election timeout');
          this.becomeFollower(this.term, '');
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        return;
      case 'prop':
        throw new ProposalDroppedError('proposals go through propose()');
      case 'transfer-leader':
        this.handleTransfer(m.from);
        return;
      default:
        break;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'app-resp':
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeat-resp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context) this.ackRead(m.context, m.from);
        return;
      case 'snap-status':
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // wait for a heartbeat response before probing again
        pr.probeSent = true;
        return;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      if (m.rejectHint < pr.match) {
        // Its log ends before entries it acknowledged: it lost them (a server
        // restarted with an empty or older data dir). Count it for nothing it
        // no longer has, and probe back from where its log ends.
        this.logger.warn({ from: m.from, acknowledged: pr.match, lastIndex: m.rejectHint },
          'a server lost log entries it had acknowledged (restarted with an empty or older data dir?): sending them again');
        pr.match = m.rejectHint;
        pr.becomeProbe();
        this.sendAppend(m.from);
        return;
      }
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
    else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      this.releasePendingReads();
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // pipeline: keep sending while the window allows
    while (this.maybeSendAppend(m.from, false)) { /* sent one more */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info({ to: m.from }, 'leadership transfer: target caught up, sending timeout-now');
      this.send(message('timeout-now', this.id, m.from, this.term));
    }
  }

  private handleTransfer(to: NodeId): void {
    if (to === this.id || this.leadTransferee === to) return;
    const pr = this.prs.get(to);
    if (!pr || pr.isLearner) {
      this.logger.warn({ to }, 'leadership transfer refused: not a voter');
      return;
    }
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send(message('timeout-now', this.id, to, this.term));
    else this.sendAppend(to);
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message('app-resp', this.id, m.from, this.term, { index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.send(message('app-resp', this.id, m.from, this.term, { index: lastNew }));
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(message('app-resp', this.id, m.from, this.term, {
      index: m.index, reject: true, rejectHint: hint, logTerm: this.log.term(hint),
    }));
  }

  private handleHeartbeat(m: Message): void {
    if (m.commit > this.log.committed) this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(message('heartbeat-resp', this.id, m.from, this.term, { context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    if (this.restore(s)) {
      this.logger.info({ index: s.meta.index, term: s.meta.term }, 'restored from snapshot');
      this.send(message('app-resp', this.id, m.from, this.term, { index: this.log.lastIndex() }));
    } else {
      this.send(message('app-resp', this.id, m.from, this.term, { index: this.log.committed }));
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // we have the entries already: just fast-forward the commit
      this.log.commitTo(s.meta.index);
      return false;
    }
    if (this.confToApply.length > 0) this.superseded ??= this.confState();
    this.log.restore(s);
    this.setConf(s.meta.conf);
    this.restoredAt = s.meta.index;
    return true;
  }

  // ---- replication ----

  private proposeEntry(e: Entry): { index: number; term: number } {
    if (this.role !== 'leader') throw new ProposalDroppedError(this.lead ? 'not the leader' : 'no leader');
    if (this.leadTransferee) throw new ProposalDroppedError('leadership transfer in progress');
    if (!this.prs.has(this.id)) throw new ProposalDroppedError('not in the configuration');
    if (e.type === 'conf') {
      if (this.pendingConfIndex > this.log.applied) throw new ProposalDroppedError('a configuration change is already in progress');
      this.pendingConfIndex = this.log.lastIndex() + 1;
    }
    this.appendEntries([e]);
    this.bcastAppend();
    return { index: this.log.lastIndex(), term: this.term };
  }

  private appendEntries(ents: Entry[]): void {
    let li = this.log.lastIndex();
    for (const e of ents) {
      e.term = this.term;
      e.index = ++li;
    }
    this.log.append(ents);
    if (this.cfg.asyncLeaderPersist) return; // counted when persisted (advance)
    this.prs.get(this.id)?.maybeUpdate(li);
    if (this.maybeCommit()) this.releasePendingReads();
  }

  /** The last index this node may count as its own: everything, or with asyncLeaderPersist only what is on disk. */
  private ownMatch(): number {
    if (!this.cfg.asyncLeaderPersist) return this.log.lastIndex();
    const u = this.log.unstable;
    return u.entries.length > 0 ? u.offset - 1 : this.log.lastIndex();
  }

  /**
   * The voters' match indexes, largest first, sorted in place by insertion: this runs on every
   * acknowledgement, and a fresh array sorted with a comparator was the leader's largest
   * allocation per write (about 3 KB).
   */
  private matchScratch = new Float64Array(0);

  private maybeCommit(): boolean {
    const n = this.voters.size;
    if (n === 0) return false;
    if (this.matchScratch.length !== n) this.matchScratch = new Float64Array(n);
    const m = this.matchScratch;
    let k = 0;
    for (const id of this.voters) {
      const v = this.prs.get(id)?.match ?? 0;
      let j = k++;
      for (; j > 0 && (m[j - 1] as number) < v; j--) m[j] = m[j - 1] as number;
      m[j] = v;
    }
    return this.log.maybeCommit(m[quorum(n) - 1] as number, this.term);
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === this.id || this.prs.get(id)?.recentActive) active++;
    }
    return active >= quorum(this.voters.size);
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.send(message('heartbeat', this.id, id, this.term, { commit: Math.min(pr.match, this.log.committed), context }));
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    let logTerm: number;
    let ents: Entry[];
    try {
      logTerm = this.log.termOrCompacted(pr.next - 1);
      ents = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      return this.sendSnapshot(to, pr);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(message('app', this.id, to, this.term, { index: pr.next - 1, logTerm, entries: ents, commit: this.log.committed }));
    const last = ents[ents.length - 1];
    if (last) pr.sentEntries(last.index);
    else if (pr.state === 'probe') pr.probeSent = true;
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    if (snap.meta.index === 0) return false;
    this.logger.info({ to, index: snap.meta.index }, 'follower is behind the compacted log: sending a snapshot');
    this.send(message('snap', this.id, to, this.term, { snapshot: snap }));
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  // ---- linearizable reads (ReadIndex) ----

  private stepLeaderReadIndex(context: string, _from: NodeId): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // the leader does not know the commit index until it commits an entry of its own term
      // (even alone: after a restart its commit index may lag what it had acknowledged)
      this.pendingReads.push(context);
      return;
    }
    if (this.voters.size === 1) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    this.readOnly.add(context, this.log.committed, this.id);
    this.bcastHeartbeat(context);
  }

  private releasePendingReads(): void {
    if (this.pendingReads.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const pending = this.pendingReads;
    this.pendingReads = [];
    for (const ctx of pending) this.stepLeaderReadIndex(ctx, this.id);
  }

  private ackRead(context: string, from: NodeId): void {
    const acks = this.readOnly.ack(context, from);
    if (acks === undefined) return;
    let n = 0;
    for (const v of this.voters) if (acks.has(v)) n++;
    if (n < quorum(this.voters.size)) return;
    for (const rs of this.readOnly.releaseUpTo(context)) this.readStates.push(rs);
  }

  // ---- plumbing ----

  private setConf(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    const next = this.log.lastIndex() + 1;
    const prs = new Map<NodeId, Progress>();
    for (const id of [...conf.voters, ...conf.learners]) {
      const existing = this.prs.get(id);
      const learner = this.learners.has(id);
      if (existing) {
        existing.isLearner = learner;
        prs.set(id, existing);
      } else {
        const pr = new Progress(next, this.cfg.maxInflight, learner);
        if (id === this.id) pr.match = this.ownMatch();
        prs.set(id, pr);
      }
    }
    this.prs = prs;
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }
}

export { decodeConfChange };
