import { posix } from 'node:path';
import type { CheckDefinition, ServiceDefinition } from '../agent/definition.js';
import { errorMessage } from '../errors.js';
import {
  bindingHostIp, containerIp, ipFromLabel, isIpAddress, linkedIp, networksOf, publishedIp,
} from './address.js';
import { buildCheck, dockerHealthCheck } from './checks.js';
import { buildMeta, isTruthy, metaSource, metaValue, readMetadata, splitTags, type PortMetadata } from './metadata.js';
import { compileTagTemplate } from './template.js';
import {
  CONTAINER_META, OWNER_META,
  type ContainerInspect, type MappingOptions, type MappingResult, type MappingWarning, type Registration,
} from './types.js';

/**
 * Container inspection → the services it should have, the way registrator
 * (master) maps them (spec §2, checks §3.1), as a pure function: no Docker
 * client, no I/O, no clock. Problems with a container's metadata become
 * `warnings` (never exceptions); the rest of the container is still mapped.
 *
 * Deliberate differences from registrator (the sensible fix where its
 * behaviour is plainly a bug), each explained where it is implemented:
 * `SERVICE_IGNORE=false|0|no|off` does not ignore; tags keep their written
 * order and lose duplicates; `check_*`, `ip`, `network`, `ignore` stay out of
 * Meta and invalid Meta entries are dropped; the IP with several networks is
 * chosen deterministically; services come out sorted by port; a generic
 * SERVICE_ID on a multi-port container gets `:<port>` appended; sctp ports get
 * an `:sctp` ID suffix; an empty `SERVICE_<port>_NAME=` does not suppress the
 * group suffix. Beyond registrator: compose names, `SERVICE_IP`,
 * `SERVICE_NETWORK`, a TTL check mirroring the Docker HEALTHCHECK, owner marks
 * in Meta.
 */

const COMPOSE_SERVICE = 'com.docker.compose.service';
const COMPOSE_PROJECT = 'com.docker.compose.project';
const SERVICE_NAME = /^[A-Za-z0-9_.-]+$/;
const PORT_KEY = /^(\d+)(?:\/([A-Za-z0-9]+))?$/;
const DEFAULT_WEIGHTS = { passing: 1, warning: 1 } as const;

type Binding = { HostIp?: string; HostPort?: string };

/** One port of the container that may become a service (registrator's ServicePort). */
interface Candidate {
  exposedPort: string;
  protocol: string;
  /** First binding only, as registrator; `--net=host` exposed ports bind to their own number. */
  binding: Binding | undefined;
}

/** Everything that is the same for all ports of one container. */
interface ContainerContext {
  info: ContainerInspect;
  opts: MappingOptions;
  name: string;
  forceTags: string[];
  warn: (key: string, message: string) => void;
}

/** Registrator's candidate ports (spec §2.2): exposed ports, replaced by runtime bindings. */
function candidates(info: ContainerInspect, warn: ContainerContext['warn']): Candidate[] {
  const bindings = new Map<string, Binding[]>();
  for (const key of Object.keys(info.Config.ExposedPorts ?? {})) {
    // `--net=host`: NetworkSettings.Ports is empty, so the exposed port is
    // registered with host port = container port, even without -internal.
    bindings.set(key, [{ HostIp: '0.0.0.0', HostPort: key.split('/')[0] ?? '' }]);
  }
  for (const [key, published] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    bindings.set(key, published ?? []);
  }
  const out: Candidate[] = [];
  for (const [key, published] of bindings) {
    const m = PORT_KEY.exec(key);
    const port = m ? Number(m[1]) : NaN;
    if (!m || port < 1 || port > 65535) {
      warn(key, `port "${key}" is not <number>/<protocol>; skipped`);
      continue;
    }
    out.push({ exposedPort: String(port), protocol: (m[2] ?? 'tcp').toLowerCase(), binding: published[0] });
  }
  // Registrator followed Go's random map order; sort by port, then protocol.
  return out.sort((a, b) => Number(a.exposedPort) - Number(b.exposedPort) || a.protocol.localeCompare(b.protocol));
}

/** Registrator's default name: image basename without tag (`reg:5000/team/app:1.2` → `app`), minus any digest. */
export function imageName(image: string): string {
  return (posix.basename(image) || '.').split('@')[0]?.split(':')[0] ?? '';
}

