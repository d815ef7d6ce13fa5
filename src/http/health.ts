import { MusterError } from '../errors.js';
import type { Router } from './router.js';
import { checkDatacenter, indexHeaders, type RouteDeps } from './context.js';
import { blockingQuery } from './blocking-query.js';
import { json } from './response.js';
import { boolParam } from './query.js';
import { checkJson, nodeJson, serviceJson } from './wire.js';
import type { HealthStatus } from '../agent/definition.js';

const STATES = new Set(['passing', 'warning', 'critical', 'maintenance', 'any']);

/** `/v1/health/*`: checks by node, service and state, and service instances with their health. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store, feed, limits } = deps;
  const dc = agent.config.datacenter;
  const missing = (what: string) => () => { throw new MusterError('ERR_BAD_REQUEST', `Missing ${what}`); };

  router.add('GET', '/v1/health/node/:node', async (req) => {
    checkDatacenter(req, dc);
    const node = req.params.node ?? '';
    const r = await blockingQuery(req, feed, limits, () => store.catalog.nodeChecks(node));
    return json(r.value.map(checkJson), indexHeaders(r.index));
  });
  router.add('GET', '/v1/health/node/', missing('node name'));

  router.add('GET', '/v1/health/checks/:service', async (req) => {
    checkDatacenter(req, dc);
    const name = req.params.service ?? '';
    const r = await blockingQuery(req, feed, limits, () => store.catalog.serviceChecks(name));
    return json(r.value.map(checkJson), indexHeaders(r.index));
  });
  router.add('GET', '/v1/health/checks/', missing('service name'));

  router.add('GET', '/v1/health/service/:service', async (req) => {
    checkDatacenter(req, dc);
    const name = req.params.service ?? '';
    const passing = boolParam(req.query, 'passing');
    const tags = req.query.getAll('tag');
    const r = await blockingQuery(req, feed, limits, () => store.catalog.serviceHealth(name, tags));
    const entries = passing ? r.value.filter((e) => e.checks.every((c) => c.status === 'passing')) : r.value;
    return json(entries.map((e) => ({
      Node: nodeJson(e.node), Service: serviceJson(e.service, dc), Checks: e.checks.map(checkJson),
    })), indexHeaders(r.index));
  });
  router.add('GET', '/v1/health/service/', missing('service name'));

  router.add('GET', '/v1/health/state/:state', async (req) => {
    checkDatacenter(req, dc);
    const state = req.params.state ?? '';
    if (!STATES.has(state)) throw new MusterError('ERR_BAD_REQUEST', `Invalid check state "${state}"`);
    const r = await blockingQuery(req, feed, limits, () => store.catalog.checksInState(state as HealthStatus | 'any'));
    return json(r.value.map(checkJson), indexHeaders(r.index));
  });
  router.add('GET', '/v1/health/state/', missing('check state'));
}
