import { MusterError } from '../errors.js';
import type { Router } from './router.js';
import { checkDatacenter, indexHeaders, jsonBody, writeName, type RouteDeps } from './context.js';
import { blockingQuery } from './blocking-query.js';
import { json } from './response.js';
import { fieldsOf, str, strList, type Fields } from '../agent/definition-json.js';
import { parseDurationMs } from '../config/duration.js';
import { DEFAULT_LOCK_DELAY_MS, MAX_LOCK_DELAY_MS, type SessionRequest } from '../agent/sessions.js';
import type { SessionRow } from '../state/sessions.js';
import { SERF_HEALTH } from '../agent/agent.js';

/** `/v1/session/*`: create, destroy, renew and read sessions. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store, feed, limits } = deps;
  const dc = agent.config.datacenter;

  router.add(['PUT', 'POST'], '/v1/session/create', async (req) => {
    checkDatacenter(req, dc);
    const id = await agent.sessions.create(decodeSession(jsonBody(req), agent.config.nodeName), writeName(req));
    return json({ ID: id });
  });

  router.add(['PUT', 'POST'], '/v1/session/destroy/:id', async (req) => {
    checkDatacenter(req, dc);
    await agent.sessions.destroy(req.params.id ?? '', writeName(req));
    return json(true);
  });
  router.add(['PUT', 'POST'], '/v1/session/destroy/', () => { throw new MusterError('ERR_BAD_REQUEST', 'Missing session'); });

  router.add(['PUT', 'POST'], '/v1/session/renew/:id', (req) => {
    checkDatacenter(req, dc);
    const row = agent.sessions.renew(req.params.id ?? '');
    return json([sessionJson(row)], indexHeaders(store.sessions.index));
  });
  router.add(['PUT', 'POST'], '/v1/session/renew/', () => { throw new MusterError('ERR_BAD_REQUEST', 'Missing session'); });

  router.add('GET', '/v1/session/info/:id', async (req) => {
    checkDatacenter(req, dc);
    const id = req.params.id ?? '';
    const r = await blockingQuery(req, feed, limits, () => {
      const s = store.sessions.get(id);
      return { index: store.sessions.index, value: s ? [s] : [] };
    });
    return json(r.value.map(sessionJson), indexHeaders(r.index));
  });
  router.add('GET', '/v1/session/info/', () => { throw new MusterError('ERR_BAD_REQUEST', 'Missing session'); });

  router.add('GET', '/v1/session/node/:node', async (req) => {
    checkDatacenter(req, dc);
    const node = req.params.node ?? '';
    const r = await blockingQuery(req, feed, limits, () => ({ index: store.sessions.index, value: store.sessions.onNode(node) }));
    return json(r.value.map(sessionJson), indexHeaders(r.index));
  });
  router.add('GET', '/v1/session/node/', () => { throw new MusterError('ERR_MISSING_NODE_NAME', 'Missing node name'); });

  router.add('GET', '/v1/session/list', async (req) => {
    checkDatacenter(req, dc);
    const r = await blockingQuery(req, feed, limits, () => ({ index: store.sessions.index, value: store.sessions.list() }));
    return json(r.value.map(sessionJson), indexHeaders(r.index));
  });
}

export function sessionJson(s: SessionRow) {
  return {
    ID: s.id, Name: s.name, Node: s.node, Checks: [...s.nodeChecks], NodeChecks: [...s.nodeChecks],
    ServiceChecks: s.serviceChecks.length > 0 ? s.serviceChecks.map((c) => ({ ID: c.id, Namespace: c.namespace })) : null,
    LockDelay: Math.round(s.lockDelayMs * 1e6), Behavior: s.behavior, TTL: s.ttl,
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

/** Consul's defaults and LockDelay rules: a number < 1000 counts as seconds, larger as nanoseconds. */
export function decodeSession(body: unknown, ownNode: string): SessionRequest {
  const f = fieldsOf(body, 'session');
  const behavior = str(f, 'behavior') || 'release';
  if (behavior !== 'release' && behavior !== 'delete') {
    throw new MusterError('ERR_SESSION_INVALID_INPUT', `Invalid Behavior setting '${behavior}'`, { status: 400 });
  }
  let nodeChecks = [SERF_HEALTH.checkId as string];
  if (f.has('checks')) nodeChecks = strList(f, 'checks');
  if (f.has('nodechecks')) nodeChecks = strList(f, 'nodechecks');
  return {
    name: str(f, 'name'),
    node: str(f, 'node') || ownNode,
    nodeChecks,
    serviceChecks: serviceChecks(f),
    lockDelayMs: lockDelay(f),
    behavior,
    ttl: str(f, 'ttl'),
  };
}

function serviceChecks(f: Fields): Array<{ id: string; namespace: string }> {
  const v = f.get('servicechecks');
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MusterError('ERR_DECODE', 'Request decode failed: ServiceChecks must be a list');
  return v.map((c) => {
    const cf = fieldsOf(c, 'ServiceChecks entry');
    return { id: str(cf, 'id'), namespace: str(cf, 'namespace') };
  });
}

function lockDelay(f: Fields): number {
  const v = f.get('lockdelay');
  if (v === undefined || v === null || v === '') return DEFAULT_LOCK_DELAY_MS;
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) ms = v < 1000 ? v * 1000 : v / 1e6;
  else if (typeof v === 'string') {
    const parsed = parseDurationMs(v);
    if (parsed !== undefined && parsed >= 0) ms = parsed * 1e6 < 1000 ? parsed * 1e6 * 1000 : parsed;
  }
  if (ms === undefined) throw new MusterError('ERR_DECODE', `Request decode failed: LockDelay is not a valid duration: ${JSON.stringify(v)}`);
  return Math.min(ms, MAX_LOCK_DELAY_MS);
}
