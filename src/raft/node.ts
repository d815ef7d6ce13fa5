import { RaftCore, ProposalDroppedError } from './core.js';
import { silentRaftLogger, type RaftConfig, type RaftLogger } from './config.js';
import { decodeConfChange, quorum } from './membership.js';
import { MemoryStorage } from './storage.js';
import { Wal } from './wal/wal.js';
import { SnapshotStore } from './snapshot-store.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, Ready, Role } from './types.js';

/** What Raft replicates: the runtime applies committed entries to it, in order, once each. */
export interface StateMachine {
  /** Applies a normal entry (never the leader's empty no-op); the value resolves the proposer's promise. */
  apply(entry: Entry): unknown;
  /**
   * A consistent image of everything applied so far: its bytes, or their
   * promise when they are written out over later turns of the event loop. The
   * image is taken during the call: entries applied after it must not show in it.
   */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replaces everything with a snapshot's image. */
  restore(data: Uint8Array): void;
}

const noop = (): void => undefined;

export interface RaftTransport {
  /** Best effort: a lost message is retried by the protocol. */
  send(msg: Message): void;
}

/** Why a proposal or read could not be served; `code` maps to the agent's errors. */
export class RaftError extends Error {
  constructor(readonly code: 'ERR_NOT_LEADER' | 'ERR_LEADERSHIP_LOST' | 'ERR_STOPPED' | 'ERR_TIMEOUT', message: string) {
    super(message);
    this.name = 'RaftError';
  }
}

export interface RaftNodeOptions {
  /** Core knobs except `applied` and `random`, which the runtime supplies. */
  core: Omit<RaftConfig, 'applied' | 'random' | 'logger'>;
  /** Length of one tick in ms. */
  tickMs: number;
  /** Where the WAL and snapshots live; undefined keeps everything in memory (dev mode). */
  dataDir: string | undefined;
  fsm: StateMachine;
  transport: RaftTransport;
  logger?: RaftLogger;
  /** Take a snapshot after this many applied entries since the last one. */
  snapshotThreshold: number;
  /** Entries kept behind a snapshot so a slightly slow follower catches up without one. */
  trailingLogs: number;
  /**
   * At most one snapshot per this many ms (default 0: no limit), unless the
   * log has grown to SNAPSHOT_CAP_FACTOR thresholds. A snapshot costs in
   * proportion to the state, and part of the state (the request log) grows
   * with the write rate: without a spacing, snapshots under a heavy load
   * came every few seconds and each held the event loop longer.
   */
  snapshotIntervalMs?: number;
  /**
   * How long a leader may hold a commit notice (an append with no entries)
   * for the next append to carry it instead; default 0 (the next turn).
   */
  commitNoticeMs?: number;
  /** Told when this node's role or the known leader changes. */
  onStateChange?: (role: Role, leader: NodeId, term: number) => void;
  /** Told of every applied configuration change (the runtime keeps addresses in `context`). */
  onConfChange?: (cc: ConfChange, conf: ConfState) => void;
  random?: () => number;
}

/** However recent the last snapshot, one is taken once the log holds this many thresholds of entries. */
export const SNAPSHOT_CAP_FACTOR = 4;

