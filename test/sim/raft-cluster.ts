/**
 * A seeded simulation of a Raft cluster built on the real core (src/raft):
 * one RaftCore + MemoryStorage per server, a disk that tells written from
 * fsynced, a key/value state machine, a network that loses, duplicates,
 * delays, reorders and partitions messages, crashes and restarts, snapshots
 * with log compaction, and membership changes. Everything random comes from
 * seeded generators and time is simulated, so a run is replayed exactly from
 * its seed (SEED=… on the tests that use it).
 *
 * The runtime contract is followed step by step, as separate events so that
 * anything (a message, a tick, a crash) can happen in between:
 *   ready()  →  'write' (entries/hard state/snapshot reach the page cache: the
 *   live MemoryStorage the core reads)  →  'synced' (fsync returned, when the
 *   Ready has mustSync; then the messages are sent, the snapshot and the
 *   committed entries applied, read states answered, and advance() called).
 * The core is stepped and ticked while a Ready is in flight, as a runtime with
 * an asynchronous fsync does. Only one Ready is in flight per server.
 *
 * The disk: every write is recorded, in order, in `pending` until a sync makes
 * all of them durable (a sequential WAL: one fsync covers everything written
 * before it). A crash keeps a random prefix of the unsynced writes (or none,
 * or all, as asked) and loses the rest, the in-memory core, the state machine
 * and the Ready in flight. A restart rebuilds the storage from the durable
 * writes and the state machine from the durable snapshot, with
 * `applied` = the snapshot's index; the core re-delivers the rest.
 *
 * Invariants, checked as the run goes (a violation throws a SimViolation
 * carrying the seed, the servers' state and the tail of the trace):
 * - election safety: at most one leader per term, ever (every step);
 * - log matching: each entry is checked as it enters a log (same index and
 *   term ⇒ same content and same predecessor term), and all logs are compared
 *   pairwise every `logCheckEvery` steps and at the end;
 * - leader completeness: a new leader holds every entry applied anywhere;
 * - state machine safety: no two servers apply different entries at an
 *   index, each server applies in order, snapshots agree with what was applied;
 * - configuration: the core uses the configuration of what it has applied;
 * - durability of acknowledgements: an append is acknowledged, or a vote
 *   granted, only once it is durable;
 * - no stale read: a ReadIndex answer covers every write acknowledged before
 *   the read was asked;
 * - at the end (settle): liveness, and every acknowledged write on every member.
 */
import { ProposalDroppedError, RaftCore } from '../../src/raft/core.js';
import type { RaftConfig } from '../../src/raft/config.js';
import { decodeConfChange } from '../../src/raft/membership.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import type { ConfChange, ConfState, Entry, HardState, Message, Ready, ReadState, Snapshot } from '../../src/raft/types.js';
import { createRng, type Rng } from '../../src/gossip/rng.js';
import { EventHeap } from './heap.js';

// ---- options ----------------------------------------------------------------

export interface NetFaults {
  /** Probability that one message is lost. */
  loss: number;
  /** Probability that one message is delivered twice (the copy with its own delay). */
  dup: number;
  /** One-way delay in ms, uniform in [lo, hi]. */
  delay: readonly [number, number];
  /** Probability that a message is held back by an extra delay in `slow` (reordering). */
  slowRate: number;
  slow: readonly [number, number];
  /** Probability that a message dropped by a cut is reported unreachable to its sender (a broken stream). */
  reportUnreachable: number;
}

export type RaftKnobs = Pick<RaftConfig, 'electionTicks' | 'heartbeatTicks' | 'maxSizePerMsg' | 'maxInflight'
  | 'maxCommittedSizePerReady' | 'preVote' | 'checkQuorum' | 'asyncLeaderPersist'>;

export interface RaftSimOptions {
  seed: number;
  /** Initial voters n1..nN, bootstrapped together. */
  voters: number;
  /** Servers n{N+1}.. that exist but are not started (membership changes add them). */
  spares?: number;
  raft?: Partial<RaftKnobs>;
  net?: Partial<NetFaults>;
  /** Simulated ms per tick. */
  tickMs?: number;
  /** Latency of each disk stage (write, fsync, apply), uniform in [lo, hi] ms. */
  diskMs?: readonly [number, number];
  /** Entries applied between two local snapshots (then the log is compacted); 0 = never. */
  snapshotEvery?: number;
  /** Entries kept in the log behind a new snapshot. */
  snapshotKeep?: number;
  /**
   * Steps between two full (pairwise) log-matching checks; 1 = after every
   * step. Every entry is also checked when it enters a log (see kick()).
   */
  logCheckEvery?: number;
  /** Lines of trace kept for a failure report. */
  traceSize?: number;
  /**
   * fsync a Ready that carries a snapshot even when mustSync is false (as a
   * runtime that writes snapshots to their own fsynced file does). Default
   * false: mustSync is taken to the letter.
   */
  syncSnapshots?: boolean;
  /**
   * Probability, at each of the three points of a Ready's processing (written
   * but not synced; messages sent but nothing applied; applied), that the
   * server crashes right there, keeping a random prefix of its unsynced
   * writes; 20 times higher while some writes are not synced (the windows
   * where durability bugs live). `onCrash` tells the driver, which decides
   * on a restart.
   */
  stageCrashRate?: number;
  /**
   * The transport tells the leader whether each snapshot message was
   * delivered (reportSnapshot), as etcd's does. Default true; false shows what
   * happens to a runtime that never reports.
   */
  reportSnapshots?: boolean;
}

export const DEFAULT_KNOBS: RaftKnobs = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxSizePerMsg: 4096,
  maxInflight: 8,
  maxCommittedSizePerReady: 0,
  preVote: true,
  checkQuorum: true,
  // the agent's runtime runs this way; RAFT_SIM_SYNC_LEADER=1 checks the other mode
  asyncLeaderPersist: process.env.RAFT_SIM_SYNC_LEADER !== '1',
};

const DEFAULT_NET: NetFaults = { loss: 0, dup: 0, delay: [1, 5], slowRate: 0, slow: [10, 60], reportUnreachable: 0.2 };

// ---- state machine ------------------------------------------------------------

/** A client write: set key `k` to `v`; `id` is unique per run. */
export interface KvOp {
  id: number;
  k: string;
  v: string;
}

/** The replicated state machine: a KV map, the set of op ids applied, a rolling hash of the applied prefix. */
export interface Fsm {
  applied: number;
  term: number;
  kv: Map<string, string>;
  ids: Set<number>;
  hash: number;
  conf: ConfState;
}

