import type { MusterClient, QueryOptions, WriteOptions } from './client.js';
import { encodePath } from './client.js';

/** Consul's wire shapes, PascalCase as the API writes them; fields not listed pass through. */
export interface CatalogNode {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
  [field: string]: unknown;
}

export interface CatalogService {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServicePort: number;
  ServiceMeta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
  [field: string]: unknown;
}

export interface AgentServiceEntry {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  [field: string]: unknown;
}

export interface CatalogNodeServices {
  Node: CatalogNode;
  Services: Record<string, AgentServiceEntry>;
}

export interface CatalogServiceOptions extends QueryOptions {
  tag?: string;
}

/** `/v1/catalog/*`: the cluster-wide registry. */
export class Catalog {
  constructor(private readonly client: MusterClient) {}

  async datacenters(q: QueryOptions = {}): Promise<string[]> {
    return (await this.client.read<string[]>('/v1/catalog/datacenters', q)).value ?? [];
  }

  async nodes(q: QueryOptions = {}): Promise<CatalogNode[]> {
    return (await this.client.read<CatalogNode[] | null>('/v1/catalog/nodes', q)).value ?? [];
  }

  /** Service names with the union of their tags. */
  async services(q: QueryOptions = {}): Promise<Record<string, string[]>> {
    return (await this.client.read<Record<string, string[]> | null>('/v1/catalog/services', q)).value ?? {};
  }

  /** The instances of one service, optionally with a tag. */
  async service(name: string, q: CatalogServiceOptions = {}): Promise<CatalogService[]> {
    const { tag, ...rest } = q;
    return (await this.client.read<CatalogService[] | null>(`/v1/catalog/service/${encodePath(name)}`, rest, tag ? { tag } : {})).value ?? [];
  }

  /** A node and its services; null when the node is unknown. */
  async node(name: string, q: QueryOptions = {}): Promise<CatalogNodeServices | null> {
    return (await this.client.read<CatalogNodeServices | null>(`/v1/catalog/node/${encodePath(name)}`, q)).value;
  }

  /** Low-level registration (`PUT /v1/catalog/register`), body in Consul's shape. */
  async register(body: Record<string, unknown>, w: WriteOptions = {}): Promise<void> {
    await this.client.write('/v1/catalog/register', { json: body, ...w });
  }

  async deregister(body: { Node: string; ServiceID?: string; CheckID?: string; [field: string]: unknown }, w: WriteOptions = {}): Promise<void> {
    await this.client.write('/v1/catalog/deregister', { json: body, ...w });
  }
}
