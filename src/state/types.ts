import type { HealthStatus, Weights, CheckType } from '../agent/definition.js';

/**
 * Rows of the replicated catalog. camelCase inside Muster; `http/` turns them
 * into Consul's PascalCase JSON. Every row carries the Raft-style index of the
 * command that created it and of the one that last changed it.
 */
export interface NodeRow {
  id: string;
  node: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
  createIndex: number;
  modifyIndex: number;
}

export interface ServiceRow {
  node: string;
  id: string;
  service: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: Weights;
  enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

/** What a check row keeps of its definition, for `Definition` in the API. */
export interface CheckRowDefinition {
  http?: string;
  tcp?: string;
  intervalMs?: number;
  timeoutMs?: number;
  ttlMs?: number;
  deregisterCriticalServiceAfterMs?: number;
}

export interface CheckRow {
  node: string;
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  serviceId: string;
  serviceName: string;
  serviceTags: string[];
  type: CheckType;
  definition: CheckRowDefinition;
  createIndex: number;
  modifyIndex: number;
}

/** A query answer and the index a blocking query compares against. */
export interface Indexed<T> {
  index: number;
  value: T;
}
