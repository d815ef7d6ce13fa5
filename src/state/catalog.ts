import { MusterError } from '../errors.js';
import type { DeregisterCommand, RegisterCommand, CheckInput } from './commands.js';
import type { CheckRow, Indexed, NodeRow, ServiceRow } from './types.js';
import type { HealthStatus } from '../agent/definition.js';

/** Table names whose indexes blocking queries read. `service.<name>` covers one service name. */
export const TABLE = { nodes: 'nodes', services: 'services', checks: 'checks' } as const;
const serviceTable = (name: string) => `service.${name}`;

/** A service instance with its node and every check that bears on its health. */
export interface ServiceHealth {
  node: NodeRow;
  service: ServiceRow;
  checks: CheckRow[];
}

/** What the catalog tells about changes: which sessions must be invalidated, etc. */
export interface CatalogChange {
  removedNodes: string[];
  removedChecks: Array<{ node: string; checkId: string }>;
  criticalChecks: Array<{ node: string; checkId: string }>;
}

/**
 * The catalog tables: nodes, services and checks, with Consul's index rules.
 * Pure and deterministic: the same commands at the same indexes give the same
 * rows. Writes validate everything before touching a table, so a rejected
 * command changes nothing.
 */
export class Catalog {
  private readonly nodes = new Map<string, NodeRow>();
  private readonly services = new Map<string, Map<string, ServiceRow>>();
  private readonly checks = new Map<string, Map<string, CheckRow>>();
  private readonly indexes = new Map<string, number>();

  // ---- writes ----

  register(idx: number, cmd: RegisterCommand): CatalogChange {
    const change: CatalogChange = { removedNodes: [], removedChecks: [], criticalChecks: [] };
    if (!cmd.node) throw new MusterError('ERR_BAD_REQUEST', 'Must provide node');
    const existing = this.nodes.get(cmd.node);
    if (!existing && !cmd.address) throw new MusterError('ERR_BAD_REQUEST', 'Must provide address');
    if (cmd.service && !cmd.service.service) throw new MusterError('ERR_MISSING_SERVICE_NAME', 'Must provide service name');
    const services = this.services.get(cmd.node);
    for (const check of cmd.checks) {
      if (!check.checkId) throw new MusterError('ERR_BAD_REQUEST', 'Missing check ID');
      if (check.serviceId && check.serviceId !== cmd.service?.id && !services?.has(check.serviceId)) {
        throw new MusterError('ERR_BAD_REQUEST', `Unknown service ID '${check.serviceId}' for check ID '${check.checkId}'`);
      }
    }

    // node
    let nodeChanged = false;
    if (!existing) {
      this.nodes.set(cmd.node, {
        id: cmd.id, node: cmd.node, address: cmd.address, datacenter: cmd.datacenter,
        taggedAddresses: { ...cmd.taggedAddresses }, meta: { ...cmd.nodeMeta }, createIndex: idx, modifyIndex: idx,
      });
      nodeChanged = true;
    } else if (!cmd.skipNodeUpdate) {
      const next: NodeRow = {
        ...existing,
        id: cmd.id || existing.id,
        address: cmd.address || existing.address,
        datacenter: cmd.datacenter || existing.datacenter,
        taggedAddresses: { ...cmd.taggedAddresses },
        meta: { ...cmd.nodeMeta },
      };
      if (!sameNode(existing, next)) {
        next.modifyIndex = idx;
        this.nodes.set(cmd.node, next);
        nodeChanged = true;
      }
    }
    if (nodeChanged) {
      this.bump(TABLE.nodes, idx);
      // node rows are part of every health/catalog answer about its services
      for (const s of this.services.get(cmd.node)?.values() ?? []) this.bump(serviceTable(s.service), idx);
    }

    // service
    if (cmd.service) {
      const table = this.servicesOf(cmd.node);
      const prev = table.get(cmd.service.id);
      const row: ServiceRow = {
        node: cmd.node, ...cmd.service, tags: [...cmd.service.tags], meta: { ...cmd.service.meta },
        weights: { ...cmd.service.weights }, createIndex: prev?.createIndex ?? idx, modifyIndex: idx,
      };
      if (!prev || !sameService(prev, row)) {
        table.set(row.id, row);
        this.bump(TABLE.services, idx);
        this.bump(serviceTable(row.service), idx);
        if (prev && prev.service !== row.service) this.bump(serviceTable(prev.service), idx);
        // checks carry the service's name and tags
        for (const c of this.checks.get(cmd.node)?.values() ?? []) {
          if (c.serviceId === row.id && (c.serviceName !== row.service || !sameList(c.serviceTags, row.tags))) {
            c.serviceName = row.service; c.serviceTags = [...row.tags]; c.modifyIndex = idx;
            this.bump(TABLE.checks, idx);
          }
        }
      }
    }

    // checks
    for (const input of cmd.checks) {
      const becameCritical = this.upsertCheck(idx, cmd.node, input);
      if (becameCritical) change.criticalChecks.push({ node: cmd.node, checkId: input.checkId });
    }
    return change;
  }

