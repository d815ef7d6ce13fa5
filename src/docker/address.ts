import { isIP } from 'node:net';
import type { ContainerInspect, MappingOptions } from './types.js';

/**
 * Where a service is reached: registrator's ServicePort → Service IP rules
 * (spec §2.3, §2.4), made deterministic, plus two per-container overrides
 * (spec §5): `SERVICE_NETWORK=<name>` and `SERVICE_IP=<ip>`.
 *
 * Order of precedence, last wins:
 *  1. published mode: the HostIp of the port's first binding; for a
 *     user-defined network mode the container's IP on that network instead;
 *     an unspecified address (`0.0.0.0`, `::`, empty) becomes
 *     `opts.hostnameIp` (registrator's DNS lookup of its hostname); `-ip`
 *     overrides all of that. `-internal`: the container IP (ExposedIP).
 *  2. `-useIpFromLabel` (labels only, cut at the last `/`).
 *  3. `container:<id>` network mode: the IP of the container whose network
 *     namespace is shared (from `opts.linked`).
 *  4. `SERVICE_IP` (beyond registrator): the most specific setting wins.
 */

/** Network modes in which a container is on Docker's default bridge or the host's stack. */
const PLAIN_MODES = new Set(['', 'bridge', 'default', 'host', 'none']);

export type Networks = Record<string, { IPAddress?: string }>;

export function networksOf(info: ContainerInspect): Networks {
  return info.NetworkSettings?.Networks ?? {};
}

/** A user-defined (or compose, or overlay) network mode, as opposed to bridge/host/none/container:. */
export function isUserNetworkMode(mode: string): boolean {
  return !PLAIN_MODES.has(mode) && !mode.startsWith('container:');
}

export function isUnspecified(ip: string): boolean {
  return ip === '' || ip === '0.0.0.0' || ip === '::' || ip === '[::]';
}

/**
 * The container's own IP (registrator's ExposedIP), chosen deterministically
 * where registrator took whichever network Go's map iteration gave last:
 * the `SERVICE_NETWORK` network, else `NetworkSettings.IPAddress` (default
 * bridge), else the network named by the network mode, else the
 * alphabetically first network with an address.
 */
export function containerIp(info: ContainerInspect, preferredNetwork?: string): string {
  const nets = networksOf(info);
  if (preferredNetwork !== undefined) {
    const ip = nets[preferredNetwork]?.IPAddress;
    if (ip) return ip;
  }
  const legacy = info.NetworkSettings?.IPAddress;
  if (legacy) return legacy;
  const mode = info.HostConfig?.NetworkMode ?? '';
  const byMode = nets[mode]?.IPAddress;
  if (byMode) return byMode;
  for (const name of Object.keys(nets).sort()) {
    const ip = nets[name]?.IPAddress;
    if (ip) return ip;
  }
  return '';
}

/**
 * The host-side IP of a published port before the hostname resolution: the
 * binding's HostIp, or for a user-defined network mode the container's IP on
 * that network (registrator's overlay rule, issue #337) — or on the
 * `SERVICE_NETWORK` network when that one is attached. When the lookup misses
 * (the mode names a network by ID, or `none`) the binding's address is kept,
 * where registrator would register "".
 */
export function bindingHostIp(info: ContainerInspect, bindingIp: string | undefined, serviceNetwork: string | undefined): string {
  let hostIp = bindingIp === undefined || bindingIp === '' ? '0.0.0.0' : bindingIp;
  const mode = info.HostConfig?.NetworkMode ?? '';
  if (isUserNetworkMode(mode)) {
    const nets = networksOf(info);
    const ip = (serviceNetwork !== undefined ? nets[serviceNetwork]?.IPAddress : undefined) || nets[mode]?.IPAddress;
    if (ip) hostIp = ip;
  }
  return hostIp;
}

/**
 * Published mode: unspecified addresses resolve to the sidecar host, `-ip`
 * overrides. When the host name does not resolve, the address is left empty,
 * which the catalog reads as "the node's address" (registrator would register
 * 0.0.0.0, which Consul refuses).
 */
export function publishedIp(hostIp: string, opts: MappingOptions): string {
  if (opts.ip !== undefined && opts.ip !== '') return opts.ip;
  if (isUnspecified(hostIp)) return opts.hostnameIp ?? '';
  return hostIp;
}

/** `-useIpFromLabel`: the label value up to its last `/`; undefined when absent, `{ bad }` when not an IP. */
export function ipFromLabel(info: ContainerInspect, label: string): { ip: string } | { bad: string } | undefined {
  const raw = info.Config.Labels?.[label];
  if (raw === undefined || raw === '') return undefined;
  const slash = raw.lastIndexOf('/');
  const ip = slash >= 0 ? raw.slice(0, slash) : raw;
  return isIP(ip) !== 0 ? { ip } : { bad: raw };
}

/**
 * `container:<id>` network mode: the IP of the container that owns the
 * namespace, looked up in `opts.linked` by full ID, then by ID prefix or name
 * (Docker stores the full ID, but a hand-made inspection may not).
 * undefined: not that mode; otherwise the reference, whether the other
 * container is known, and its IP when it has one.
 */
export function linkedIp(info: ContainerInspect, opts: MappingOptions): { ref: string; found: boolean; ip: string } | undefined {
  const mode = info.HostConfig?.NetworkMode ?? '';
  if (!mode.startsWith('container:')) return undefined;
  const ref = mode.slice('container:'.length);
  let other = opts.linked?.get(ref);
  if (other === undefined && opts.linked !== undefined && ref !== '') {
    for (const candidate of opts.linked.values()) {
      if (candidate.Id.startsWith(ref) || candidate.Name === `/${ref}`) { other = candidate; break; }
    }
  }
  if (other === undefined) return { ref, found: false, ip: '' };
  // Registrator takes the default-bridge IP only; when that is empty (the
  // other container is on a user network) fall back to its deterministic IP.
  return { ref, found: true, ip: containerIp(other) };
}

export function isIpAddress(value: string): boolean {
  return isIP(value) !== 0;
}

/** `host:port` with brackets around an IPv6 address, as a URL or dialer wants it. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
