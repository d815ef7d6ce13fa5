/**
 * The data the Raft core speaks: log entries, persistent state, messages and
 * the Ready batch it hands to its runtime. Nothing here does I/O; the
 * library imports nothing from the rest of `src/`.
 */

/** A server's stable identity in the Raft configuration (the agent's node ID). */
export type NodeId = string;

/** 'normal' carries a state-machine command (empty data: the leader's no-op); 'conf' a ConfChange. */
export type EntryType = 'normal' | 'conf';

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before any message that depends on it is sent. vote '' = none. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: '', commit: 0 });

/** Who votes and who only follows. A node is in at most one list. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/** One change at a time: add a voter, add a learner (non-voting, catches up), promote by adding as voter, or remove. */
export interface ConfChange {
  type: 'add-voter' | 'add-learner' | 'remove';
  node: NodeId;
  /** Opaque to the core (the runtime keeps the node's address here). */
  context: string;
}

/**
 * Message types. Local ones never cross the network: 'hup' (start an
 * election), 'beat' (leader: send heartbeats), 'prop' (propose; also
 * forwarded from followers), 'unreachable' and 'snap-status' (transport
 * feedback), 'check-quorum', 'transfer-leader' and 'read-index' (asked
 * locally or forwarded to the leader). The values are part of the wire
 * protocol: only append.
 */
export const MESSAGE_TYPES = [
  'hup', 'beat', 'prop', 'app', 'app-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp',
  'snap', 'heartbeat', 'heartbeat-resp', 'unreachable', 'snap-status', 'check-quorum',
  'transfer-leader', 'timeout-now', 'read-index', 'read-index-resp',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry before `entries`; vote: candidate's last log term. */
  logTerm: number;
  /** app: index before `entries`; app-resp: last matching index (or the rejected index); vote: candidate's last index; read-index-resp: the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** app-resp on reject: the follower's last index, a hint where to probe. */
  rejectHint: number;
  snapshot?: Snapshot;
  /** read-index / heartbeat: the request's context, echoed back; vote: 'transfer' for a leadership transfer. */
  context: string;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A read is safe to serve once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * What the runtime must do, in this order: persist `hardState`, `entries`
 * and `snapshot` (one fsync when `mustSync`), then send `messages`, then
 * apply `snapshot` and `committedEntries` to the state machine and answer
 * `readStates`, then call `advance()`.
 */
export interface Ready {
  softState: SoftState | undefined;
  hardState: HardState | undefined;
  entries: Entry[];
  snapshot: Snapshot | undefined;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  mustSync: boolean;
}

/** A blank message; fill the fields that matter. */
export function message(type: MessageType, from: NodeId, to: NodeId, term: number, rest: Partial<Message> = {}): Message {
  return { type, from, to, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: '', ...rest };
}

export function isLocal(type: MessageType): boolean {
  return type === 'hup' || type === 'beat' || type === 'unreachable' || type === 'snap-status' || type === 'check-quorum';
}

export function isResponse(type: MessageType): boolean {
  return type === 'app-resp' || type === 'vote-resp' || type === 'pre-vote-resp' || type === 'heartbeat-resp' || type === 'read-index-resp';
}