interface Pending {
  term: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * The runtime around RaftCore: a tick timer, the write-ahead log and
 * snapshots on disk, the transport, and the state machine. Each Ready is
 * handled in the order the core demands: persist (one fsync), send, apply,
 * advance. Proposals resolve when their entry is applied at the index and
 * term it was given; losing leadership rejects them (they may still commit).
 */
export class RaftNode {
  readonly core: RaftCore;
  private readonly storage: MemoryStorage;
  private timer: ReturnType<typeof setInterval> | undefined;
  private draining = false;
  private scheduled = false;
  private stopped = false;
  private readonly pending = new Map<number, Pending>();
  private readonly reads = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  /** Reads whose index is known, waiting for the state machine to reach it. */
  private readonly readWaits: Array<{ index: number; resolve: () => void }> = [];
  private readSeq = 0;
  /** Reads waiting for the next ReadIndex round (see readBarrier). */
  private readBatch: Array<{ resolve: () => void; reject: (e: Error) => void }> | undefined;
  private snapIndex: number;
  private role: Role = 'follower';
  /** Leader: when each voter last answered an append or heartbeat of this term (performance.now()). */
  private readonly heardAt = new Map<NodeId, number>();
  private leader: NodeId = '';
  private lastContact = 0;
  private readonly log: RaftLogger;
  private fatal: Error | undefined;
  private drained: Promise<void> = Promise.resolve();
  /** A snapshot of ours being written out (maybeSnapshot). */
  private persisting: Promise<void> | undefined;
  /** When the last snapshot was taken (performance.now()); the node's start counts as one. */
  private snappedAt = performance.now();
  /** Commit notices held back (see handle): the newest for each follower. */
  private readonly heldNotices = new Map<NodeId, Message>();
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly opts: RaftNodeOptions,
    storage: MemoryStorage,
    applied: number,
    private readonly wal: Wal | undefined,
    private readonly snaps: SnapshotStore | undefined,
  ) {
    this.log = opts.logger ?? silentRaftLogger;
    this.storage = storage;
    this.snapIndex = applied;
    this.core = new RaftCore({ ...opts.core, applied, random: opts.random ?? Math.random, logger: this.log }, storage);
  }

