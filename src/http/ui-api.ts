import type { Router } from './router.js';
import { checkDatacenter, indexHeaders, type RouteDeps } from './context.js';
import { blockingQuery } from './blocking-query.js';
import { json } from './response.js';
import { checkJson, nodeJson, serviceJson } from './wire.js';
import type { CheckRow, Indexed, NodeRow, ServiceRow } from '../state/types.js';
import type { Catalog } from '../state/catalog.js';

/** One row of `/v1/internal/ui/services` (Consul's `ServiceSummary`, without Connect fields). */
export interface ServiceSummary {
  Name: string;
  Datacenter: string;
  Tags: string[];
  Nodes: string[];
  ExternalSources: string[];
  InstanceCount: number;
  ChecksPassing: number;
  ChecksWarning: number;
  ChecksCritical: number;
}

/**
 * `/v1/internal/ui/*`: the summaries Consul's web UI reads, so a list of
 * 1,000 services is one request instead of one per service. Answers block
 * on `?index` like the rest of the API.
 */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store, feed, limits } = deps;
  const dc = agent.config.datacenter;
  const catalog = store.catalog;

  router.add('GET', '/v1/internal/ui/services', async (req) => {
    checkDatacenter(req, dc);
    const r = await blockingQuery(req, feed, limits, () => withCatalogIndex(catalog, serviceSummaries(catalog.dump(), dc)));
    return json(r.value, indexHeaders(r.index));
  });

  router.add('GET', '/v1/internal/ui/nodes', async (req) => {
    checkDatacenter(req, dc);
    const r = await blockingQuery(req, feed, limits, () => withCatalogIndex(catalog, nodeDumps(catalog.dump(), dc)));
    return json(r.value, indexHeaders(r.index));
  });

  router.add('GET', '/v1/internal/ui/node/:node', async (req) => {
    checkDatacenter(req, dc);
    const name = req.params.node ?? '';
    const r = await blockingQuery(req, feed, limits, () => {
      const all = catalog.dump();
      return withCatalogIndex(catalog, nodeDumps({ ...all, nodes: all.nodes.filter((n) => n.node === name) }, dc)[0]);
    });
    if (!r.value) return { status: 404, headers: indexHeaders(r.index), body: '' };
    return json(r.value, indexHeaders(r.index));
  });
}

function withCatalogIndex<T>(catalog: Catalog, value: T): Indexed<T> {
  return { index: catalog.tableIndex('nodes', 'services', 'checks'), value };
}

interface Rows {
  nodes: NodeRow[];
  services: ServiceRow[];
  checks: CheckRow[];
}

/**
 * Per service name: instances, nodes, tags, and its checks by status. A
 * node's own checks (serfHealth) count once for every service on that node,
 * a check shared by instances once.
 */
export function serviceSummaries(rows: Rows, datacenter: string): ServiceSummary[] {
  const nodeChecks = new Map<string, CheckRow[]>();
  for (const c of rows.checks) {
    let list = nodeChecks.get(c.node);
    if (!list) { list = []; nodeChecks.set(c.node, list); }
    list.push(c);
  }
  const byName = new Map<string, { tags: Set<string>; nodes: Set<string>; sources: Set<string>; instances: number; checks: Map<string, string> }>();
  for (const s of rows.services) {
    let sum = byName.get(s.service);
    if (!sum) {
      sum = { tags: new Set(), nodes: new Set(), sources: new Set(), instances: 0, checks: new Map() };
      byName.set(s.service, sum);
    }
    sum.instances++;
    sum.nodes.add(s.node);
    for (const t of s.tags) sum.tags.add(t);
    const source = s.meta['external-source'];
    if (source) sum.sources.add(source);
    for (const c of nodeChecks.get(s.node) ?? []) {
      if (c.serviceId === '' || c.serviceId === s.id) sum.checks.set(`${c.node}\u0000${c.checkId}`, c.status);
    }
  }
  const out: ServiceSummary[] = [];
  for (const [name, sum] of [...byName].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    let passing = 0, warning = 0, critical = 0;
    for (const status of sum.checks.values()) {
      if (status === 'passing') passing++;
      else if (status === 'warning') warning++;
      else critical++; // critical, and maintenance (which Consul reports as critical)
    }
    out.push({
      Name: name, Datacenter: datacenter, Tags: [...sum.tags].sort(), Nodes: [...sum.nodes].sort(),
      ExternalSources: [...sum.sources].sort(), InstanceCount: sum.instances,
      ChecksPassing: passing, ChecksWarning: warning, ChecksCritical: critical,
    });
  }
  return out;
}

/** Consul's `NodeDump`: each node with its services and checks, sorted by node name. */
export function nodeDumps(rows: Rows, datacenter: string) {
  const services = groupByNode(rows.services);
  const checks = groupByNode(rows.checks);
  return [...rows.nodes].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).map((n) => ({
    ...nodeJson(n),
    Services: (services.get(n.node) ?? []).sort((a, b) => (a.id < b.id ? -1 : 1)).map((s) => serviceJson(s, datacenter)),
    Checks: (checks.get(n.node) ?? []).sort((a, b) => (a.checkId < b.checkId ? -1 : 1)).map(checkJson),
  }));
}

function groupByNode<T extends { node: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    let list = out.get(r.node);
    if (!list) { list = []; out.set(r.node, list); }
    list.push(r);
  }
  return out;
}
