import type { CheckInput, ServiceInput } from './commands.js';

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

/** A service as registered (the command's `ServiceInput`), on its node, with indexes. */
export interface ServiceRow extends ServiceInput {
  node: string;
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

/** A check as registered (the command's `CheckInput`), on its node, with its service's name and tags, and indexes. */
export interface CheckRow extends CheckInput {
  node: string;
  serviceName: string;
  serviceTags: string[];
  createIndex: number;
  modifyIndex: number;
}

/** A query answer and the index a blocking query compares against. */
export interface Indexed<T> {
  index: number;
  value: T;
}