/** The name from SERVICE_[<port>_]NAME when valid, and whether it was port-specific. */
function explicitName(ctx: ContainerContext, md: PortMetadata): { name: string; fromPort: boolean } | undefined {
  const name = metaValue(md, 'name');
  if (name === undefined) return undefined;
  if (!SERVICE_NAME.test(name)) {
    ctx.warn(metaSource(md, 'name'), `service name "${name}" has characters outside [A-Za-z0-9_.-]; using the default name`);
    return undefined;
  }
  // Registrator also suppressed the group suffix for an empty SERVICE_<p>_NAME=; only a real name does here.
  return { name, fromPort: md.fromPort.has('name') };
}

/** Compose containers default to the compose service name (and get the project as a tag); others to the image. */
function defaultName(ctx: ContainerContext): { name: string; project?: string } {
  const labels = ctx.info.Config.Labels ?? {};
  const compose = labels[COMPOSE_SERVICE];
  if (compose !== undefined && compose !== '') {
    if (SERVICE_NAME.test(compose)) {
      const project = labels[COMPOSE_PROJECT];
      return project ? { name: compose, project } : { name: compose };
    }
    ctx.warn(COMPOSE_SERVICE, `compose service "${compose}" is not a valid service name; using the image name`);
  }
  return { name: imageName(ctx.info.Config.Image ?? '') };
}

function dedupe(tags: string[]): string[] {
  return [...new Set(tags)];
}

/** The per-container `SERVICE_NETWORK`, when it names an attached network. */
function serviceNetwork(ctx: ContainerContext, md: PortMetadata): string | undefined {
  const network = metaValue(md, 'network');
  if (network === undefined) return undefined;
  if (!networksOf(ctx.info)[network]?.IPAddress) {
    ctx.warn(metaSource(md, 'network'), `network "${network}" is not attached to the container; ignored`);
    return undefined;
  }
  return network;
}

/** IP and port (spec §2.4); undefined when the host port is unusable. */
function address(ctx: ContainerContext, md: PortMetadata, c: Candidate): { ip: string; port: number } | undefined {
  const { info, opts } = ctx;
  const network = serviceNetwork(ctx, md);
  let ip: string;
  let port: number;
  if (opts.internal) {
    ip = containerIp(info, network);
    port = Number(c.exposedPort);
  } else {
    const hostPort = c.binding?.HostPort ?? '';
    port = /^\d+$/.test(hostPort) ? Number(hostPort) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      ctx.warn(`${c.exposedPort}/${c.protocol}`, `host port "${hostPort}" is not a port number; skipped`);
      return undefined;
    }
    ip = publishedIp(bindingHostIp(info, c.binding?.HostIp, network), opts);
  }
  if (opts.useIpFromLabel !== undefined && opts.useIpFromLabel !== '') {
    const fromLabel = ipFromLabel(info, opts.useIpFromLabel);
    if (fromLabel !== undefined && 'ip' in fromLabel) ip = fromLabel.ip;
    else if (fromLabel !== undefined) ctx.warn(opts.useIpFromLabel, `label value "${fromLabel.bad}" is not an IP address; ignored`);
  }
  const linked = linkedIp(info, opts);
  if (linked !== undefined) {
    if (linked.ip !== '') ip = linked.ip;
    else ctx.warn('NetworkMode', linked.found
      ? `network container ${linked.ref.slice(0, 12)} has no IP address; keeping ${ip}`
      : `network container ${linked.ref.slice(0, 12)} was not inspected; keeping ${ip}`);
  }
  // SERVICE_IP (beyond registrator): the container's own word on its address wins.
  const own = metaValue(md, 'ip');
  if (own !== undefined) {
    if (isIpAddress(own)) ip = own;
    else ctx.warn(metaSource(md, 'ip'), `"${own}" is not an IP address; ignored`);
  }
  return { ip, port };
}

