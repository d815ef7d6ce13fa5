import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolves a host name to its addresses (dns.lookup with `all: true`); injected in tests. */
export type HostLookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true });

/** One `-join`/`-retry-join` argument that could not be resolved. */
export interface UnresolvedAddress {
  address: string;
  error: string;
}

/**
 * Turns `-join` / `-retry-join` arguments (`host`, `host:port`, `ip`,
 * `[v6]:port`) into `ip:port` addresses for the gossip layer, with
 * `defaultPort` where none is given. A DNS name (a compose service, a
 * Kubernetes headless service) gives one address per record it resolves to,
 * as memberlist joins every address of a name. A name that does not resolve
 * is reported, not thrown: the other addresses may still answer.
 */
export async function resolveJoinAddresses(
  addresses: readonly string[], defaultPort: number, lookup: HostLookup = systemLookup,
): Promise<{ resolved: string[]; unresolved: UnresolvedAddress[] }> {
  const resolved: string[] = [];
  const unresolved: UnresolvedAddress[] = [];
  const add = (address: string) => { if (!resolved.includes(address)) resolved.push(address); };
  for (const raw of addresses) {
    const address = raw.trim();
    const split = splitHostPort(address);
    if (!split) {
      unresolved.push({ address, error: 'not an address of the form host[:port]' });
      continue;
    }
    const port = split.port ?? defaultPort;
    if (isIP(split.host) !== 0) {
      add(format(split.host, port));
      continue;
    }
    try {
      const found = await lookup(split.host);
      if (found.length === 0) unresolved.push({ address, error: 'the name resolves to no address' });
      for (const a of found) add(format(a.address, port));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      unresolved.push({ address, error: `cannot resolve ${split.host}${code ? ` (${code})` : ''}` });
    }
  }
  return { resolved, unresolved };
}

function splitHostPort(text: string): { host: string; port: number | undefined } | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(text);
  if (!m?.[1]) return undefined;
  if (m[2] === undefined) return { host: m[1], port: undefined };
  const port = Number(m[2]);
  return port >= 1 && port <= 65_535 ? { host: m[1], port } : undefined;
}

function format(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