  deregister(idx: number, cmd: DeregisterCommand): CatalogChange {
    const change: CatalogChange = { removedNodes: [], removedChecks: [], criticalChecks: [] };
    if (!cmd.node) throw new MusterError('ERR_BAD_REQUEST', 'Must provide node');
    if (!this.nodes.has(cmd.node)) return change;
    if (cmd.serviceId !== undefined && cmd.serviceId !== '') {
      this.removeService(idx, cmd.node, cmd.serviceId, change);
    } else if (cmd.checkId !== undefined && cmd.checkId !== '') {
      this.removeCheck(idx, cmd.node, cmd.checkId, change);
    } else {
      for (const id of [...(this.services.get(cmd.node)?.keys() ?? [])]) this.removeService(idx, cmd.node, id, change);
      for (const id of [...(this.checks.get(cmd.node)?.keys() ?? [])]) this.removeCheck(idx, cmd.node, id, change);
      this.nodes.delete(cmd.node);
      this.services.delete(cmd.node);
      this.checks.delete(cmd.node);
      this.bump(TABLE.nodes, idx);
      change.removedNodes.push(cmd.node);
    }
    return change;
  }

  private upsertCheck(idx: number, node: string, input: CheckInput): boolean {
    const table = this.checksOf(node);
    const prev = table.get(input.checkId);
    const svc = input.serviceId ? this.services.get(node)?.get(input.serviceId) : undefined;
    const row: CheckRow = {
      node, checkId: input.checkId, name: input.name, status: input.status, notes: input.notes,
      output: input.output, serviceId: input.serviceId, serviceName: svc?.service ?? '',
      serviceTags: svc ? [...svc.tags] : [], type: input.type, definition: { ...input.definition },
      createIndex: prev?.createIndex ?? idx, modifyIndex: idx,
    };
    if (prev && sameCheck(prev, row)) return false;
    table.set(row.checkId, row);
    this.bump(TABLE.checks, idx);
    this.bumpForCheck(idx, node, row.serviceId);
    if (prev && prev.serviceId !== row.serviceId) this.bumpForCheck(idx, node, prev.serviceId);
    return row.status === 'critical' && prev?.status !== 'critical';
  }

  private removeService(idx: number, node: string, serviceId: string, change: CatalogChange): void {
    const table = this.services.get(node);
    const row = table?.get(serviceId);
    if (!table || !row) return;
    for (const c of [...(this.checks.get(node)?.values() ?? [])]) {
      if (c.serviceId === serviceId) this.removeCheck(idx, node, c.checkId, change);
    }
    table.delete(serviceId);
    this.bump(TABLE.services, idx);
    this.bump(serviceTable(row.service), idx);
  }