/** Registrator's newService for one candidate; undefined with a reason when the port is not registered. */
function mapPort(ctx: ContainerContext, c: Candidate, isGroup: boolean): Registration | { skipped: string } {
  const { info, opts } = ctx;
  const md = readMetadata(info, c.exposedPort);
  if (isTruthy(metaValue(md, 'ignore'))) return { skipped: 'ignored' };

  const given = explicitName(ctx, md);
  if (given === undefined && opts.explicit) return { skipped: 'no service name (-explicit)' };
  const fallback = given === undefined ? defaultName(ctx) : undefined;
  let name = given?.name ?? fallback?.name ?? '';
  if (isGroup && !given?.fromPort) name += `-${c.exposedPort}`;

  const where = address(ctx, md, c);
  if (where === undefined) return { skipped: 'bad host port' };

  // hostname:container:port, `:udp` for udp (and `:sctp` for sctp, which
  // registrator left bare so that it collided with tcp). Without a hostname
  // registrator used the host IP (before the hostname lookup) instead.
  const suffix = c.protocol === 'tcp' ? '' : c.protocol === 'udp' ? ':udp' : `:${c.protocol}`;
  const idHost = opts.hostname || bindingHostIp(info, c.binding?.HostIp, undefined);
  let id = `${idHost}:${ctx.name}:${c.exposedPort}${suffix}`;
  const customId = metaValue(md, 'id');
  if (customId !== undefined) {
    // SERVICE_ID replaces the whole ID (registrator), but a generic one on a
    // multi-port container would give every port the same ID, each overwriting
    // the previous: keep them apart with the port (and protocol).
    id = isGroup && !md.fromPort.has('id') ? `${customId}:${c.exposedPort}${suffix}` : customId;
  }

  const tags = dedupe([
    ...splitTags(metaValue(md, 'tags') ?? ''),
    ...ctx.forceTags,
    ...(fallback?.project !== undefined ? [fallback.project] : []),
    ...(c.protocol === 'udp' ? ['udp'] : []),
  ]);

  const { meta, problems } = buildMeta(md, { [OWNER_META]: opts.hostname, [CONTAINER_META]: info.Id });
  for (const p of problems) ctx.warn(p.key, p.message);

  const checks: CheckDefinition[] = [];
  const check = buildCheck({ md, ip: where.ip, port: where.port, warn: ctx.warn });
  const health = dockerHealthCheck(info, id);
  if (check !== undefined) checks.push(check);
  if (health !== undefined) {
    // With a second check the agent would number them (`service:<id>:1`);
    // pin the SERVICE_CHECK one to the ID it gets when alone.
    if (check !== undefined) check.checkId = `service:${id}`;
    checks.push(health);
  }

  const service: ServiceDefinition = {
    id, name, tags, address: where.ip, port: where.port, meta,
    enableTagOverride: false, weights: { ...DEFAULT_WEIGHTS }, checks,
  };
  return {
    service, containerId: info.Id, containerName: ctx.name,
    exposedPort: c.exposedPort, protocol: c.protocol, ttl: opts.ttl,
  };
}

/** The `-tags` value for this container, split like SERVICE_TAGS. */
function forceTags(info: ContainerInspect, tags: string | undefined, warn: ContainerContext['warn']): string[] {
  if (tags === undefined || tags === '') return [];
  let out: string;
  try {
    out = compileTagTemplate(tags)(info, (message) => warn('-tags', `template failed: ${message}`));
  } catch (err) {
    // The CLI rejects a malformed template at startup; a caller that did not gets a warning.
    warn('-tags', errorMessage(err));
    return [];
  }
  return splitTags(out);
}

export function mapContainer(info: ContainerInspect, opts: MappingOptions): MappingResult {
  const name = info.Name.replace(/^\//, '');
  const seen = new Set<string>();
  const warnings: MappingWarning[] = [];
  const warn = (key: string, message: string): void => {
    // Generic metadata is read once per port: report each problem once.
    const k = `${key}\u0000${message}`;
    if (!seen.has(k)) { seen.add(k); warnings.push({ container: name, key, message }); }
  };

  const all = candidates(info, warn);
  if (all.length === 0) return { registrations: [], warnings, skipped: 'no published ports' };
  const ports = opts.internal ? all : all.filter((c) => (c.binding?.HostPort ?? '') !== '');
  if (ports.length === 0) return { registrations: [], warnings, skipped: 'ports not published on host' };

  // Registrator decides "group" before ignore/-explicit filtering, so a port
  // whose sibling is ignored still gets the `-<port>` suffix.
  const isGroup = ports.length > 1;
  const ctx: ContainerContext = { info, opts, name, forceTags: forceTags(info, opts.tags, warn), warn };
  const registrations: Registration[] = [];
  const reasons = new Set<string>();
  for (const c of ports) {
    const r = mapPort(ctx, c, isGroup);
    if ('skipped' in r) reasons.add(r.skipped);
    else registrations.push(r);
  }
  if (registrations.length === 0) return { registrations, warnings, skipped: [...reasons].join(', ') };
  return { registrations, warnings };
}
