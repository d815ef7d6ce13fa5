/**
 * What a query name asks for, under the agent's domain (Consul's forms):
 *
 * - `consul.`                                 the apex (SOA, NS)
 * - `NAME.service[.DC].consul.`               healthy instances of NAME
 * - `TAG.NAME.service[.DC].consul.`           ... that carry TAG (TAG may hold dots)
 * - `_NAME._TAG.service[.DC].consul.`         RFC 2782; `_tcp` means no tag filter
 * - `_NAME._TAG[.DC].consul.`                 RFC 2782 without the `service` label
 * - `NODE.node[.DC].consul.`                  a node (NODE may hold dots)
 * - `HEX.addr[.DC].consul.`                   an address, as SRV targets name them
 *
 * Names are case-insensitive: every part comes back lower-cased.
 */
export type Lookup =
  | { kind: 'apex' }
  | { kind: 'service'; service: string; tag: string | undefined; datacenter: string | undefined }
  | { kind: 'node'; node: string; datacenter: string | undefined }
  | { kind: 'addr'; ip: string; datacenter: string | undefined };

/** The domain as names carry it: lower case, no leading or trailing dot (`consul`). */
export function normaliseDomain(domain: string): string {
  return domain.toLowerCase().replace(/^\.+|\.+$/g, '');
}

/** Whether `name` is the domain or below it. */
export function isUnderDomain(name: string, domain: string): boolean {
  const n = trimDots(name.toLowerCase());
  const d = normaliseDomain(domain);
  return d === '' || n === d || n.endsWith(`.${d}`);
}

/** The lookup a name asks for, or null when it names nothing Muster answers (NXDOMAIN, or outside the domain). */
export function parseQueryName(name: string, domain: string): Lookup | null {
  const n = trimDots(name.toLowerCase());
  const d = normaliseDomain(domain);
  if (n === d) return { kind: 'apex' };
  if (d !== '' && !n.endsWith(`.${d}`)) return null;
  const rest = d === '' ? n : n.slice(0, n.length - d.length - 1);
  const labels = rest.split('.');
  if (labels.some((l) => l === '')) return null;

  // the rightmost kind label splits the name into parts and a datacenter suffix
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i] as string;
    if (label === 'service' || label === 'node' || label === 'addr') {
      const dc = datacenterOf(labels.slice(i + 1));
      if (dc === null) return null;
      return lookupOf(label, labels.slice(0, i), dc);
    }
    if (label.startsWith('_')) {
      const dc = datacenterOf(labels.slice(i + 1));
      if (dc === null) return null;
      return lookupOf('service', labels.slice(0, i + 1), dc);
    }
  }
  return null;
}

function lookupOf(kind: 'service' | 'node' | 'addr', parts: string[], datacenter: string | undefined): Lookup | null {
  if (parts.length === 0) return null;
  switch (kind) {
    case 'service': {
      const [first, second] = parts;
      if (parts.length === 2 && first?.startsWith('_') && second?.startsWith('_')) {
        const service = first.slice(1);
        const tag = second.slice(1);
        if (service === '' || tag === '') return null;
        return { kind: 'service', service, tag: tag === 'tcp' ? undefined : tag, datacenter };
      }
      const service = parts[parts.length - 1] as string;
      const tag = parts.length > 1 ? parts.slice(0, -1).join('.') : undefined;
      return { kind: 'service', service, tag, datacenter };
    }
    case 'node':
      return { kind: 'node', node: parts.join('.'), datacenter };
    case 'addr': {
      const ip = parts.length === 1 ? ipFromHex(parts[0] as string) : undefined;
      return ip === undefined ? null : { kind: 'addr', ip, datacenter };
    }
  }
}

/** No suffix: the agent's datacenter; one label: that datacenter; more: not a name we know. */
function datacenterOf(suffix: string[]): string | undefined | null {
  if (suffix.length === 0) return undefined;
  return suffix.length === 1 ? suffix[0] as string : null;
}

/** `7f000001` → `127.0.0.1`; 32 hex digits → an IPv6 address (Consul's `.addr.` names). */
function ipFromHex(hex: string): string | undefined {
  if (!/^[0-9a-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  if (hex.length === 32) return Array.from({ length: 8 }, (_, i) => hex.slice(i * 4, i * 4 + 4)).join(':');
  return undefined;
}

/** `10.0.0.1` → `0a000001`; an IPv6 address → 32 hex digits; undefined for anything else. */
export function hexOfIp(ip: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    if (bytes.some((b) => b > 255)) return undefined;
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  if (!ip.includes(':')) return undefined;
  const [head = '', tail, extra] = ip.toLowerCase().split('::');
  if (extra !== undefined) return undefined;
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

function trimDots(s: string): string {
  return s.replace(/\.+$/, '');
}
