import { MusterError } from '../errors.js';
import type { MusterClient, WriteOptions } from './client.js';
import { encodePath, parseJson } from './client.js';
import type { AgentServiceEntry } from './catalog.js';
import type { HealthCheck } from './health.js';

/** `GET /v1/agent/self`, the fields clients read; the rest passes through. */
export interface AgentSelf {
  Config: { Datacenter: string; NodeName: string; NodeID?: string; Server?: boolean; Version?: string; [field: string]: unknown };
  Member?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A service registration in Consul's shape (`Name`, `ID`, `Tags`, `Port`, `Check`, `Checks`, ...). */
export interface ServiceRegistration {
  Name: string;
  ID?: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  Meta?: Record<string, string>;
  Check?: Record<string, unknown>;
  Checks?: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface RegisterServiceOptions extends WriteOptions {
  replaceExistingChecks?: boolean;
}

/** `/v1/agent/*`: the agent the client talks to. */
export class AgentApi {
  constructor(private readonly client: MusterClient) {}

  async self(w: WriteOptions = {}): Promise<AgentSelf> {
    const res = await this.client.call('GET', '/v1/agent/self', w.signal ? { signal: w.signal } : {});
    const body = parseJson(res) as AgentSelf | null;
    if (!body || typeof body !== 'object' || typeof body.Config !== 'object') throw new MusterError('ERR_DECODE', 'agent self: no Config in the answer');
    return body;
  }

  /** The agent's node name (what `consul lock` asks first, to test the agent). */
  async nodeName(w: WriteOptions = {}): Promise<string> {
    const name = (await this.self(w)).Config.NodeName;
    if (typeof name !== 'string' || name === '') throw new MusterError('ERR_DECODE', 'agent self: no NodeName');
    return name;
  }

  async members(w: WriteOptions = {}): Promise<Array<Record<string, unknown>>> {
    const res = await this.client.call('GET', '/v1/agent/members', w.signal ? { signal: w.signal } : {});
    return (parseJson(res) as Array<Record<string, unknown>> | null) ?? [];
  }

  /** This agent's services by ID. */
  async services(w: WriteOptions = {}): Promise<Record<string, AgentServiceEntry>> {
    const res = await this.client.call('GET', '/v1/agent/services', w.signal ? { signal: w.signal } : {});
    return (parseJson(res) as Record<string, AgentServiceEntry> | null) ?? {};
  }

  async checks(w: WriteOptions = {}): Promise<Record<string, HealthCheck>> {
    const res = await this.client.call('GET', '/v1/agent/checks', w.signal ? { signal: w.signal } : {});
    return (parseJson(res) as Record<string, HealthCheck> | null) ?? {};
  }

  async registerService(reg: ServiceRegistration, opts: RegisterServiceOptions = {}): Promise<void> {
    const { replaceExistingChecks, ...w } = opts;
    await this.client.write('/v1/agent/service/register', {
      json: reg, ...w, query: replaceExistingChecks ? { 'replace-existing-checks': 'true' } : {},
    });
  }

  async deregisterService(id: string, w: WriteOptions = {}): Promise<void> {
    await this.client.write(`/v1/agent/service/deregister/${encodePath(id)}`, w);
  }

  /** Marks a TTL check passing (`note` becomes its output). */
  async passCheck(id: string, note = '', w: WriteOptions = {}): Promise<void> {
    await this.client.write(`/v1/agent/check/pass/${encodePath(id)}`, { ...w, query: note ? { note } : {} });
  }

  async warnCheck(id: string, note = '', w: WriteOptions = {}): Promise<void> {
    await this.client.write(`/v1/agent/check/warn/${encodePath(id)}`, { ...w, query: note ? { note } : {} });
  }

  async failCheck(id: string, note = '', w: WriteOptions = {}): Promise<void> {
    await this.client.write(`/v1/agent/check/fail/${encodePath(id)}`, { ...w, query: note ? { note } : {} });
  }
}
