import type { NodeId } from './types.js';

/** Where the core reports what it decided; the runtime passes its logger. */
export interface RaftLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

export const silentRaftLogger: RaftLogger = { info() {}, warn() {}, debug() {} };

/**
 * The core's knobs. Time is counted in ticks (calls to `tick()`); the runtime
 * decides how long a tick is. Default values live in the agent's config.
 */
export interface RaftConfig {
  /** This server's identity; must be non-empty. */
  id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower starts an election.
   * The actual timeout is randomized in [electionTicks, 2×electionTicks) so
   * that candidates rarely split the vote. Must exceed heartbeatTicks
   * (10× is usual).
   */
  electionTicks: number;
  /** Ticks between a leader's heartbeats. At least 1. */
  heartbeatTicks: number;
  /** Upper bound in bytes of the entries in one append message; 0 = one entry per message. */
  maxSizePerMsg: number;
  /** Append messages in flight to one follower while replicating (the pipeline window). At least 1. */
  maxInflight: number;
  /** Upper bound in bytes of committed entries handed out in one Ready; 0 = no limit. */
  maxCommittedSizePerReady: number;
  /**
   * Pre-vote: a would-be candidate first asks whether it could win, without
   * raising its term, so a node that was partitioned away cannot depose a
   * healthy leader when it comes back.
   */
  preVote: boolean;
  /**
   * Check-quorum: a leader that has not heard from a majority within an
   * election timeout steps down; followers that heard from a leader within
   * the timeout ignore vote requests (leader lease).
   */
  checkQuorum: boolean;
  /**
   * The leader counts its own log towards a quorum only once the runtime
   * reports it persisted (advance), not when it appends. The runtime may then
   * send a Ready's appends (app, heartbeat, snap) before its own fsync, so the
   * leader's and the followers' disk writes overlap (Raft thesis §10.2.1).
   * Off: the leader counts an entry as soon as it appends it, so the runtime
   * must persist before sending anything.
   */
  asyncLeaderPersist?: boolean;
  /** Last index applied to the state machine before a restart (0 for a fresh one). */
  applied: number;
  /** Uniform in [0, 1): drives the randomized election timeout. Seeded in simulations. */
  random: () => number;
  logger?: RaftLogger;
}

/** Rejects impossible combinations with a one-line reason. */
export function validateRaftConfig(c: RaftConfig): RaftConfig {
  const bad = (why: string): never => { throw new Error(`invalid raft config: ${why}`); };
  if (!c.id) bad('id must be non-empty');
  if (!Number.isInteger(c.heartbeatTicks) || c.heartbeatTicks < 1) bad('heartbeatTicks must be an integer >= 1');
  if (!Number.isInteger(c.electionTicks) || c.electionTicks <= c.heartbeatTicks) bad('electionTicks must be an integer greater than heartbeatTicks');
  if (!Number.isInteger(c.maxInflight) || c.maxInflight < 1) bad('maxInflight must be an integer >= 1');
  if (c.maxSizePerMsg < 0 || c.maxCommittedSizePerReady < 0) bad('size limits must be >= 0');
  if (!Number.isInteger(c.applied) || c.applied < 0) bad('applied must be an integer >= 0');
  return c;
}
