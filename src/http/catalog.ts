import { MusterError } from '../errors.js';
import type { Router } from './router.js';
import { checkDatacenter, indexHeaders, jsonBody, writeName, type RouteDeps } from './context.js';
import { blockingQuery } from './blocking-query.js';
import { json } from './response.js';
import { catalogServiceJson, nodeJson, serviceJson } from './wire.js';
import { fieldsOf, str, num, bool, strList, strMap, optStr, duration, type Fields } from '../agent/definition-json.js';
import type { CheckInput, RegisterCommand, ServiceInput } from '../state/commands.js';
import type { HealthStatus } from '../agent/definition.js';
import { HEALTH_STATUSES } from '../agent/definition.js';

/** `/v1/catalog/*`: low-level register/deregister and the cluster-wide reads. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store, feed, limits } = deps;
  const dc = agent.config.datacenter;

  router.add('PUT', '/v1/catalog/register', async (req) => {
    checkDatacenter(req, dc);
    await agent.writer.write(decodeRegister(jsonBody(req), dc), writeName(req));
    return json(true);
  });

  router.add('PUT', '/v1/catalog/deregister', async (req) => {
    checkDatacenter(req, dc);
    const f = fieldsOf(jsonBody(req), 'body');
    const node = str(f, 'node');
    if (!node) throw new MusterError('ERR_BAD_REQUEST', 'Must provide node');
    const cmd: { type: 'deregister'; node: string; serviceId?: string; checkId?: string } = { type: 'deregister', node };
    const serviceId = optStr(f, 'serviceid');
    const checkId = optStr(f, 'checkid');
    if (serviceId) cmd.serviceId = serviceId;
    if (checkId) cmd.checkId = checkId;
    await agent.writer.write(cmd, writeName(req));
    return json(true);
  });

  router.add('GET', '/v1/catalog/datacenters', () => json([dc]));

  router.add('GET', '/v1/catalog/nodes', async (req) => {
    checkDatacenter(req, dc);
    const r = await blockingQuery(req, feed, limits, () => store.catalog.nodeList());
    return json(r.value.map(nodeJson), indexHeaders(r.index));
  });

  router.add('GET', '/v1/catalog/services', async (req) => {
    checkDatacenter(req, dc);
    const r = await blockingQuery(req, feed, limits, () => store.catalog.serviceNames());
    return json(Object.fromEntries(r.value), indexHeaders(r.index));
  });

  router.add('GET', '/v1/catalog/service/:name', async (req) => {
    checkDatacenter(req, dc);
    const name = req.params.name ?? '';
    const tags = req.query.getAll('tag');
    const r = await blockingQuery(req, feed, limits, () => store.catalog.serviceInstances(name, tags));
    return json(r.value.map(({ node, service }) => catalogServiceJson(node, service)), indexHeaders(r.index));
  });

  router.add('GET', '/v1/catalog/node/:node', async (req) => {
    checkDatacenter(req, dc);
    const name = req.params.node ?? '';
    const r = await blockingQuery(req, feed, limits, () => store.catalog.nodeServices(name));
    if (!r.value) return json(null, indexHeaders(r.index));
    const services: Record<string, unknown> = {};
    for (const s of r.value.services) services[s.id] = serviceJson(s, dc);
    return json({ Node: nodeJson(r.value.node), Services: services }, indexHeaders(r.index));
  });
  router.add('GET', '/v1/catalog/node/', () => { throw new MusterError('ERR_MISSING_NODE_NAME', 'Missing node name'); });
}

function decodeRegister(body: unknown, dc: string): RegisterCommand {
  const f = fieldsOf(body, 'body');
  const node = str(f, 'node');
  const cmd: RegisterCommand = {
    type: 'register', node, id: str(f, 'id'), address: str(f, 'address'), datacenter: str(f, 'datacenter') || dc,
    taggedAddresses: strMap(f, 'taggedaddresses'), nodeMeta: strMap(f, 'nodemeta'),
    skipNodeUpdate: bool(f, 'skipnodeupdate'), checks: [],
  };
  if (!node || !cmd.address) throw new MusterError('ERR_BAD_REQUEST', 'Must provide node and address');
  const svc = f.get('service');
  if (svc !== undefined && svc !== null) cmd.service = decodeCatalogService(fieldsOf(svc, 'Service'));
  const one = f.get('check');
  if (one !== undefined && one !== null) cmd.checks.push(decodeCatalogCheck(fieldsOf(one, 'Check')));
  const many = f.get('checks');
  if (many !== undefined && many !== null) {
    if (!Array.isArray(many)) throw new MusterError('ERR_DECODE', 'Request decode failed: Checks must be a list');
    for (const c of many) cmd.checks.push(decodeCatalogCheck(fieldsOf(c, 'Check')));
  }
  return cmd;
}

function decodeCatalogService(f: Fields): ServiceInput {
  const service = str(f, 'service') || str(f, 'name');
  if (!service) throw new MusterError('ERR_MISSING_SERVICE_NAME', 'Must provide service name');
  const w = fieldsOf(f.get('weights'), 'Weights');
  return {
    id: str(f, 'id') || service, service, tags: strList(f, 'tags'), address: str(f, 'address'), port: num(f, 'port'),
    meta: strMap(f, 'meta'), weights: { passing: num(w, 'passing', 1), warning: num(w, 'warning', 1) },
    enableTagOverride: bool(f, 'enabletagoverride'),
  };
}

function decodeCatalogCheck(f: Fields): CheckInput {
  const name = str(f, 'name');
  const checkId = str(f, 'checkid') || name;
  if (!checkId) throw new MusterError('ERR_MISSING_CHECK_NAME', 'Missing check name');
  const status = str(f, 'status') || 'critical';
  if (!(HEALTH_STATUSES as readonly string[]).includes(status)) {
    throw new MusterError('ERR_INVALID_CHECK_STATUS', "Status for checks must 'passing', 'warning', 'critical'");
  }
  const d = fieldsOf(f.get('definition'), 'Definition');
  const definition: CheckInput['definition'] = {};
  const http = optStr(d, 'http'); if (http) definition.http = http;
  const tcp = optStr(d, 'tcp'); if (tcp) definition.tcp = tcp;
  const interval = duration(d, 'interval'); if (interval !== undefined) definition.intervalMs = interval;
  const timeout = duration(d, 'timeout'); if (timeout !== undefined) definition.timeoutMs = timeout;
  return {
    checkId, name: name || checkId, status: status as HealthStatus, notes: str(f, 'notes'), output: str(f, 'output'),
    serviceId: str(f, 'serviceid'), type: '', definition,
  };
}
