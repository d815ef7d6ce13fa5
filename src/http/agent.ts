import { MusterError } from '../errors.js';
import type { Router } from './router.js';
import { jsonBody, type RouteDeps } from './context.js';
import { empty, json } from './response.js';
import { agentCheckJson, agentServiceJson } from './wire.js';
import { decodeCheck, decodeService, fieldsOf, str } from '../agent/definition-json.js';
import type { HealthStatus } from '../agent/definition.js';
import { VERSION } from '../version.js';
import { Membership } from '../agent/membership.js';
import type { Member } from '../gossip/members.js';

/** Agent writes accept GET and POST as well as PUT (python-consul and old Consul clients use GET). */
const WRITE = ['PUT', 'POST', 'GET'];

/** `/v1/agent/*`: this agent's own services and checks, and facts about the agent. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent } = deps;
  const cfg = agent.config;

  router.add('GET', '/v1/agent/self', () => json({
    Config: {
      Datacenter: cfg.datacenter, PrimaryDatacenter: cfg.datacenter, NodeName: cfg.nodeName, NodeID: cfg.nodeId,
      Server: cfg.server, Revision: 'muster', Version: VERSION, AdvertiseAddr: cfg.advertiseAddr,
      BindAddr: cfg.bindAddr, ClientAddr: cfg.clientAddr, Domain: cfg.domain,
      Ports: { HTTP: cfg.ports.http, DNS: cfg.ports.dns, Server: cfg.ports.server, SerfLan: cfg.ports.serfLan, SerfWan: cfg.ports.serfWan },
    },
    DebugConfig: { Dev: cfg.dev, Docker: cfg.docker ?? '' },
    Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
    Member: (() => { const me = agent.membership.members().find((m) => m.name === cfg.nodeName); return me ? gossipMemberJson(me) : memberJson(deps); })(),
    Stats: { agent: { checks: String(agent.local.checks.size), services: String(agent.local.services.size) } },
    Meta: { ...cfg.nodeMeta },
  }));

  router.add('GET', '/v1/agent/members', (req) => {
    if (req.query.get('wan')) throw new MusterError('ERR_BAD_REQUEST', 'WAN members are not supported: Muster has no WAN pool');
    const members = agent.membership.members();
    return json(members.length > 0 ? members.map(gossipMemberJson) : [memberJson(deps)]);
  });

  router.add(WRITE, '/v1/agent/join/*address', async (req) => {
    if (req.query.get('wan')) throw new MusterError('ERR_BAD_REQUEST', 'WAN join is not supported: Muster has no WAN pool');
    await agent.membership.join([req.params.address ?? '']);
    return empty();
  });

  router.add(['PUT', 'POST'], '/v1/agent/leave', async () => {
    await agent.leave();
    return empty();
  });

  router.add(WRITE, '/v1/agent/force-leave/:node', async (req) => {
    await agent.membership.forceLeave(req.params.node ?? '');
    return empty();
  });

  router.add('GET', '/v1/agent/services', () => {
    const out: Record<string, unknown> = {};
    for (const s of agent.services()) out[s.id] = agentServiceJson(s, cfg.datacenter);
    return json(out);
  });

  router.add('GET', '/v1/agent/service/:id', (req) => {
    const s = agent.local.services.get(req.params.id ?? '');
    if (!s) throw new MusterError('ERR_NOT_FOUND', `unknown service ID: ${req.params.id}`);
    return json(agentServiceJson(s, cfg.datacenter));
  });

  router.add(['PUT', 'POST'], '/v1/agent/service/register', async (req) => {
    const def = decodeService(jsonBody(req));
    const replace = req.query.has('replace-existing-checks') && req.query.get('replace-existing-checks') !== 'false';
    await agent.registerService(def, { replaceExistingChecks: replace });
    return empty();
  });

  router.add(WRITE, '/v1/agent/service/deregister/:id', async (req) => {
    await agent.deregisterService(req.params.id ?? '');
    return empty();
  });

  router.add('GET', '/v1/agent/checks', () => {
    const out: Record<string, unknown> = {};
    for (const c of agent.checks()) out[c.def.checkId] = agentCheckJson(c, cfg.nodeName, agent.local.services);
    return json(out);
  });

  router.add(['PUT', 'POST'], '/v1/agent/check/register', async (req) => {
    await agent.registerCheck(decodeCheck(jsonBody(req)));
    return empty();
  });

  router.add(WRITE, '/v1/agent/check/deregister/:id', async (req) => {
    await agent.deregisterCheck(req.params.id ?? '');
    return empty();
  });

  const ttl = (status: HealthStatus) => async (req: Parameters<Parameters<Router['add']>[2]>[0]) => {
    await agent.updateTtlCheck(req.params.id ?? '', status, req.query.get('note') ?? '');
    return empty();
  };
  router.add(WRITE, '/v1/agent/check/pass/:id', ttl('passing'));
  router.add(WRITE, '/v1/agent/check/warn/:id', ttl('warning'));
  router.add(WRITE, '/v1/agent/check/fail/:id', ttl('critical'));

  router.add(['PUT', 'POST'], '/v1/agent/check/update/:id', async (req) => {
    const f = fieldsOf(jsonBody(req), 'body');
    const status = str(f, 'status');
    if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
      throw new MusterError('ERR_INVALID_CHECK_STATUS', `Invalid check status: '${status}'`);
    }
    await agent.updateTtlCheck(req.params.id ?? '', status, str(f, 'output'));
    return empty();
  });
}

function gossipMemberJson(m: Member) {
  return {
    Name: m.name, Addr: m.addr, Port: m.port, Tags: { ...m.tags }, Status: Membership.statusOf(m),
    ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
  };
}

function memberJson(deps: RouteDeps) {
  const cfg = deps.agent.config;
  return {
    Name: cfg.nodeName, Addr: cfg.advertiseAddr, Port: cfg.ports.serfLan,
    Tags: {
      role: cfg.server ? 'consul' : 'node', dc: cfg.datacenter, port: String(cfg.ports.server),
      id: cfg.nodeId, vsn: '2', vsn_min: '2', vsn_max: '3', build: `${VERSION}:muster`, raft_vsn: '3', segment: '',
      ...(cfg.dev ? { bootstrap: '1' } : {}),
    },
    Status: 1, ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
  };
}
