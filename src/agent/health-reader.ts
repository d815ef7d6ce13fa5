import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import type { ServiceHealth } from '../state/catalog.js';
import type { NodeRow } from '../state/types.js';
import type { RpcClient } from '../rpc/client.js';
import type { RpcServer } from '../rpc/server.js';
import { decodeValue, encodeValue } from '../state/codec.js';
import { DEFAULTS } from '../config/defaults.js';
import { RPC, callAnyServer, type ServerPicker } from './forward.js';

/**
 * Catalog reads for lookups by name (the DNS interface): a service's
 * instances with their health, a node. Names match case-insensitively, as
 * DNS names do. A server reads its own store (Consul's DNS default,
 * `allow_stale`: any server answers); a client agent asks a server.
 */
export interface HealthReader {
  /** Instances of `service` (any case), with `tag` among their tags when given, each with its node and checks. */
  serviceHealth(service: string, tag: string | undefined): Promise<ServiceHealth[]>;
  /** The node named `name` (any case). */
  node(name: string): Promise<NodeRow | undefined>;
}

/** Reads a local store (on servers). */
export class LocalHealthReader implements HealthReader {
  constructor(private readonly store: StateStore) {}

  serviceHealth(service: string, tag: string | undefined): Promise<ServiceHealth[]> {
    const catalog = this.store.catalog;
    const wanted = service.toLowerCase();
    const tags = tag === undefined ? [] : [tag];
    const out: ServiceHealth[] = [];
    // exact name first: the common case needs no scan of every name
    const names = catalog.serviceInstances(service).value.length > 0
      ? [service]
      : [...catalog.serviceNames().value.keys()].filter((n) => n.toLowerCase() === wanted);
    for (const name of names) out.push(...catalog.serviceHealth(name, tags).value);
    return Promise.resolve(out);
  }

  node(name: string): Promise<NodeRow | undefined> {
    const catalog = this.store.catalog;
    const exact = catalog.getNode(name);
    if (exact) return Promise.resolve(exact);
    const wanted = name.toLowerCase();
    return Promise.resolve(catalog.nodeList().value.find((n) => n.node.toLowerCase() === wanted));
  }
}

/** Reads from any server (on client agents); the servers answer from their own store. */
export class RemoteHealthReader implements HealthReader {
  /** A DNS client waits a few seconds at most: an answer after that is wasted. */
  private readonly callOpts = { timeoutMs: DEFAULTS.dns.clientReadHoldMs, holdMs: DEFAULTS.dns.clientReadHoldMs, idempotent: true };

  constructor(private readonly picker: ServerPicker, private readonly rpc: RpcClient, private readonly log: Logger) {}

  async serviceHealth(service: string, tag: string | undefined): Promise<ServiceHealth[]> {
    const out = await callAnyServer(this.picker, this.rpc, RPC.serviceHealth, encodeValue({ service, tag: tag ?? null }), this.callOpts);
    this.log.trace({ service }, 'read service health from a server');
    return decodeValue(out) as ServiceHealth[];
  }

  async node(name: string): Promise<NodeRow | undefined> {
    const out = await callAnyServer(this.picker, this.rpc, RPC.node, Buffer.from(name), this.callOpts);
    return (decodeValue(out) as NodeRow | null) ?? undefined;
  }
}

/** Serves the RemoteHealthReader's calls on a server's RPC port. */
export function serveHealthReads(server: RpcServer, reader: LocalHealthReader): void {
  server.handle(RPC.serviceHealth, async (body) => {
    const { service, tag } = decodeValue(body) as { service: string; tag: string | null };
    return encodeValue(await reader.serviceHealth(String(service), tag === null ? undefined : String(tag)));
  });
  server.handle(RPC.node, async (body) => encodeValue((await reader.node(body.toString('utf8'))) ?? null));
}
