import { Agent } from '../../src/agent/agent.js';
import type { ServiceDefinition } from '../../src/agent/definition.js';
import { loadAgentConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/types.js';
import { HttpApi } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import type { Clock } from '../../src/time.js';

/** What tap's Test gives us that we use (structural, so helpers need no tap import). */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** The node name every in-process test agent has. */
export const NODE = 'n1';

/** A dev agent's config: node n1, any free HTTP port, no Docker. */
export function devConfig(args: string[] = []): AgentConfig {
  return loadAgentConfig(['-dev', '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0', '-node', NODE, '-docker', '', ...args], {}).config;
}

/**
 * An Agent in this process, started (node, serfHealth and `consul` in the
 * catalog) unless `start: false`; stopped at teardown.
 */
export async function startAgent(
  t: Teardown, opts: { args?: string[]; clock?: Clock; start?: boolean } = {},
): Promise<Agent> {
  const agent = new Agent(devConfig(opts.args), opts.clock ? { log: silentLogger(), clock: opts.clock } : { log: silentLogger() });
  t.teardown(() => agent.stop());
  if (opts.start !== false) await agent.start();
  return agent;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json: () => unknown;
}

export interface InProcessApi {
  agent: Agent;
  api: HttpApi;
  base: string;
  port: number;
  call(method: string, path: string, body?: unknown, init?: RequestInit): Promise<CallResult>;
}

/** An Agent plus its HTTP API on 127.0.0.1 (any free port); both closed at teardown, the API first. */
export async function startApi(
  t: Teardown, opts: { args?: string[]; start?: boolean; maxBodyBytes?: number; ui?: boolean } = {},
): Promise<InProcessApi> {
  const config = devConfig(opts.args);
  // -dev turns the web UI on; `ui: false` gives the API as an agent without -ui serves it
  const agent = new Agent(opts.ui === false ? { ...config, ui: false } : config, { log: silentLogger() });
  if (opts.start !== false) await agent.start();
  const api = new HttpApi(agent, silentLogger(), {
    host: '127.0.0.1', port: 0, ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  const addr = await api.listen();
  t.teardown(async () => {
    await api.close();
    await agent.stop();
  });
  const base = `http://127.0.0.1:${addr.port}`;
  const call = async (method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<CallResult> => {
    const req: RequestInit = { method, ...init };
    if (body !== undefined) req.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const res = await fetch(`${base}${path}`, req);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
  };
  return { agent, api, base, port: addr.port, call };
}

/** A service definition with Consul's defaults, for the agent API. */
export function serviceDef(id: string, name: string, extra: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return {
    id, name, tags: [], address: '', port: 80, meta: {}, enableTagOverride: false,
    weights: { passing: 1, warning: 1 }, checks: [], ...extra,
  };
}
