import type { FlagSpec, FlagValue } from '../config/flags.js';
import { MusterClient } from '../client/client.js';

/** The flags every API command takes (Consul's `-http-addr`, `-token`, `-datacenter`). */
export const HTTP_FLAGS: readonly FlagSpec[] = [
  { name: 'http-addr', kind: 'string', help: 'address of the agent\'s HTTP API (env MUSTER_HTTP_ADDR, CONSUL_HTTP_ADDR)', default: '127.0.0.1:8500' },
  { name: 'token', kind: 'string', help: 'ACL token (env CONSUL_HTTP_TOKEN)' },
  { name: 'datacenter', kind: 'string', help: 'datacenter to query (default: the agent\'s)' },
];

/** `-stale` for the commands that read. */
export const STALE_FLAG: FlagSpec = { name: 'stale', kind: 'bool', help: 'let any server answer, not only the leader' };

/** A client from `-http-addr`/`-token`/`-datacenter`; what is not given comes from the environment. */
export function clientFromFlags(values: ReadonlyMap<string, FlagValue>): MusterClient {
  const address = values.get('http-addr') as string | undefined;
  const token = values.get('token') as string | undefined;
  const datacenter = values.get('datacenter') as string | undefined;
  return new MusterClient({
    ...(address ? { address } : {}),
    ...(token ? { token } : {}),
    ...(datacenter ? { datacenter } : {}),
  });
}