  private removeCheck(idx: number, node: string, checkId: string, change: CatalogChange): void {
    const table = this.checks.get(node);
    const row = table?.get(checkId);
    if (!table || !row) return;
    table.delete(checkId);
    this.bump(TABLE.checks, idx);
    this.bumpForCheck(idx, node, row.serviceId);
    change.removedChecks.push({ node, checkId });
  }

  /** A service check changes that service's answers; a node check changes every service on the node. */
  private bumpForCheck(idx: number, node: string, serviceId: string): void {
    const services = this.services.get(node);
    if (!services) return;
    if (serviceId) {
      const s = services.get(serviceId);
      if (s) this.bump(serviceTable(s.service), idx);
    } else {
      for (const s of services.values()) this.bump(serviceTable(s.service), idx);
    }
  }

  private bump(table: string, idx: number): void {
    this.indexes.set(table, idx);
  }

  private servicesOf(node: string): Map<string, ServiceRow> {
    let m = this.services.get(node);
    if (!m) { m = new Map(); this.services.set(node, m); }
    return m;
  }

  private checksOf(node: string): Map<string, CheckRow> {
    let m = this.checks.get(node);
    if (!m) { m = new Map(); this.checks.set(node, m); }
    return m;
  }

  // ---- reads ----

  tableIndex(...tables: string[]): number {
    let max = 0;
    for (const t of tables) max = Math.max(max, this.indexes.get(t) ?? 0);
    return max;
  }

  getNode(name: string): NodeRow | undefined {
    return this.nodes.get(name);
  }

  nodeList(): Indexed<NodeRow[]> {
    const value = [...this.nodes.values()].sort((a, b) => cmp(a.node, b.node));
    return { index: this.tableIndex(TABLE.nodes), value };
  }

  /** Service name → deduplicated tags, over the whole catalog. */
  serviceNames(): Indexed<Map<string, string[]>> {
    const out = new Map<string, Set<string>>();
    for (const table of this.services.values()) {
      for (const s of table.values()) {
        let tags = out.get(s.service);
        if (!tags) { tags = new Set(); out.set(s.service, tags); }
        for (const t of s.tags) tags.add(t);
      }
    }
    const value = new Map([...out.entries()].sort((a, b) => cmp(a[0], b[0])).map(([k, v]) => [k, [...v].sort(cmp)]));
    return { index: this.tableIndex(TABLE.services), value };
  }

  /** Instances of one service, optionally filtered by tags (all must match, case-insensitively). */
  serviceInstances(name: string, tags: string[] = []): Indexed<Array<{ node: NodeRow; service: ServiceRow }>> {
    const value: Array<{ node: NodeRow; service: ServiceRow }> = [];
    for (const [nodeName, table] of this.services) {
      const node = this.nodes.get(nodeName);
      if (!node) continue;
      for (const s of table.values()) {
        if (s.service === name && hasTags(s, tags)) value.push({ node, service: s });
      }
    }
    value.sort((a, b) => cmp(a.node.node, b.node.node) || cmp(a.service.id, b.service.id));
    return { index: this.serviceIndex(name), value };
  }

  /** Index for answers about one service name (falls back to the services table, as Consul). */
  serviceIndex(name: string): number {
    return this.indexes.get(serviceTable(name)) ?? this.tableIndex(TABLE.services);
  }

  nodeServices(name: string): Indexed<{ node: NodeRow; services: ServiceRow[] } | undefined> {
    const index = this.tableIndex(TABLE.nodes, TABLE.services);
    const node = this.nodes.get(name);
    if (!node) return { index, value: undefined };
    const services = [...(this.services.get(name)?.values() ?? [])].sort((a, b) => cmp(a.id, b.id));
    return { index, value: { node, services } };
  }

  nodeChecks(name: string): Indexed<CheckRow[]> {
    const value = [...(this.checks.get(name)?.values() ?? [])].sort((a, b) => cmp(a.checkId, b.checkId));
    return { index: this.tableIndex(TABLE.checks), value };
  }

