import type { Command } from '../state/commands.js';
import type { StateStore } from '../state/store.js';
import type { CheckRow, NodeRow, ServiceRow } from '../state/types.js';
import { systemClock, type Clock } from '../time.js';

/**
 * Where an agent's writes go. A single dev server applies them to its own
 * store; a replicated server proposes them to Raft; a client forwards them to
 * a server. Resolves with the command's result once it is applied, rejects
 * with the MusterError the state machine raised. `name` is the request ID the
 * command is proposed under when it carries none (a fresh one without it):
 * a command proposed again under its name applies at most once.
 */
export interface CommandWriter {
  write(cmd: Command, name?: string): Promise<unknown>;
}

/** What anti-entropy reads of the catalog about its own node. */
export interface CatalogReader {
  node(name: string): Promise<NodeRow | undefined>;
  nodeServices(name: string): Promise<ServiceRow[]>;
  nodeChecks(name: string): Promise<CheckRow[]>;
}

/** Applies commands straight to a local store, assigning the next index: the single-server (dev) mode. */
export class LocalWriter implements CommandWriter {
  constructor(private readonly store: StateStore, private readonly clock: Clock = systemClock) {}

  write(cmd: Command): Promise<unknown> {
    // the proposer stamps the time: lock-delays are measured against it on every replica
    const result = this.store.apply(this.store.index + 1, { ...cmd, at: cmd.at ?? this.clock.now() });
    return result.ok ? Promise.resolve(result.value) : Promise.reject(result.error);
  }
}

/** Reads the catalog from a local store (on servers). */
export class LocalCatalogReader implements CatalogReader {
  constructor(private readonly store: StateStore) {}

  node(name: string): Promise<NodeRow | undefined> {
    return Promise.resolve(this.store.catalog.getNode(name));
  }

  nodeServices(name: string): Promise<ServiceRow[]> {
    return Promise.resolve(this.store.catalog.nodeServices(name).value?.services ?? []);
  }

  nodeChecks(name: string): Promise<CheckRow[]> {
    return Promise.resolve(this.store.catalog.nodeChecks(name).value);
  }
}
