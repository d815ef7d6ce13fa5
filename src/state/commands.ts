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

export type Command = RegisterCommand | DeregisterCommand;

export type CommandType = Command['type'];
