import type { MusterClient, QueryOptions } from './client.js';
import { encodePath } from './client.js';
import type { CatalogNode, AgentServiceEntry } from './catalog.js';

export type HealthState = 'passing' | 'warning' | 'critical';

export interface HealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthState;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  CreateIndex: number;
  ModifyIndex: number;
  [field: string]: unknown;
}

/** One instance of a service with its node and every check that applies to it. */
export interface ServiceEntry {
  Node: CatalogNode;
  Service: AgentServiceEntry;
  Checks: HealthCheck[];
}

export interface HealthServiceOptions extends QueryOptions {
  tag?: string;
  /** Only instances whose checks all pass. */
  passing?: boolean;
}

/** `/v1/health/*`. */
export class Health {
  constructor(private readonly client: MusterClient) {}

  async node(node: string, q: QueryOptions = {}): Promise<HealthCheck[]> {
    return (await this.client.read<HealthCheck[] | null>(`/v1/health/node/${encodePath(node)}`, q)).value ?? [];
  }

  async checks(service: string, q: QueryOptions = {}): Promise<HealthCheck[]> {
    return (await this.client.read<HealthCheck[] | null>(`/v1/health/checks/${encodePath(service)}`, q)).value ?? [];
  }

  async service(service: string, q: HealthServiceOptions = {}): Promise<ServiceEntry[]> {
    const { tag, passing, ...rest } = q;
    const extra = { ...(tag ? { tag } : {}), ...(passing ? { passing: 1 } : {}) };
    return (await this.client.read<ServiceEntry[] | null>(`/v1/health/service/${encodePath(service)}`, rest, extra)).value ?? [];
  }

  /** Checks in one state (`any` for all). */
  async state(state: HealthState | 'any', q: QueryOptions = {}): Promise<HealthCheck[]> {
    return (await this.client.read<HealthCheck[] | null>(`/v1/health/state/${encodePath(state)}`, q)).value ?? [];
  }
}