  /** Loads the WAL and the newest snapshot (if any) and restores the state machine from it. */
  static async open(opts: RaftNodeOptions): Promise<RaftNode> {
    const log = opts.logger ?? silentRaftLogger;
    const storage = new MemoryStorage();
    if (opts.dataDir === undefined) return new RaftNode(opts, storage, 0, undefined, undefined);
    const warn = (msg: string) => log.warn({}, msg);
    const snaps = await SnapshotStore.open(`${opts.dataDir}/snapshots`, { warn });
    const { wal, recovered } = await Wal.open(`${opts.dataDir}/wal`, { warn });
    const snap = await snaps.loadNewest();
    const snapAt = snap?.meta.index ?? 0;
    const marker = recovered.snapshot?.index ?? 0;
    if (snapAt < marker) {
      await wal.close();
      throw new Error(`raft: the log starts after snapshot ${marker}, but the newest readable snapshot is at ${snapAt}; refusing to start with a gap (restore the snapshot or the data dir)`);
    }
    if (snap) {
      storage.applySnapshot(snap);
      opts.fsm.restore(snap.data);
    }
    const ents = recovered.entries.filter((e) => e.index > snapAt);
    const first = ents[0];
    if (first && first.index !== snapAt + 1) {
      await wal.close();
      throw new Error(`raft: the log has a gap: snapshot at ${snapAt}, next entry at ${first.index}`);
    }
    storage.append(ents);
    const hs = recovered.hardState;
    storage.setHardState({ ...hs, commit: Math.min(Math.max(hs.commit, snapAt), storage.lastIndex()) });
    log.info({ snapshot: snapAt, entries: ents.length, term: hs.term, commit: hs.commit }, 'raft state loaded');
    return new RaftNode(opts, storage, snapAt, wal, snaps);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.core.tick();
      this.schedule();
    }, this.opts.tickMs);
    this.schedule();
  }

  /** A fresh cluster's first configuration (no-op when this node already has a log). */
  bootstrap(peers: Array<{ id: NodeId; context: string }>): boolean {
    const done = this.core.bootstrap(peers);
    if (done) this.schedule();
    return done;
  }

  /** True when this node has never been part of a configuration. */
  isFresh(): boolean {
    // term 0 with entries: a bootstrap whose hard state was torn off the WAL's tail; it may bootstrap again
    return this.core.term === 0 && this.core.log.committed === 0;
  }

  receive(msg: Message): void {
    if (this.stopped) return;
    try {
      this.core.step(msg);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, type: msg.type, from: msg.from }, 'raft message rejected');
    }
    if (msg.from === this.leader && msg.term === this.core.term) this.lastContact = performance.now();
    if (this.role === 'leader' && msg.term === this.core.term && (msg.type === 'app-resp' || msg.type === 'heartbeat-resp')) {
      this.heardAt.set(msg.from, performance.now());
    }
    this.schedule();
  }

  /** Appends a command on the leader; resolves with the state machine's answer once applied. */
  propose(data: Uint8Array): Promise<unknown> {
    return this.track(() => this.core.propose(data));
  }

  proposeConfChange(cc: ConfChange): Promise<unknown> {
    return this.track(() => this.core.proposeConfChange(cc));
  }

  private track(fn: () => { index: number; term: number }): Promise<unknown> {
    if (this.stopped || this.fatal) return Promise.reject(new RaftError('ERR_STOPPED', this.fatal ? `raft stopped: ${this.fatal.message}` : 'raft is stopped'));
    let at: { index: number; term: number };
    try {
      at = fn();
    } catch (err) {
      if (err instanceof ProposalDroppedError) return Promise.reject(new RaftError('ERR_NOT_LEADER', err.message));
      return Promise.reject(err as Error);
    }
    this.schedule();
    return new Promise((resolve, reject) => this.pending.set(at.index, { term: at.term, resolve, reject }));
  }

  /**
   * Leader: resolves when the state machine has applied everything committed
   * at the time of the call, confirmed by a quorum (ReadIndex): a
   * linearizable read may then be served locally.
   */
  readBarrier(timeoutMs: number): Promise<void> {
    if (this.role !== 'leader') return Promise.reject(new RaftError('ERR_NOT_LEADER', 'not the leader'));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new RaftError('ERR_TIMEOUT', 'timed out confirming leadership with a quorum'));
      }, timeoutMs);
      const waiter = {
        resolve: () => { if (!settled) { settled = true; clearTimeout(timer); resolve(); } },
        reject: (e: Error) => { if (!settled) { settled = true; clearTimeout(timer); reject(e); } },
      };
      // reads that arrive in the same turn of the event loop share one quorum round
      if (this.readBatch) {
        this.readBatch.push(waiter);
        return;
      }
      this.readBatch = [waiter];
      setImmediate(() => this.flushReads());
    });
  }

  /** Starts one ReadIndex round for every read batched since the last one. */
  private flushReads(): void {
    const batch = this.readBatch ?? [];
    this.readBatch = undefined;
    const ctx = `r${++this.readSeq}`;
    this.reads.set(ctx, {
      resolve: () => { for (const w of batch) w.resolve(); },
      reject: (e) => { for (const w of batch) w.reject(e); },
    });
    try {
      if (this.stopped || this.fatal) throw new RaftError('ERR_STOPPED', 'raft is stopped');
      this.core.readIndex(ctx);
    } catch (err) {
      this.reads.get(ctx)?.reject(err instanceof RaftError ? err : new RaftError('ERR_NOT_LEADER', (err as Error).message));
      this.reads.delete(ctx);
    }
    this.schedule();
  }

  transferLeadership(to: NodeId): void {
    this.core.transferLeadership(to);
    this.schedule();
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  get leaderId(): NodeId {
    return this.leader;
  }

  get term(): number {
    return this.core.term;
  }

  /**
   * Leader: true when a quorum of voters (this node among them) answered its
   * appends or heartbeats within the last `leaseMs`. Those voters will not
   * help elect another leader for an election timeout after they last heard
   * from this one (check-quorum), so with `leaseMs` well under the election
   * timeout a leader in lease still leads: a read it serves locally is
   * current unless clocks run very unevenly. Outside the lease a read should
   * confirm leadership with a quorum round (readBarrier) instead.
   */
  inLease(leaseMs: number): boolean {
    if (this.role !== 'leader') return false;
    const { voters } = this.core.confState();
    const since = performance.now() - leaseMs;
    let fresh = 0;
    for (const id of voters) if (id === this.core.id || (this.heardAt.get(id) ?? -Infinity) >= since) fresh++;
    return fresh >= quorum(voters.length);
  }

  /** ms since the leader was last heard from (0 on the leader, Infinity if never). */
  lastContactMs(): number {
    if (this.role === 'leader') return 0;
    return this.lastContact === 0 ? Infinity : performance.now() - this.lastContact;
  }

  /** Resolves after every Ready produced so far was handled (tests, graceful stop). */
  async flush(): Promise<void> {
    while (this.draining || this.core.hasReady() || this.persisting) {
      this.schedule();
      await this.drained;
      await this.persisting;
      await new Promise((r) => setImmediate(r));
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    await this.drained;
    await this.persisting;
    this.failAll(new RaftError('ERR_STOPPED', 'raft is shutting down'));
    await this.wal?.close();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.draining) this.drained = this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.stopped && !this.fatal && this.core.hasReady()) {
        await this.handle(this.core.ready());
      }
    } catch (err) {
      this.stopOnDiskError(err as Error);
    } finally {
      this.draining = false;
    }
  }

  private async handle(rd: Ready): Promise<void> {
    // 0. A leader's appends need not wait for its own disk (it counts itself only once
    // persisted): they go first, as a follower's write decides when an entry commits more often
    // than ours. Appends that carry no entries only tell followers the new commit index: they
    // are held back (holdNotice).
    const late: Message[] = [];
    let sentFirst = false;
    for (const m of rd.messages) {
      if (m.type === 'app' && m.entries.length === 0 && rd.committedEntries.length > 0) this.holdNotice(m);
      else if (this.opts.core.asyncLeaderPersist && (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap')) {
        this.send(m);
        sentFirst = true;
      } else late.push(m);
    }
    // 1. persist: nothing that depends on this state leaves before it is on disk. A change of the
    // commit index alone is not worth a disk write: after a restart the leader tells us again,
    // and the state machine is rebuilt from the snapshot and the log anyway.
    const persist = this.wal !== undefined && (rd.mustSync || rd.entries.length > 0);
    // The RPC layer writes the messages sent above on nextTick (it corks the sockets until then);
    // the save is issued after them, so the followers' writes start before ours. With nothing
    // sent first it starts now. A leader's goes through the thread pool (see saveAfterSends);
    // anyone else's, when small, is done when save() returns (the WAL writes it inline).
    const leading = this.core.role === 'leader';
    let saving = persist && !rd.snapshot ? (sentFirst ? this.saveAfterSends(rd) : this.wal?.save(rd.hardState, rd.entries, rd.mustSync, leading)) : undefined;
    saving?.catch(noop); // awaited below; a throw before that must not leave it unhandled
    // a snapshot goes to disk before the entries after it (and after one of ours being written)
    if (rd.snapshot) {
      await this.persisting;
      if (this.snaps && this.wal) {
        await this.snaps.save(rd.snapshot.meta, rd.snapshot.data);
        await this.wal.saveSnapshotMarker(rd.snapshot.meta.index, rd.snapshot.meta.term);
      }
      this.storage.applySnapshot(rd.snapshot);
      if (persist) saving = this.wal?.save(rd.hardState, rd.entries, rd.mustSync);
    }
    // Committed entries that were on this node's disk before this Ready need not wait for its
    // write: a leader applies them while its write is in flight (applying sends nothing). Under
    // load this takes one fsync off every acknowledgement: the entries of batch n are answered
    // during batch n+1's. A follower acknowledges first and applies after.
    let early = 0;
    if (!rd.snapshot && leading) {
      const onDisk = Math.min(this.storage.lastIndex(), (rd.entries[0]?.index ?? Infinity) - 1);
      while (early < rd.committedEntries.length && (rd.committedEntries[early] as Entry).index <= onDisk) {
        this.applyEntry(rd.committedEntries[early++] as Entry);
      }
    }
    if (saving) await saving;
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    this.storage.append(rd.entries);
    // 2. send (votes and acknowledgements promise what is now on disk)
    for (const m of late) this.send(m);
    // The transport writes them on nextTick; applying first would hold them that long. A tick
    // queued now runs after that write.
    if (late.length > 0 && rd.committedEntries.length > early) await new Promise<void>((r) => process.nextTick(r));
    // 3. apply
    if (rd.snapshot) {
      this.opts.fsm.restore(rd.snapshot.data);
      this.snapIndex = rd.snapshot.meta.index;
      for (const [index, p] of this.pending) {
        if (index <= rd.snapshot.meta.index) {
          this.pending.delete(index);
          p.reject(new RaftError('ERR_LEADERSHIP_LOST', 'leadership lost while committing'));
        }
      }
    }
    for (let i = early; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i] as Entry);
    const applied = rd.committedEntries[rd.committedEntries.length - 1]?.index ?? rd.snapshot?.meta.index ?? 0;
    this.core.advance(rd);
    if (applied > 0) this.releaseReads(this.core.log.applied);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (!r) continue;
      this.reads.delete(rs.context);
      if (this.core.log.applied >= rs.index) r.resolve();
      else this.readWaits.push({ index: rs.index, resolve: r.resolve });
    }
    if (rd.softState) this.changeState(rd.softState.role, rd.softState.leader);
    this.maybeCampaignAlone();
    this.maybeSnapshot();
  }

  /**
   * A leader's own write, issued once its appends have left, through the thread pool: meanwhile
   * it goes on reading requests (the next batch) and acknowledgements, which commit the entries
   * without it when both followers are faster. Written inline (as a follower's is), a burst of
   * new client connections was taken in small batches each behind a blocking write: 64 new
   * connections' first PUTs took 100-230 ms against 30-80 ms. A disk that stalls then stalls only
   * this node's commits, not its heartbeats and reads.
   */
  private saveAfterSends(rd: Ready): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      process.nextTick(() => {
        const wal = this.wal;
        if (wal) wal.save(rd.hardState, rd.entries, rd.mustSync, true).then(resolve, reject);
        else resolve();
      });
    });
  }

  private send(m: Message): void {
    if (this.heldNotices.size > 0 && (m.type === 'app' || m.type === 'heartbeat')) {
      const held = this.heldNotices.get(m.to);
      if (held && m.commit >= held.commit) this.heldNotices.delete(m.to); // this one tells it as much
    }
    this.opts.transport.send(m);
  }

  /**
   * A commit notice waits up to commitNoticeMs for the next append to that
   * follower, which carries the commit index anyway, and is sent alone only
   * when none comes (Consul's Raft waits its CommitTimeout, 50 ms, likewise).
   * Under a steady stream of writes that halves the messages per write: each
   * notice and its answer are two socket writes on each side. Followers then
   * apply an entry up to that much later; nothing waits on that but their
   * stale reads. Sent at once, notices also delayed the proposers' answers:
   * their socket writes went before the promises resolved.
   */
  private holdNotice(m: Message): void {
    this.heldNotices.set(m.to, m);
    this.noticeTimer ??= setTimeout(() => {
      this.noticeTimer = undefined;
      const held = [...this.heldNotices.values()];
      this.heldNotices.clear();
      if (!this.stopped) for (const n of held) this.opts.transport.send(n);
    }, this.opts.commitNoticeMs ?? 0);
  }

  private applyEntry(e: Entry): void {
    let result: unknown;
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      const conf = this.core.applyConfChange(cc);
      this.opts.onConfChange?.(cc, conf);
      result = conf;
    } else if (e.data.length > 0) {
      result = this.opts.fsm.apply(e);
    }
    const p = this.pending.get(e.index);
    if (!p) return;
    this.pending.delete(e.index);
    if (p.term === e.term) p.resolve(result);
    else p.reject(new RaftError('ERR_LEADERSHIP_LOST', 'leadership lost while committing'));
  }

  /** The only voter need not wait an election timeout to lead (dev mode, -bootstrap, a restart of either). */
  private maybeCampaignAlone(): void {
    const core = this.core;
    if (core.role !== 'follower' || core.log.applied < core.log.committed) return;
    const { voters } = core.confState();
    if (voters.length === 1 && voters[0] === core.id) core.campaign();
  }

  private releaseReads(applied: number): void {
    for (let i = this.readWaits.length - 1; i >= 0; i--) {
      const w = this.readWaits[i];
      if (w && w.index <= applied) {
        this.readWaits.splice(i, 1);
        w.resolve();
      }
    }
  }

  private changeState(role: Role, leader: NodeId): void {
    const wasLeader = this.role === 'leader';
    if (role === 'leader' && !wasLeader) this.heardAt.clear(); // a new term's lease starts empty
    this.role = role;
    if (leader !== this.leader && leader !== '') this.lastContact = performance.now();
    this.leader = leader;
    if (wasLeader && role !== 'leader') {
      // entries proposed here may or may not commit under the next leader: the caller must not assume either
      for (const [, p] of this.pending) p.reject(new RaftError('ERR_LEADERSHIP_LOST', 'leadership lost while committing log'));
      this.pending.clear();
      for (const [, r] of this.reads) r.reject(new RaftError('ERR_LEADERSHIP_LOST', 'leadership lost'));
      this.reads.clear();
    }
    this.log.info({ role, leader, term: this.core.term }, 'raft state changed');
    this.opts.onStateChange?.(role, leader, this.core.term);
  }

  /**
   * Past the threshold, takes a snapshot: the state machine's image of the
   * applied index now, its bytes (which the state machine may produce over
   * several turns), then, once they are there, kept in memory for lagging
   * followers, written out, marked in the WAL and the log compacted behind it,
   * all in the background. The disk part costs several syncs; in line it held
   * every write behind it (a 100+ ms p99 at c=64). One runs at a time; a
   * received snapshot and stop() wait for it, and a failure stops Raft as a
   * failed WAL write does.
   */
  private maybeSnapshot(): void {
    const applied = this.core.log.applied;
    const since = applied - this.snapIndex;
    if (this.persisting || since < this.opts.snapshotThreshold) return;
    const now = performance.now();
    if (now - this.snappedAt < (this.opts.snapshotIntervalMs ?? 0) && since < this.opts.snapshotThreshold * SNAPSHOT_CAP_FACTOR) return;
    this.snappedAt = now;
    const image = this.opts.fsm.snapshot();
    const conf = this.core.confState();
    this.snapIndex = applied;
    const keepFrom = applied - this.opts.trailingLogs;
    this.persisting = (async () => {
      const data = await image;
      const snap = this.storage.createSnapshot(applied, conf, data);
      if (this.snaps && this.wal) {
        await this.snaps.save(snap.meta, snap.data);
        await this.wal.saveSnapshotMarker(snap.meta.index, snap.meta.term);
      }
      if (keepFrom > this.storage.firstIndex()) {
        this.storage.compact(keepFrom);
        await this.wal?.releaseTo(keepFrom);
      }
      this.log.info({ index: applied, bytes: data.length }, 'raft snapshot taken');
    })().catch((err: unknown) => this.stopOnDiskError(err as Error)).finally(() => { this.persisting = undefined; });
  }

  /** A failed fsync or a corrupt write leaves the node unable to promise durability: stop serving. */
  private stopOnDiskError(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.log.warn({ err: err.message }, 'raft stopped: cannot persist its log');
    if (this.timer) clearInterval(this.timer);
    this.failAll(new RaftError('ERR_STOPPED', `raft stopped: ${err.message}`));
  }

  private failAll(err: Error): void {
    for (const [, p] of this.pending) p.reject(err);
    this.pending.clear();
    for (const [, r] of this.reads) r.reject(err);
    this.reads.clear();
  }
}
