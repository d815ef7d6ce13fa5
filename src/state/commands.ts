import type { HealthStatus, Weights, CheckType } from '../agent/definition.js';
import type { CheckRowDefinition } from './types.js';

/**
 * Every write to the replicated state is one of these plain, serialisable
 * commands, applied in log order by the state machine. The wire tag `type` is
 * part of the persisted log format: only add new types, never renumber or
 * rename existing ones.
 */
export interface ServiceInput {
  id: string;
  service: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: Weights;
  enableTagOverride: boolean;
}

export interface CheckInput {
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  serviceId: string;
  type: CheckType;
  definition: CheckRowDefinition;
}

/** Consul's RegisterRequest: upsert a node, and optionally one service and checks on it. */
export interface RegisterCommand {
  type: 'register';
  node: string;
  id: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  nodeMeta: Record<string, string>;
  /** Leave an existing node row as it is (the node is only created if missing). */
  skipNodeUpdate: boolean;
  service?: ServiceInput;
  checks: CheckInput[];
}

/** Consul's DeregisterRequest: the node, or one service (and its checks), or one check. */
export interface DeregisterCommand {
  type: 'deregister';
  node: string;
  serviceId?: string;
  checkId?: string;
}

/** KV verbs that write (the HTTP API's PUT/DELETE and txn's write verbs). */
export type KvWriteVerb = 'set' | 'cas' | 'lock' | 'unlock' | 'delete' | 'delete-cas' | 'delete-tree';
/** Read and check verbs, only inside a transaction. */
export type KvReadVerb = 'get' | 'get-tree' | 'check-index' | 'check-session' | 'check-not-exists';

export interface KvOp {
  verb: KvWriteVerb | KvReadVerb;
  key: string;
  /** Base64 of the value (commands stay JSON-serialisable for the log). */
  value?: string;
  /** uint64 as a decimal string. */
  flags?: string;
  /** cas / delete-cas / check-index: the ModifyIndex to compare. */
  index?: number;
  /** lock / unlock / check-session. */
  session?: string;
}

export interface KvCommand extends KvOp {
  type: 'kv';
  verb: KvWriteVerb;
}

/** All or nothing: every op applies, or none does and the errors are reported. */
export interface TxnCommand {
  type: 'txn';
  ops: KvOp[];
}

export interface SessionInput {
  id: string;
  name: string;
  node: string;
  nodeChecks: string[];
  serviceChecks: Array<{ id: string; namespace: string }>;
  lockDelayMs: number;
  behavior: 'release' | 'delete';
  ttl: string;
}

export interface SessionCreateCommand {
  type: 'session-create';
  session: SessionInput;
}

/** Invalidation: an explicit destroy, or a TTL that ran out (decided on the leader, written here). */
export interface SessionDestroyCommand {
  type: 'session-destroy';
  id: string;
}

export type Command = (RegisterCommand | DeregisterCommand | KvCommand | TxnCommand | SessionCreateCommand | SessionDestroyCommand) & {
  /**
   * The proposer's clock (ms) when the command was made. Lock-delays are
   * measured against it, so every replica decides the same way.
   */
  at?: number;
  /**
   * The proposer's unique ID for this request. A command whose ID was applied
   * in the last two minutes is not applied again: its first outcome is
   * returned, so a write retried after a lost answer takes effect once.
   */
  rid?: string;
};

export type CommandType = Command['type'];
