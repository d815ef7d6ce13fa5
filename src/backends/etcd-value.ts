import type { ServiceDefinition } from '../agent/definition.js';
import type { RegisteredService } from './types.js';

/**
 * How a service instance is written under `PREFIX/<name>/<id>`:
 * - `json` (default): `{"id","name","address","port","tags","meta"}`; meta
 *   carries the sidecar's ownership marks (`muster-sidecar`, `muster-container`).
 * - `plain`: `ip:port` (IPv6 in brackets), registrator's etcd layout.
 */
export type EtcdValueFormat = 'json' | 'plain';

/** registrator's key: the URI path, then `/<name>/<id>`. */
export function serviceKey(prefix: string, name: string, id: string): string {
  return `${prefix}/${name}/${id}`;
}

export function encodeService(service: ServiceDefinition, format: EtcdValueFormat): string {
  if (format === 'plain') return joinHostPort(service.address, service.port);
  const { id, name, address, port, tags, meta } = service;
  return JSON.stringify({ id, name, address, port, tags, meta });
}

/**
 * Reads a value written in either format back into a service; `relativeKey`
 * is the key without `PREFIX/` (`<name>/<id>`). Undefined for a key that is
 * not a service instance.
 */
export function decodeService(relativeKey: string, value: string): RegisteredService | undefined {
  const slash = relativeKey.indexOf('/');
  if (slash <= 0 || slash === relativeKey.length - 1) return undefined;
  const keyName = relativeKey.slice(0, slash);
  const keyId = relativeKey.slice(slash + 1);
  if (value.trimStart().startsWith('{')) {
    let doc: unknown;
    try { doc = JSON.parse(value); } catch { return undefined; }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
    const d = doc as Record<string, unknown>;
    return {
      id: typeof d.id === 'string' ? d.id : keyId,
      name: typeof d.name === 'string' ? d.name : keyName,
      address: typeof d.address === 'string' ? d.address : '',
      port: typeof d.port === 'number' ? d.port : 0,
      tags: Array.isArray(d.tags) ? d.tags.filter((t): t is string => typeof t === 'string') : [],
      meta: stringRecord(d.meta),
    };
  }
  const hostPort = splitHostPort(value.trim());
  if (!hostPort) return undefined;
  return { id: keyId, name: keyName, address: hostPort.host, port: hostPort.port, tags: [], meta: {} };
}

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