  getCheck(node: string, checkId: string): CheckRow | undefined {
    return this.checks.get(node)?.get(checkId);
  }

  serviceChecks(name: string): Indexed<CheckRow[]> {
    const value: CheckRow[] = [];
    for (const table of this.checks.values()) {
      for (const c of table.values()) if (c.serviceName === name && c.serviceId) value.push(c);
    }
    value.sort((a, b) => cmp(a.node, b.node) || cmp(a.checkId, b.checkId));
    return { index: this.serviceIndex(name), value };
  }

  checksInState(state: HealthStatus | 'any'): Indexed<CheckRow[]> {
    const value: CheckRow[] = [];
    for (const table of this.checks.values()) {
      for (const c of table.values()) if (state === 'any' || c.status === state) value.push(c);
    }
    value.sort((a, b) => cmp(a.node, b.node) || cmp(a.checkId, b.checkId));
    return { index: this.tableIndex(TABLE.checks), value };
  }

  serviceHealth(name: string, tags: string[] = []): Indexed<ServiceHealth[]> {
    const inst = this.serviceInstances(name, tags);
    const value = inst.value.map(({ node, service }) => {
      const checks = [...(this.checks.get(node.node)?.values() ?? [])]
        .filter((c) => c.serviceId === '' || c.serviceId === service.id)
        .sort((a, b) => cmp(a.checkId, b.checkId));
      return { node, service, checks };
    });
    return { index: Math.max(inst.index, 1), value };
  }

  /** Every row, for snapshots and tests. */
  dump(): { nodes: NodeRow[]; services: ServiceRow[]; checks: CheckRow[]; indexes: Array<[string, number]> } {
    return {
      nodes: [...this.nodes.values()],
      services: [...this.services.values()].flatMap((m) => [...m.values()]),
      checks: [...this.checks.values()].flatMap((m) => [...m.values()]),
      indexes: [...this.indexes.entries()],
    };
  }

  /** Replaces every row and table index with a snapshot's (rows are taken as they are). */
  restore(tables: { nodes: NodeRow[]; services: ServiceRow[]; checks: CheckRow[]; indexes: Array<[string, number]> }): void {
    this.nodes.clear();
    this.services.clear();
    this.checks.clear();
    this.indexes.clear();
    for (const n of tables.nodes) this.nodes.set(n.node, n);
    for (const s of tables.services) this.servicesOf(s.node).set(s.id, s);
    for (const c of tables.checks) this.checksOf(c.node).set(c.checkId, c);
    for (const [table, idx] of tables.indexes) this.indexes.set(table, idx);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasTags(s: ServiceRow, tags: string[]): boolean {
  if (tags.length === 0) return true;
  const have = new Set(s.tags.map((t) => t.toLowerCase()));
  return tags.every((t) => have.has(t.toLowerCase()));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameRecord(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

function sameNode(a: NodeRow, b: NodeRow): boolean {
  return a.id === b.id && a.address === b.address && a.datacenter === b.datacenter
    && sameRecord(a.taggedAddresses, b.taggedAddresses) && sameRecord(a.meta, b.meta);
}

function sameService(a: ServiceRow, b: ServiceRow): boolean {
  return a.service === b.service && a.address === b.address && a.port === b.port
    && a.enableTagOverride === b.enableTagOverride && sameList(a.tags, b.tags) && sameRecord(a.meta, b.meta)
    && a.weights.passing === b.weights.passing && a.weights.warning === b.weights.warning;
}

function sameCheck(a: CheckRow, b: CheckRow): boolean {
  return a.name === b.name && a.status === b.status && a.notes === b.notes && a.output === b.output
    && a.serviceId === b.serviceId && a.serviceName === b.serviceName && sameList(a.serviceTags, b.serviceTags)
    && a.type === b.type && sameRecord(a.definition as Record<string, unknown>, b.definition as Record<string, unknown>);
}