function emptyFsm(): Fsm {
  return { applied: 0, term: 0, kv: new Map(), ids: new Set(), hash: 0x811c9dc5, conf: { voters: [], learners: [] } };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function encodeFsm(f: Fsm): Uint8Array {
  return enc.encode(JSON.stringify({ applied: f.applied, term: f.term, kv: [...f.kv], ids: [...f.ids], hash: f.hash, conf: f.conf }));
}

function decodeFsm(s: Snapshot): Fsm {
  if (s.meta.index === 0) return emptyFsm();
  const v = JSON.parse(dec.decode(s.data)) as { applied: number; term: number; kv: [string, string][]; ids: number[]; hash: number; conf: ConfState };
  return { applied: v.applied, term: v.term, kv: new Map(v.kv), ids: new Set(v.ids), hash: v.hash, conf: s.meta.conf };
}

function mix(h: number, s: string): number {
  let x = h >>> 0;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

/** What an entry is, as a string: '' for the leader's no-op, the op JSON, or 'conf:'+JSON. */
export function entryKey(e: Entry): string {
  if (e.type === 'conf') return `conf:${dec.decode(e.data)}`;
  return e.data.length === 0 ? '' : dec.decode(e.data);
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  if (a.data === b.data) return true;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

// ---- disk -----------------------------------------------------------------------

type DiskOp =
  | { kind: 'snap'; snap: Snapshot }
  | { kind: 'ents'; ents: Entry[] }
  | { kind: 'hs'; hs: HardState }
  | { kind: 'local-snap'; index: number; conf: ConfState; data: Uint8Array; compactTo: number };

function applyOp(s: MemoryStorage, op: DiskOp): void {
  switch (op.kind) {
    case 'snap': s.applySnapshot(op.snap); return;
    case 'ents': s.append(op.ents); return;
    case 'hs': s.setHardState(op.hs); return;
    case 'local-snap':
      s.createSnapshot(op.index, op.conf, op.data);
      if (op.compactTo > s.firstIndex() - 1) s.compact(op.compactTo);
      return;
  }
}

function cloneStorage(src: MemoryStorage): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(src.snapshot());
  const first = src.firstIndex();
  const last = src.lastIndex();
  if (last >= first) s.append(src.entries(first, last + 1, Number.MAX_SAFE_INTEGER));
  s.setHardState(src.initialState().hardState);
  return s;
}

// ---- servers ------------------------------------------------------------------

export type NodeStatus = 'idle' | 'up' | 'down';

export class SimRaftNode {
  core: RaftCore | undefined = undefined;
  status: NodeStatus = 'idle';
  /** Bumped by every crash and restart: events of an older life are ignored. */
  incarnation = 0;
  /** What was written (the page cache); the core reads it. */
  live = new MemoryStorage();
  /** What survived fsync. */
  durable = new MemoryStorage();
  /** Written, not yet synced, in write order. */
  pending: DiskOp[] = [];
  fsm: Fsm = emptyFsm();
  inflight: Ready | undefined = undefined;
  /** Last term in which this server was seen leading (for the leader checks). */
  ledTerm = 0;
  crashes = 0;
  readonly rng: Rng;

  constructor(readonly id: string, readonly initial: boolean, seed: number) {
    this.rng = createRng(seed);
  }

  get raft(): RaftCore {
    if (!this.core) throw new Error(`${this.id} is not running`);
    return this.core;
  }

  isLeader(): boolean {
    return this.status === 'up' && this.core?.role === 'leader';
  }
}

// ---- events ---------------------------------------------------------------------

type SimEvent =
  | { at: number; seq: number; kind: 'tick'; node: SimRaftNode; inc: number }
  | { at: number; seq: number; kind: 'msg'; m: Message; fromInc: number }
  | { at: number; seq: number; kind: 'write' | 'synced'; node: SimRaftNode; inc: number }
  | { at: number; seq: number; kind: 'snap-report'; node: SimRaftNode; inc: number; to: string; ok: boolean }
  | { at: number; seq: number; kind: 'call'; label: string; fn: () => void };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Unscheduled = DistributiveOmit<SimEvent, 'seq'>;

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

export interface Proposal {
  node: string;
  opId: number;
  index: number;
  term: number;
}

export interface SimStats {
  steps: number;
  messages: number;
  dropped: number;
  duplicated: number;
  proposals: number;
  proposalsDropped: number;
  acked: number;
  reads: number;
  readsAnswered: number;
  elections: number;
  maxTerm: number;
  crashes: number;
  restarts: number;
  unsyncedLost: number;
  /** Crashes that found writes not yet synced. */
  crashesUnsynced: number;
  snapshotsCreated: number;
  snapshotsSent: number;
  snapshotsRestored: number;
  confChangesApplied: number;
  /** Membership changes committed (first applied anywhere), bootstrap excluded. */
  learnersAdded: number;
  promotions: number;
  removals: number;
  transfers: number;
  commitClamped: number;
  /** Configuration changes the core skipped because a newer snapshot was restored while they were being applied. */
  confSuperseded: number;
  logChecks: number;
}

function formatMsg(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'app':
      s += ` prev=${m.index}/${m.logTerm} n=${m.entries.length}${m.entries.length ? `(${m.entries[0]?.index}..${m.entries[m.entries.length - 1]?.index})` : ''} commit=${m.commit}`;
      break;
    case 'app-resp':
      s += m.reject ? ` REJECT idx=${m.index} hint=${m.rejectHint}/${m.logTerm}` : ` idx=${m.index}`;
      break;
    case 'vote': case 'pre-vote':
      s += ` last=${m.index}/${m.logTerm}${m.context ? ` ${m.context}` : ''}`;
      break;
    case 'vote-resp': case 'pre-vote-resp':
      s += m.reject ? ' REJECT' : ' grant';
      break;
    case 'heartbeat':
      s += ` commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
      break;
    case 'snap':
      s += ` snap=${m.snapshot?.meta.index}/${m.snapshot?.meta.term}`;
      break;
    default:
      break;
  }
  return s;
}

// ---- the cluster ------------------------------------------------------------------

export class RaftCluster {
  readonly knobs: RaftKnobs;
  readonly net: NetFaults;
  readonly nodes = new Map<string, SimRaftNode>();
  readonly tickMs: number;
  now = 0;
  readonly stats: SimStats = {
    steps: 0, messages: 0, dropped: 0, duplicated: 0, proposals: 0, proposalsDropped: 0, acked: 0, reads: 0,
    readsAnswered: 0, elections: 0, maxTerm: 0, crashes: 0, restarts: 0, unsyncedLost: 0, crashesUnsynced: 0,
    snapshotsCreated: 0, snapshotsSent: 0, snapshotsRestored: 0, confChangesApplied: 0, learnersAdded: 0,
    promotions: 0, removals: 0, transfers: 0, commitClamped: 0, confSuperseded: 0, logChecks: 0,
  };
  /** Every acknowledged write, in acknowledgement order. */
  readonly acked: Proposal[] = [];
  /** Every answered read: its read index and the highest acknowledged index when it was asked. */
  readonly readsDone: Array<{ node: string; context: string; index: number; minIndex: number }> = [];
  /** Hooks for scenario tests: every apply, snapshot restore, message sent (before loss) and delivered. */
  onApply: ((node: SimRaftNode, e: Entry) => void) | undefined;
  onRestore: ((node: SimRaftNode, s: Snapshot) => void) | undefined;
  onSend: ((m: Message) => void) | undefined;
  onDeliver: ((m: Message) => void) | undefined;
  /** Called after a crash at a Ready stage (stageCrashRate). */
  onCrash: ((node: SimRaftNode, stage: string) => void) | undefined;

  private readonly rng: Rng;
  private readonly heap = new EventHeap<SimEvent>();
  private seq = 0;
  private readonly diskMs: readonly [number, number];
  private readonly snapshotEvery: number;
  private readonly snapshotKeep: number;
  private readonly logCheckEvery: number;
  private readonly syncSnapshots: boolean;
  /** See RaftSimOptions.stageCrashRate; may be changed between steps (0 stops them). */
  stageCrashRate: number;
  private readonly traceSize: number;
  private readonly trace: Array<[number, string | Message]> = [];
  private traceAt = 0;
  /** Directed cuts 'a>b': a's messages do not reach b. */
  private readonly cuts = new Set<string>();
  private opSeq = 0;
  private readSeq = 0;
  private readonly pendingProposals = new Map<string, Proposal & { inc: number }>();
  private readonly pendingReads = new Map<string, { node: string; inc: number; minIndex: number }>();
  private maxAckedIndex = 0;

  // checker state
  /** term → the leader seen in it. */
  readonly termLeaders = new Map<number, string>();
  /** index → what was applied there (term, key) and the hash of the applied prefix up to it. */
  private readonly appliedAt = new Map<number, { term: number; key: string; hash: number }>();
  private maxApplied = 0;
  /** index×1e6+term → the entry first seen there and the term of the entry before it. */
  private readonly entryIds = new Map<number, { type: string; data: Uint8Array; prevTerm: number }>();

  constructor(readonly options: RaftSimOptions) {
    this.rng = createRng(options.seed >>> 0);
    this.knobs = { ...DEFAULT_KNOBS, ...options.raft };
    this.net = { ...DEFAULT_NET, ...options.net };
    this.tickMs = options.tickMs ?? 10;
    this.diskMs = options.diskMs ?? [0, 2];
    this.snapshotEvery = options.snapshotEvery ?? 0;
    this.snapshotKeep = options.snapshotKeep ?? 0;
    this.logCheckEvery = options.logCheckEvery ?? 1;
    this.syncSnapshots = options.syncSnapshots ?? false;
    this.stageCrashRate = options.stageCrashRate ?? 0;
    this.traceSize = options.traceSize ?? 60;
    const total = options.voters + (options.spares ?? 0);
    for (let i = 1; i <= total; i++) {
      const id = `n${i}`;
      this.nodes.set(id, new SimRaftNode(id, i <= options.voters, (options.seed * 7919 + i * 104_729 + 17) >>> 0));
    }
    for (const n of this.nodes.values()) if (n.initial) this.start(n);
  }

  // ---- queries ----

  get(id: string): SimRaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no simulated server ${id}`);
    return n;
  }

  up(): SimRaftNode[] {
    return [...this.nodes.values()].filter((n) => n.status === 'up');
  }

  /** Running servers that believe they lead. */
  leaders(): SimRaftNode[] {
    return this.up().filter((n) => n.core?.role === 'leader');
  }

  /** The running leader of the highest term, if any. */
  leader(): SimRaftNode | undefined {
    let best: SimRaftNode | undefined;
    for (const n of this.leaders()) if (!best || n.raft.term > best.raft.term) best = n;
    return best;
  }

  /** The configuration the newest leader (or else the most advanced running server) has applied. */
  conf(): ConfState {
    const l = this.leader();
    if (l) return l.raft.confState();
    let best: SimRaftNode | undefined;
    for (const n of this.up()) if (!best || n.fsm.applied > best.fsm.applied) best = n;
    return best ? best.raft.confState() : { voters: [], learners: [] };
  }

  members(): SimRaftNode[] {
    const c = this.conf();
    return [...c.voters, ...c.learners].map((id) => this.get(id));
  }

  /** Entry `i` as `node` has it (live log), or undefined. */
  entryAt(id: string, i: number): Entry | undefined {
    const log = this.get(id).raft.log;
    if (i < log.firstIndex() || i > log.lastIndex()) return undefined;
    return log.slice(i, i + 1, Number.MAX_SAFE_INTEGER)[0];
  }

  isAcked(opId: number): boolean {
    return this.acked.some((p) => p.opId === opId);
  }

  // ---- network faults ----

  /** Servers in different groups cannot reach each other; servers in no group reach everyone. */
  partition(groups: readonly (readonly string[])[]): void {
    this.cuts.clear();
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i] ?? []) for (const b of groups[j] ?? []) this.cuts.add(`${a}>${b}`);
      }
    }
    this.note(`partition ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  /** Cuts `ids` off from everyone else (both directions). */
  isolate(...ids: string[]): void {
    const rest = [...this.nodes.keys()].filter((id) => !ids.includes(id));
    this.partition([ids, rest]);
  }

  /** One direction only: messages from `from` no longer reach `to`. */
  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
    this.note(`cut ${from}>${to}`);
  }

  heal(): void {
    this.cuts.clear();
    this.note('heal');
  }

  hasCuts(): boolean {
    return this.cuts.size > 0;
  }

  canReach(from: string, to: string): boolean {
    return !this.cuts.has(`${from}>${to}`);
  }

  // ---- crashes ----

  /**
   * Kills a server: the core, the state machine and the Ready in flight are
   * gone; of the writes not yet synced a random prefix survives ('random'),
   * none ('lose-unsynced') or all ('keep-unsynced').
   */
  crash(id: string, mode: 'random' | 'lose-unsynced' | 'keep-unsynced' = 'random'): void {
    const n = this.get(id);
    if (n.status !== 'up') return;
    const keep = mode === 'lose-unsynced' ? 0 : mode === 'keep-unsynced' ? n.pending.length : n.rng.int(n.pending.length + 1);
    for (let i = 0; i < keep; i++) applyOp(n.durable, n.pending[i] as DiskOp);
    this.stats.unsyncedLost += n.pending.length - keep;
    if (n.pending.length > 0) this.stats.crashesUnsynced++;
    this.note(`crash ${id} (kept ${keep}/${n.pending.length} unsynced writes${n.inflight ? ', a Ready in flight' : ''})`);
    n.pending = [];
    n.status = 'down';
    n.incarnation++;
    n.core = undefined;
    n.inflight = undefined;
    n.fsm = emptyFsm();
    n.crashes++;
    this.stats.crashes++;
    for (const [k, p] of this.pendingProposals) if (p.node === id) this.pendingProposals.delete(k);
    for (const [k, r] of this.pendingReads) if (r.node === id) this.pendingReads.delete(k);
  }

  /** Starts a crashed server again from what its disk kept. */
  restart(id: string): void {
    const n = this.get(id);
    if (n.status !== 'down') return;
    this.stats.restarts++;
    this.start(n);
  }

  private start(n: SimRaftNode): void {
    n.incarnation++;
    if (n.initial && n.durable.initialState().hardState.term === 0 && n.durable.snapshot().meta.index === 0) {
      // A crash tore the bootstrap write (entries kept, hard state lost): a
      // disk without a hard state was never initialized (nothing was sent
      // from it), so bootstrap again rather than wait forever for a leader.
      n.durable = new MemoryStorage();
    }
    const hs = n.durable.initialState().hardState;
    const snap = n.durable.snapshot();
    if (hs.commit < snap.meta.index) {
      // The snapshot's file was synced but the hard state written with it was
      // not: a snapshot is committed by definition (the runtime must do this).
      n.durable.setHardState({ ...hs, commit: snap.meta.index });
      this.stats.commitClamped++;
    }
    n.live = cloneStorage(n.durable);
    n.pending = [];
    n.fsm = decodeFsm(snap);
    const stats = this.stats;
    const logger = {
      info(_f: Record<string, unknown>, msg: string): void {
        if (msg.includes('superseded')) stats.confSuperseded++;
      },
      warn(): void {},
      debug(): void {},
    };
    const cfg: RaftConfig = { ...this.knobs, id: n.id, applied: snap.meta.index, random: () => n.rng.next(), logger };
    n.core = new RaftCore(cfg, n.live);
    n.status = 'up';
    n.ledTerm = 0;
    if (n.initial && n.live.lastIndex() === 0 && hs.term === 0) {
      const peers = [...this.nodes.values()].filter((p) => p.initial).map((p) => ({ id: p.id, context: `addr-${p.id}` }));
      n.core.bootstrap(peers);
    }
    this.note(`start ${n.id} (inc ${n.incarnation}, snap ${snap.meta.index}, last ${n.live.lastIndex()}, term ${hs.term}, commit ${Math.max(hs.commit, snap.meta.index)})`);
    this.schedule({ at: this.now + 1 + n.rng.int(this.tickMs), kind: 'tick', node: n, inc: n.incarnation });
    this.kick(n);
  }

  /** Starts a spare server with an empty disk (before or after it is added to the configuration). */
  startSpare(id: string): void {
    const n = this.get(id);
    if (n.status === 'idle') this.start(n);
  }

  // ---- clients ----

  /** A client write at server `id` (it must lead); undefined when the core refuses it. */
  propose(id: string, value?: string): Proposal | undefined {
    const n = this.get(id);
    if (n.status !== 'up') return undefined;
    const op: KvOp = { id: ++this.opSeq, k: `k${this.rng.int(8)}`, v: value ?? `v${this.opSeq}` };
    this.stats.proposals++;
    let at: { index: number; term: number };
    try {
      at = n.raft.propose(enc.encode(JSON.stringify(op)));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.stats.proposalsDropped++;
      return undefined;
    }
    const p: Proposal = { node: id, opId: op.id, index: at.index, term: at.term };
    this.pendingProposals.set(`${id}#${at.index}`, { ...p, inc: n.incarnation });
    this.note(`propose op${op.id} at ${id}: ${at.index}/${at.term}`);
    this.kick(n);
    return p;
  }

  proposeConfChange(id: string, cc: ConfChange): { index: number; term: number } | undefined {
    const n = this.get(id);
    if (n.status !== 'up') return undefined;
    try {
      const at = n.raft.proposeConfChange(cc);
      this.note(`propose ${cc.type} ${cc.node} at ${id}: ${at.index}/${at.term}`);
      this.kick(n);
      return at;
    } catch (err) {
      if (err instanceof ProposalDroppedError) return undefined;
      throw err;
    }
  }

  /** A linearizable read at leader `id`: returns the request's context (undefined if refused). */
  readIndex(id: string): string | undefined {
    const n = this.get(id);
    if (n.status !== 'up') return undefined;
    const ctx = `r${++this.readSeq}`;
    try {
      n.raft.readIndex(ctx);
    } catch (err) {
      if (err instanceof ProposalDroppedError) return undefined;
      throw err;
    }
    this.stats.reads++;
    this.pendingReads.set(ctx, { node: id, inc: n.incarnation, minIndex: this.maxAckedIndex });
    this.kick(n);
    return ctx;
  }

  transferLeadership(id: string, to: string): void {
    const n = this.get(id);
    if (!n.isLeader()) return;
    this.stats.transfers++;
    this.note(`transfer ${id} -> ${to}`);
    n.raft.transferLeadership(to);
    this.kick(n);
  }

  /** Schedules `fn` at now + `afterMs` (a fault, a client action). */
  at(afterMs: number, label: string, fn: () => void): void {
    this.schedule({ at: this.now + afterMs, kind: 'call', label, fn });
  }

  // ---- running ----

  /** Processes one event; false when nothing is scheduled. */
  step(): boolean {
    const e = this.heap.pop();
    if (!e) return false;
    this.now = e.at;
    this.stats.steps++;
    try {
      this.handle(e);
      this.checkLeaders();
      if (this.stats.steps % this.logCheckEvery === 0) this.checkLogMatching();
    } catch (err) {
      if (err instanceof SimViolation) throw err;
      throw this.violation(`exception: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    return true;
  }

  runSteps(n: number): void {
    for (let i = 0; i < n; i++) if (!this.step()) return;
  }

  runUntil(t: number): void {
    for (let e = this.heap.peek(); e && e.at <= t; e = this.heap.peek()) this.step();
    this.now = Math.max(this.now, t);
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  runTicks(ticks: number): void {
    this.runFor(ticks * this.tickMs);
  }

  /** Runs until `done()` (checked every tick) or `maxMs`; the ms it took, or undefined. */
  runUntilTrue(done: () => boolean, maxMs: number): number | undefined {
    const start = this.now;
    while (this.now - start <= maxMs) {
      if (done()) return this.now - start;
      this.runFor(this.tickMs);
    }
    return done() ? this.now - start : undefined;
  }

  /** Proposes at the leader until one write is acknowledged; the proposal, or undefined after maxMs. */
  proposeUntilAcked(maxMs: number, value?: string): Proposal | undefined {
    const start = this.now;
    let p: Proposal | undefined;
    while (this.now - start <= maxMs) {
      if (p && this.isAcked(p.opId)) return p;
      const l = this.leader();
      if (l && (!p || !this.mayStillCommit(p))) p = this.propose(l.id, value);
      this.runFor(this.tickMs);
    }
    return p && this.isAcked(p.opId) ? p : undefined;
  }

  /** Its proposer still leads in its term and still has it: the proposal may yet be acknowledged. */
  private mayStillCommit(p: Proposal): boolean {
    const n = this.get(p.node);
    if (!this.pendingProposals.has(`${p.node}#${p.index}`) || !n.isLeader() || n.raft.term !== p.term) return false;
    return n.raft.log.term(p.index) === p.term;
  }

  // ---- event handling ----

  private schedule(e: Unscheduled): void {
    (e as SimEvent).seq = this.seq++;
    this.heap.push(e as SimEvent);
  }

  private diskDelay(n: SimRaftNode): number {
    const [lo, hi] = this.diskMs;
    return lo + n.rng.int(hi - lo + 1);
  }

  private handle(e: SimEvent): void {
    switch (e.kind) {
      case 'tick': {
        const n = e.node;
        if (n.status !== 'up' || e.inc !== n.incarnation) return;
        n.raft.tick();
        this.schedule({ at: this.now + this.tickMs, kind: 'tick', node: n, inc: n.incarnation });
        this.kick(n);
        return;
      }
      case 'msg':
        this.deliver(e.m, e.fromInc);
        return;
      case 'write': case 'synced': {
        const n = e.node;
        if (n.status !== 'up' || e.inc !== n.incarnation || !n.inflight) return;
        if (e.kind === 'write') this.write(n, n.inflight);
        else this.synced(n, n.inflight);
        return;
      }
      case 'snap-report': {
        const n = e.node;
        if (n.status !== 'up' || e.inc !== n.incarnation) return;
        n.raft.reportSnapshot(e.to, e.ok);
        this.kick(n);
        return;
      }
      case 'call':
        this.note(`call ${e.label}`);
        e.fn();
        for (const n of this.nodes.values()) if (n.status === 'up') this.kick(n);
        return;
    }
  }

  /** Starts processing the next Ready when the server has one and none is in flight. */
  private kick(n: SimRaftNode): void {
    if (n.status !== 'up' || n.inflight || !n.raft.hasReady()) return;
    const rd = n.raft.ready();
    n.inflight = rd;
    if (rd.entries.length > 0) this.checkNewEntries(n, rd.entries);
    if (rd.softState) this.note(`${n.id} ${rd.softState.role} lead=${rd.softState.leader || '-'} term=${n.raft.term}`);
    if (this.knobs.asyncLeaderPersist) {
      // as the runtime does: a leader's appends leave before its own disk write
      const late: Message[] = [];
      for (const m of rd.messages) {
        if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') this.send(n, m);
        else late.push(m);
      }
      rd.messages = late;
    }
    this.schedule({ at: this.now + this.diskDelay(n), kind: 'write', node: n, inc: n.incarnation });
  }

  private writeOp(n: SimRaftNode, op: DiskOp): void {
    applyOp(n.live, op);
    n.pending.push(op);
  }

  private flush(n: SimRaftNode): void {
    for (const op of n.pending) applyOp(n.durable, op);
    n.pending = [];
  }

  private syncs(rd: Ready): boolean {
    return rd.mustSync || (this.syncSnapshots && rd.snapshot !== undefined);
  }

  /**
   * Stage 1: the Ready's snapshot, entries and hard state are written (not
   * yet synced). Without an fsync to wait for, stage 2 follows at once.
   */
  private write(n: SimRaftNode, rd: Ready): void {
    if (rd.snapshot) this.writeOp(n, { kind: 'snap', snap: rd.snapshot });
    if (rd.entries.length > 0) this.writeOp(n, { kind: 'ents', ents: rd.entries });
    if (rd.hardState) this.writeOp(n, { kind: 'hs', hs: rd.hardState });
    if (this.crashAtStage(n, 'written, before fsync')) return;
    if (this.syncs(rd)) this.schedule({ at: this.now + this.diskDelay(n), kind: 'synced', node: n, inc: n.incarnation });
    else this.synced(n, rd);
  }

  /**
   * Stage 2: fsync returned (if the Ready needed one); the messages go out,
   * then the snapshot and the committed entries are applied, reads answered,
   * and the core advanced.
   */
  private synced(n: SimRaftNode, rd: Ready): void {
    if (this.syncs(rd)) this.flush(n);
    for (const m of rd.messages) this.send(n, m);
    if (this.crashAtStage(n, 'sent, before apply')) return;
    if (rd.snapshot) this.restoreFsm(n, rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const rs of rd.readStates) this.readAnswered(n, rs);
    n.raft.advance(rd);
    n.inflight = undefined;
    this.checkConf(n);
    this.maybeSnapshot(n);
    if (this.crashAtStage(n, 'applied')) return;
    this.kick(n);
  }

  private crashAtStage(n: SimRaftNode, stage: string): boolean {
    if (this.stageCrashRate <= 0) return false;
    // a crash matters most while some writes are not synced: be there more often
    const rate = n.pending.length > 0 ? Math.min(1, 20 * this.stageCrashRate) : this.stageCrashRate;
    if (n.rng.next() >= rate) return false;
    this.note(`${n.id} crashes at a Ready stage: ${stage}`);
    this.crash(n.id);
    this.onCrash?.(n, stage);
    return true;
  }

  private maybeSnapshot(n: SimRaftNode): void {
    if (this.snapshotEvery <= 0) return;
    const last = n.live.snapshot().meta.index;
    if (n.fsm.applied - last < this.snapshotEvery) return;
    // a snapshot file is written, fsynced and renamed; the WAL before it is synced too
    this.flush(n);
    const op: DiskOp = {
      kind: 'local-snap', index: n.fsm.applied, conf: n.fsm.conf, data: encodeFsm(n.fsm),
      compactTo: Math.max(0, n.fsm.applied - this.snapshotKeep),
    };
    applyOp(n.live, op);
    applyOp(n.durable, op);
    this.stats.snapshotsCreated++;
    this.note(`${n.id} snapshot at ${n.fsm.applied}, log from ${n.live.firstIndex()}`);
  }

  /**
   * Persist before you acknowledge: an append acknowledged up to i needs i in
   * the durable log (or snapshot), a granted vote needs the vote durable. A
   * Ready that carries such a message without mustSync breaks this.
   * Exception: the server moved to a newer term (durably) since it wrote the
   * message, e.g. a newer leader truncated the entries before they were
   * written; such a stale answer is as harmless as a delayed one, since it
   * can no longer vote or append in the old term.
   */
  private checkDurableAck(n: SimRaftNode, m: Message): void {
    const hs = n.durable.initialState().hardState;
    if (hs.term > m.term) return;
    if (m.type === 'app-resp' && !m.reject) {
      const durableLast = Math.max(n.durable.lastIndex(), n.durable.snapshot().meta.index);
      if (m.index > durableLast) {
        throw this.violation(`durability: ${n.id} acknowledges ${m.index} to ${m.to} in term ${m.term} but its durable log ends at ${durableLast}`);
      }
    } else if (m.type === 'vote-resp' && !m.reject) {
      if (hs.term !== m.term || hs.vote !== m.to) {
        throw this.violation(`durability: ${n.id} grants its vote to ${m.to} in term ${m.term} but its durable hard state is term ${hs.term} vote '${hs.vote}'`);
      }
    }
  }

  private send(from: SimRaftNode, m: Message): void {
    this.checkDurableAck(from, m);
    this.stats.messages++;
    if (m.type === 'snap') this.stats.snapshotsSent++;
    this.onSend?.(m);
    const to = this.nodes.get(m.to);
    const lost = from.rng.next() < this.net.loss;
    const cut = this.cuts.has(`${m.from}>${m.to}`);
    if (!to || lost || cut) {
      this.dropped(m, from.incarnation, cut ? 'cut' : 'lost');
      if (cut && m.type === 'app' && from.rng.next() < this.net.reportUnreachable) from.raft.reportUnreachable(m.to);
      return;
    }
    const copies = from.rng.next() < this.net.dup ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      const [lo, hi] = this.net.delay;
      let d = lo + from.rng.int(hi - lo + 1);
      if (from.rng.next() < this.net.slowRate) d += this.net.slow[0] + from.rng.int(this.net.slow[1] - this.net.slow[0] + 1);
      this.schedule({ at: this.now + d, kind: 'msg', m, fromInc: from.incarnation });
    }
  }

  private dropped(m: Message, fromInc: number, why: string): void {
    this.stats.dropped++;
    if (m.type === 'snap' && this.options.reportSnapshots !== false) {
      // the transport tells the leader the snapshot did not make it
      const from = this.get(m.from);
      this.schedule({ at: this.now + 5, kind: 'snap-report', node: from, inc: fromInc, to: m.to, ok: false });
    }
    if (why === 'cut') this.traceLine([this.now, `drop(cut) ${formatMsg(m)}`]);
  }

  private deliver(m: Message, fromInc: number): void {
    const to = this.nodes.get(m.to);
    if (!to || to.status !== 'up' || this.cuts.has(`${m.from}>${m.to}`)) {
      this.dropped(m, fromInc, 'down');
      return;
    }
    this.traceLine([this.now, m]);
    this.onDeliver?.(m);
    // each delivery gets its own copy: a duplicate must not share entry objects with the first
    const copy: Message = { ...m, entries: m.entries.map((e) => ({ ...e })) };
    to.raft.step(copy);
    if (m.type === 'snap' && this.options.reportSnapshots !== false) {
      this.schedule({ at: this.now + 1, kind: 'snap-report', node: this.get(m.from), inc: fromInc, to: m.to, ok: true });
    }
    this.kick(to);
  }

  // ---- the state machine ----

  private restoreFsm(n: SimRaftNode, s: Snapshot): void {
    if (s.meta.index <= n.fsm.applied) {
      throw this.violation(`${n.id} was handed snapshot ${s.meta.index}/${s.meta.term} but has applied ${n.fsm.applied}`);
    }
    const f = decodeFsm(s);
    const known = this.appliedAt.get(s.meta.index);
    if (known && (known.term !== s.meta.term || known.hash !== f.hash)) {
      throw this.violation(`state machine safety: ${n.id} restored snapshot ${s.meta.index}/${s.meta.term} (hash ${f.hash}) but ${s.meta.index} was applied as term ${known.term} (hash ${known.hash})`);
    }
    n.fsm = f;
    this.stats.snapshotsRestored++;
    // a proposal the snapshot jumped over has an unknown outcome at this server
    for (const [k, p] of this.pendingProposals) if (p.node === n.id && p.index <= s.meta.index) this.pendingProposals.delete(k);
    this.note(`${n.id} restored snapshot ${s.meta.index}/${s.meta.term}`);
    this.onRestore?.(n, s);
  }

  private applyEntry(n: SimRaftNode, e: Entry): void {
    const f = n.fsm;
    if (e.index !== f.applied + 1) {
      throw this.violation(`${n.id} applies ${e.index}/${e.term} after ${f.applied}: entries must be applied in order, each once`);
    }
    const key = entryKey(e);
    const hash = mix(f.hash, `${e.index}/${e.term}|${key.length}|${key.slice(0, 40)}`);
    const known = this.appliedAt.get(e.index);
    if (known) {
      if (known.term !== e.term || known.key !== key) {
        throw this.violation(`state machine safety: ${n.id} applies ${e.index}/${e.term} "${key.slice(0, 60)}" but another server applied ${e.index}/${known.term} "${known.key.slice(0, 60)}"`);
      }
      if (known.hash !== hash) throw this.violation(`state machine safety: ${n.id} reached ${e.index} with a different applied prefix`);
    } else {
      this.appliedAt.set(e.index, { term: e.term, key, hash });
      if (e.index > this.maxApplied) this.maxApplied = e.index;
      if (e.type === 'conf' && e.term > 1) {
        const cc = decodeConfChange(e.data);
        if (cc.type === 'add-learner') this.stats.learnersAdded++;
        else if (cc.type === 'remove') this.stats.removals++;
        else this.stats.promotions++;
      }
    }
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      f.conf = n.raft.applyConfChange(cc);
      this.stats.confChangesApplied++;
      this.note(`${n.id} applied ${cc.type} ${cc.node} at ${e.index}: voters=${f.conf.voters.join(',')} learners=${f.conf.learners.join(',')}`);
    } else if (e.data.length > 0) {
      const op = JSON.parse(key) as KvOp;
      f.kv.set(op.k, op.v);
      f.ids.add(op.id);
    }
    f.applied = e.index;
    f.term = e.term;
    f.hash = hash;
    this.onApply?.(n, e);
    const p = this.pendingProposals.get(`${n.id}#${e.index}`);
    if (p && p.inc === n.incarnation) {
      this.pendingProposals.delete(`${n.id}#${e.index}`);
      if (p.term === e.term && e.type === 'normal' && key !== '' && (JSON.parse(key) as KvOp).id === p.opId) {
        this.acked.push({ node: p.node, opId: p.opId, index: p.index, term: p.term });
        this.stats.acked++;
        if (p.index > this.maxAckedIndex) this.maxAckedIndex = p.index;
      }
    }
  }

  private readAnswered(n: SimRaftNode, rs: ReadState): void {
    const r = this.pendingReads.get(rs.context);
    if (!r || r.node !== n.id || r.inc !== n.incarnation) return;
    this.pendingReads.delete(rs.context);
    if (rs.index < r.minIndex) {
      throw this.violation(`stale read: ${n.id} answered read ${rs.context} at index ${rs.index} but write at ${r.minIndex} was acknowledged before it was asked`);
    }
    this.stats.readsAnswered++;
    this.readsDone.push({ node: n.id, context: rs.context, index: rs.index, minIndex: r.minIndex });
  }

  // ---- invariants ----

  /** Election safety (one leader per term, ever) and leader completeness (checked when a leader appears). */
  private checkLeaders(): void {
    for (const n of this.nodes.values()) {
      if (n.status !== 'up' || !n.core || n.core.role !== 'leader') continue;
      const term = n.core.term;
      if (n.ledTerm === term) continue;
      n.ledTerm = term;
      const seen = this.termLeaders.get(term);
      if (seen !== undefined && seen !== n.id) {
        throw this.violation(`election safety: ${n.id} leads term ${term}, which ${seen} led`);
      }
      if (seen === undefined) {
        this.termLeaders.set(term, n.id);
        this.stats.elections++;
        if (term > this.stats.maxTerm) this.stats.maxTerm = term;
        this.note(`${n.id} became leader of term ${term}`);
      }
      this.checkLeaderCompleteness(n);
    }
  }

  /**
   * Log matching, incrementally: an entry with a given (index, term) has the
   * same content and the same predecessor term in every log it enters (by
   * induction, the same prefix). Every entry a server persists or sends
   * passes through a Ready's entries first, where this runs.
   */
  private checkNewEntries(n: SimRaftNode, ents: Entry[]): void {
    let prevTerm = n.raft.log.term((ents[0] as Entry).index - 1);
    for (const e of ents) {
      const id = e.index * 1e6 + e.term;
      const seen = this.entryIds.get(id);
      if (!seen) {
        this.entryIds.set(id, { type: e.type, data: e.data, prevTerm });
      } else if (seen.prevTerm !== prevTerm || !sameEntry(e, { index: e.index, term: e.term, type: seen.type as Entry['type'], data: seen.data })) {
        throw this.violation(`log matching: ${n.id} holds ${e.index}/${e.term} "${entryKey(e).slice(0, 40)}" after term ${prevTerm}, another log holds ${e.index}/${e.term} "${entryKey({ ...e, type: seen.type as Entry['type'], data: seen.data }).slice(0, 40)}" after term ${seen.prevTerm}`);
      }
      prevTerm = e.term;
    }
  }

  /**
   * The configuration the core uses is the one of the state it has applied
   * (unless it holds a newer snapshot not yet handed out).
   */
  private checkConf(n: SimRaftNode): void {
    const core = n.raft;
    if (core.log.unstable.snapshot !== undefined || core.log.applied !== n.fsm.applied) return;
    const c = core.confState();
    const f = n.fsm.conf;
    if (c.voters.join() !== f.voters.join() || c.learners.join() !== f.learners.join()) {
      throw this.violation(`configuration: ${n.id} uses voters=(${c.voters.join(',')}) learners=(${c.learners.join(',')}) but the configuration at its applied index ${n.fsm.applied} is voters=(${f.voters.join(',')}) learners=(${f.learners.join(',')})`);
    }
  }

  private checkLeaderCompleteness(n: SimRaftNode): void {
    const log = n.raft.log;
    if (log.lastIndex() < this.maxApplied) {
      throw this.violation(`leader completeness: ${n.id} leads term ${n.raft.term} with last index ${log.lastIndex()} < ${this.maxApplied}, which was applied`);
    }
    const first = log.firstIndex();
    if (this.maxApplied < first) return;
    const ents = log.slice(first, this.maxApplied + 1, Number.MAX_SAFE_INTEGER);
    for (const e of ents) {
      const known = this.appliedAt.get(e.index);
      if (known && (known.term !== e.term || known.key !== entryKey(e))) {
        throw this.violation(`leader completeness: ${n.id} leads term ${n.raft.term} with ${e.index}/${e.term} but ${e.index}/${known.term} was applied`);
      }
    }
  }

  /**
   * Log matching: for every two servers, if their logs hold entries with the
   * same index and term, the logs are identical up to there. Running servers
   * are checked on their whole log (storage + unstable), crashed ones on
   * their durable log. O(servers² × log length) per call: the option
   * logCheckEvery trades coverage for speed.
   */
  checkLogMatching(): void {
    this.stats.logChecks++;
    const views: Array<{ id: string; first: number; ents: Entry[] }> = [];
    for (const n of this.nodes.values()) {
      if (n.status === 'idle') continue;
      if (n.status === 'up') {
        const log = n.raft.log;
        const first = log.firstIndex();
        views.push({ id: n.id, first, ents: log.slice(first, log.lastIndex() + 1, Number.MAX_SAFE_INTEGER) });
      } else {
        const first = n.durable.firstIndex();
        const last = n.durable.lastIndex();
        views.push({ id: n.id, first, ents: last >= first ? n.durable.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [] });
      }
    }
    for (let a = 0; a < views.length; a++) {
      for (let b = a + 1; b < views.length; b++) {
        const va = views[a] as (typeof views)[number];
        const vb = views[b] as (typeof views)[number];
        const lo = Math.max(va.first, vb.first);
        const hi = Math.min(va.first + va.ents.length - 1, vb.first + vb.ents.length - 1);
        let top = hi;
        while (top >= lo && (va.ents[top - va.first] as Entry).term !== (vb.ents[top - vb.first] as Entry).term) top--;
        for (let i = lo; i <= top; i++) {
          const ea = va.ents[i - va.first] as Entry;
          const eb = vb.ents[i - vb.first] as Entry;
          if (!sameEntry(ea, eb)) {
            throw this.violation(`log matching: ${va.id} and ${vb.id} agree on ${top}/${(va.ents[top - va.first] as Entry).term} but differ at ${i}: ${ea.index}/${ea.term} "${entryKey(ea).slice(0, 40)}" vs ${eb.index}/${eb.term} "${entryKey(eb).slice(0, 40)}"`);
          }
        }
      }
    }
  }

  /**
   * The end of a run: heal the network, stop losing messages, restart every
   * crashed server; then a leader must commit a new write within
   * `maxLeaderMs`, every member must apply everything the leader committed
   * within `maxCatchUpMs`, and every acknowledged write must be in every
   * member's state machine.
   */
  settle(maxLeaderMs: number, maxCatchUpMs: number): { leaderMs: number; catchUpMs: number } {
    this.heal();
    this.stageCrashRate = 0;
    this.net.loss = 0;
    this.net.dup = 0;
    this.net.slowRate = 0;
    for (const n of this.nodes.values()) if (n.status === 'down') this.restart(n.id);
    const t0 = this.now;
    const p = this.proposeUntilAcked(maxLeaderMs, 'sentinel');
    if (!p) {
      throw this.violation(`liveness: no write was committed within ${maxLeaderMs} ms (${maxLeaderMs / this.tickMs} ticks) of healing; leaders: ${this.leaders().map((l) => `${l.id}@${l.raft.term}`).join(',') || 'none'}`);
    }
    const leaderMs = this.now - t0;
    const t1 = this.now;
    const caughtUp = (): boolean => {
      const l = this.leader();
      if (!l) return false;
      const commit = l.raft.log.committed;
      return l.fsm.applied >= commit && this.members().every((m) => m.status === 'up' && m.fsm.applied >= commit && m.fsm.applied >= p.index);
    };
    if (this.runUntilTrue(caughtUp, maxCatchUpMs) === undefined) {
      const l = this.leader();
      throw this.violation(`liveness: members did not catch up within ${maxCatchUpMs} ms: leader ${l?.id ?? 'none'} commit ${l?.raft.log.committed}; ${this.members().map((m) => `${m.id}:${m.status} applied ${m.fsm.applied}`).join(', ')}`);
    }
    this.checkLogMatching();
    this.checkFinalState();
    return { leaderMs, catchUpMs: this.now - t1 };
  }

  /** Every member holds every acknowledged write, and members at the same index have the same state. */
  checkFinalState(): void {
    const members = this.members();
    for (const m of members) {
      for (const p of this.acked) {
        if (!m.fsm.ids.has(p.opId)) {
          throw this.violation(`lost write: op${p.opId} was acknowledged at ${p.node} (${p.index}/${p.term}) but ${m.id} (applied ${m.fsm.applied}) does not have it`);
        }
      }
      const known = this.appliedAt.get(m.fsm.applied);
      if (known && known.hash !== m.fsm.hash) throw this.violation(`${m.id}'s state at ${m.fsm.applied} differs from the others'`);
    }
  }

  // ---- trace ----

  note(s: string): void {
    this.traceLine([this.now, s]);
  }

  private traceLine(l: [number, string | Message]): void {
    if (this.traceSize <= 0) return;
    if (this.trace.length < this.traceSize) this.trace.push(l);
    else this.trace[this.traceAt] = l;
    this.traceAt = (this.traceAt + 1) % this.traceSize;
  }

  traceTail(): string[] {
    const lines = this.trace.length < this.traceSize ? this.trace : [...this.trace.slice(this.traceAt), ...this.trace.slice(0, this.traceAt)];
    return lines.map(([t, x]) => `  t=${t} ${typeof x === 'string' ? x : formatMsg(x)}`);
  }

  describe(): string {
    return [...this.nodes.values()].filter((n) => n.status !== 'idle').map((n) => {
      if (n.status === 'down') return `  ${n.id}: down (durable last ${n.durable.lastIndex()}, snap ${n.durable.snapshot().meta.index})`;
      const s = n.raft.status();
      return `  ${n.id}: ${s.role} term=${s.term} lead=${s.leader || '-'} commit=${s.commit} applied=${n.fsm.applied} last=${s.lastIndex} first=${n.raft.log.firstIndex()} voters=${s.conf.voters.join(',')}${s.conf.learners.length ? ` learners=${s.conf.learners.join(',')}` : ''}`;
    }).join('\n');
  }

  violation(what: string): SimViolation {
    return new SimViolation(`${what}\nseed=${this.options.seed} step=${this.stats.steps} t=${this.now}ms (replay with SEED=${this.options.seed})\nservers:\n${this.describe()}\ntrace tail:\n${this.traceTail().join('\n')}`);
  }
}

/** The seed for a simulation test: SEED from the environment, else the fallback. */
export function simSeed(fallback: number): number {
  const env = process.env.SEED;
  if (env === undefined || env === '') return fallback;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`SEED must be an integer, not ${env}`);
  return n >>> 0;
}
