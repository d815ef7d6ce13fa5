import type { Logger } from '../log.js';
import type { Command, CheckInput, ServiceInput } from '../state/commands.js';
import type { CheckRow, ServiceRow } from '../state/types.js';
import { checkTypeOf, type ServiceDefinition } from './definition.js';
import type { LocalCheck, LocalState } from './local-state.js';
import type { CatalogReader, CommandWriter } from './writer.js';
import { errorMessage } from '../errors.js';

export interface SelfNode {
  node: string;
  id: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
}

/** Catalog entries on our node that anti-entropy must leave alone (owned by the leader). */
const LEADER_OWNED_CHECKS = new Set(['serfHealth']);
const LEADER_OWNED_SERVICES = new Set(['consul']);

/**
 * Keeps the catalog's view of this node equal to the agent's local state:
 * registers what is missing or different, removes what the agent does not
 * own. Every local change triggers a sync; syncs never overlap and coalesce
 * (a change during a sync runs one more); a failed sync is retried by the
 * next trigger or the periodic full sync, so nothing is lost while the
 * servers are away.
 */
export class AntiEntropy {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Consecutive failed syncs, for logging once per outage rather than per attempt. */
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly self: SelfNode,
    private readonly local: LocalState,
    private readonly reader: CatalogReader,
    private readonly writer: CommandWriter,
    private readonly log: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => { void this.trigger(); }, intervalMs);
    this.timer.unref();
    void this.trigger();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    this.timer = undefined;
    this.retry = undefined;
    this.stopped = true;
  }

  /** Asks for a sync; returns a promise that settles when the catalog reflects every change made before the call. */
  trigger(): Promise<void> {
    this.again = true;
    this.running ??= this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.again) {
        this.again = false;
        try {
          await this.syncOnce();
          if (this.failures > 0) this.log.info({ attempts: this.failures }, 'catalog sync recovered');
          this.failures = 0;
        } catch (err) {
          if (this.failures === 0) this.log.warn({ err: errorMessage(err) }, 'catalog sync failed; will retry');
          this.failures++;
          // retry on our own, doubling from 1 s to 30 s, so a change is not left waiting for the periodic sync
          if (!this.stopped && !this.retry) {
            const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
            this.retry = setTimeout(() => { this.retry = undefined; void this.trigger(); }, delay);
            this.retry.unref();
          }
          return;
        }
      }
    } finally {
      // Cleared in the same step that decides to stop: a trigger that comes
      // after this starts a new loop instead of joining one that has ended
      // (a `.finally()` on the promise would run a few microtasks later, and
      // a change made in between would resolve its trigger unsynced).
      this.running = undefined;
    }
  }

  /** One full comparison of local state with the catalog. */
  async syncOnce(): Promise<void> {
    const name = this.self.node;
    const [node, services, checks] = await Promise.all([
      this.reader.node(name), this.reader.nodeServices(name), this.reader.nodeChecks(name),
    ]);
    if (!node || node.address !== this.self.address) await this.writer.write(this.nodeCommand(false));

    const catalogServices = new Map(services.map((s) => [s.id, s]));
    const catalogChecks = new Map(checks.map((c) => [c.checkId, c]));

    for (const s of services) {
      if (!this.local.services.has(s.id) && !LEADER_OWNED_SERVICES.has(s.id)) {
        await this.writer.write({ type: 'deregister', node: name, serviceId: s.id });
        for (const c of checks) if (c.serviceId === s.id) catalogChecks.delete(c.checkId);
      }
    }
    for (const c of catalogChecks.values()) {
      if (!this.local.checks.has(c.checkId) && !LEADER_OWNED_CHECKS.has(c.checkId)) {
        await this.writer.write({ type: 'deregister', node: name, checkId: c.checkId });
      }
    }
    for (const def of this.local.services.values()) {
      const row = catalogServices.get(def.id);
      if (row && def.enableTagOverride && !sameTags(row.tags, def.tags)) def.tags = [...row.tags];
      const svcChecks = [...this.local.checks.values()].filter((c) => c.def.serviceId === def.id);
      const checksStale = svcChecks.some((c) => !sameCheck(catalogChecks.get(c.def.checkId), c));
      if (!row || !sameService(row, def) || checksStale) {
        await this.writer.write({ ...this.nodeCommand(true), service: serviceInput(def), checks: svcChecks.map(checkInput) });
      }
    }
    for (const c of this.local.checks.values()) {
      if (c.def.serviceId) continue; // written with its service above
      if (!sameCheck(catalogChecks.get(c.def.checkId), c)) {
        await this.writer.write({ ...this.nodeCommand(true), checks: [checkInput(c)] });
      }
    }
  }

  private nodeCommand(skipNodeUpdate: boolean): Command & { type: 'register' } {
    return {
      type: 'register', node: this.self.node, id: this.self.id, address: this.self.address,
      datacenter: this.self.datacenter, taggedAddresses: this.self.taggedAddresses, nodeMeta: this.self.meta,
      skipNodeUpdate, checks: [],
    };
  }
}

export function serviceInput(def: ServiceDefinition): ServiceInput {
  return {
    id: def.id, service: def.name, tags: [...def.tags], address: def.address, port: def.port,
    meta: { ...def.meta }, weights: { ...def.weights }, enableTagOverride: def.enableTagOverride,
  };
}

export function checkInput(c: LocalCheck): CheckInput {
  const d = c.def;
  const definition: CheckInput['definition'] = {};
  if (d.http !== undefined) definition.http = d.http;
  if (d.tcp !== undefined) definition.tcp = d.tcp;
  if (d.intervalMs !== undefined) definition.intervalMs = d.intervalMs;
  if (d.timeoutMs !== undefined) definition.timeoutMs = d.timeoutMs;
  if (d.ttlMs !== undefined) definition.ttlMs = d.ttlMs;
  if (d.deregisterCriticalServiceAfterMs !== undefined) definition.deregisterCriticalServiceAfterMs = d.deregisterCriticalServiceAfterMs;
  return {
    checkId: d.checkId, name: d.name, status: c.status, notes: d.notes ?? '', output: c.output,
    serviceId: d.serviceId, type: checkTypeOf(d), definition,
  };
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameService(row: ServiceRow, def: ServiceDefinition): boolean {
  return row.service === def.name && row.address === def.address && row.port === def.port
    && row.enableTagOverride === def.enableTagOverride && sameTags(row.tags, def.tags)
    && JSON.stringify(Object.entries(row.meta).sort()) === JSON.stringify(Object.entries(def.meta).sort())
    && row.weights.passing === def.weights.passing && row.weights.warning === def.weights.warning;
}

function sameCheck(row: CheckRow | undefined, c: LocalCheck): boolean {
  if (!row) return false;
  const want = checkInput(c);
  return row.name === want.name && row.status === want.status && row.output === want.output
    && row.notes === want.notes && row.serviceId === want.serviceId && row.type === want.type
    && JSON.stringify(Object.entries(row.definition).sort()) === JSON.stringify(Object.entries(want.definition).sort());
}
