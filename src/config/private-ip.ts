import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** What `os.networkInterfaces()` returns; injected so the choice can be tested. */
export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * Private IPv4 ranges (RFC 1918, and RFC 6598 shared address space, which
 * Consul's go-sockaddr counts as private too), as [network, prefix length].
 */
const PRIVATE_V4: ReadonlyArray<readonly [string, number]> = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
];

function toInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function isPrivateIPv4(ip: string): boolean {
  const n = toInt(ip);
  if (n === undefined) return false;
  return PRIVATE_V4.some(([net, bits]) => {
    const size = 2 ** (32 - bits);
    const base = toInt(net) as number;
    return n >= base && n < base + size;
  });
}

/**
 * The machine's private IPv4 addresses (non-internal interfaces), distinct,
 * in interface order. Consul advertises the only one when it binds 0.0.0.0
 * and refuses to guess between several.
 */
export function privateIPv4Addresses(interfaces: Interfaces = networkInterfaces()): string[] {
  const out: string[] = [];
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4' || info.internal || !isPrivateIPv4(info.address)) continue;
      if (!out.includes(info.address)) out.push(info.address);
    }
  }
  return out;
}
