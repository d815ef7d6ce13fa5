import type { CheckDefinition, HealthStatus } from '../agent/definition.js';
import { parseDurationMs } from '../config/duration.js';
import { joinHostPort } from './address.js';
import { isTruthy, metaSource, metaValue, type PortMetadata } from './metadata.js';
import { DOCKER_HEALTH_CHECK_SUFFIX, type ContainerInspect } from './types.js';

/** Registrator's default check interval (consul adapter `DefaultInterval`). */
export const DEFAULT_CHECK_INTERVAL_MS = 10_000;
/** TTL of the check that mirrors a Docker HEALTHCHECK; the sidecar refreshes it on every health event and resync. */
export const DOCKER_HEALTH_TTL_MS = 600_000;

const INITIAL_STATUSES: ReadonlySet<string> = new Set<HealthStatus>(['passing', 'warning', 'critical']);

export interface CheckInput {
  md: PortMetadata;
  /** The registered address and port (registrator's service.IP / service.Port). */
  ip: string;
  port: number;
  warn: (key: string, message: string) => void;
}

/**
 * The one check registrator builds from `SERVICE_[<port>_]CHECK_*` (consul
 * adapter `buildCheck`), or undefined. The first type set wins, in
 * registrator's order: http > https > cmd > script > ttl > tcp > grpc.
 * cmd and script checks are not run by Muster, so they give no check (and a
 * warning) rather than falling through to a lower type. The check has no ID
 * or name: the agent assigns `service:<id>`. Bad durations and statuses are
 * reported and left at their defaults; the service is still registered.
 */
export function buildCheck(input: CheckInput): CheckDefinition | undefined {
  const { md, warn } = input;
  const get = (key: string): string | undefined => metaValue(md, key);
  const hostPort = joinHostPort(input.ip, input.port);
  const check: CheckDefinition = {};
  let interval = true;

  const http = get('check_http');
  const https = get('check_https');
  if (http !== undefined) {
    check.http = `http://${hostPort}${http}`;
    const method = get('check_http_method');
    if (method !== undefined) check.method = method;
    applyTimeout(check, input);
  } else if (https !== undefined) {
    check.http = `https://${hostPort}${https}`;
    const method = get('check_https_method') ?? get('check_http_method');
    if (method !== undefined) check.method = method;
    if (isTruthy(get('check_tls_skip_verify'))) check.tlsSkipVerify = true;
    applyTimeout(check, input);
  } else if (get('check_cmd') !== undefined || get('check_script') !== undefined) {
    const key = get('check_cmd') !== undefined ? 'check_cmd' : 'check_script';
    warn(metaSource(md, key), 'script checks are not supported; no check registered');
    return undefined;
  } else if (get('check_ttl') !== undefined) {
    const ttl = duration(input, 'check_ttl');
    if (ttl === undefined) return undefined;
    check.ttlMs = ttl;
    interval = false;
  } else if (get('check_tcp') !== undefined) {
    check.tcp = hostPort;
    applyTimeout(check, input);
  } else if (get('check_grpc') !== undefined) {
    check.grpc = hostPort;
    applyTimeout(check, input);
    if (isTruthy(get('check_grpc_use_tls'))) {
      check.grpcUseTls = true;
      if (isTruthy(get('check_tls_skip_verify'))) check.tlsSkipVerify = true;
    }
  } else {
    // check_initial_status or check_interval alone make no check (registrator).
    return undefined;
  }

  if (interval) check.intervalMs = duration(input, 'check_interval') ?? DEFAULT_CHECK_INTERVAL_MS;
  const deregister = duration(input, 'check_deregister_after');
  if (deregister !== undefined) check.deregisterCriticalServiceAfterMs = deregister;
  const status = get('check_initial_status');
  if (status !== undefined) {
    if (INITIAL_STATUSES.has(status)) check.status = status as HealthStatus;
    else warn(metaSource(md, 'check_initial_status'), `invalid initial status "${status}" (want passing, warning or critical); ignored`);
  }
  return check;
}

function applyTimeout(check: CheckDefinition, input: CheckInput): void {
  const timeout = duration(input, 'check_timeout');
  if (timeout !== undefined) check.timeoutMs = timeout;
}

/** A positive Go duration from the metadata, in ms; undefined (and a warning when set) otherwise. */
function duration(input: CheckInput, key: string): number | undefined {
  const raw = metaValue(input.md, key);
  if (raw === undefined) return undefined;
  const ms = parseDurationMs(raw);
  if (ms === undefined || !(ms > 0)) {
    input.warn(metaSource(input.md, key), `invalid duration "${raw}"; ignored`);
    return undefined;
  }
  return ms;
}

/**
 * The TTL check mirroring a container's Docker HEALTHCHECK (beyond
 * registrator, issue #578), or undefined when the container has none
 * (`Test` absent, empty, or `["NONE"]`). Status: healthy → passing,
 * anything else (starting, unhealthy, unknown) → critical.
 */
export function dockerHealthCheck(info: ContainerInspect, serviceId: string): CheckDefinition | undefined {
  const test = info.Config.Healthcheck?.Test;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  return {
    checkId: `service:${serviceId}${DOCKER_HEALTH_CHECK_SUFFIX}`,
    name: 'Docker health status',
    ttlMs: DOCKER_HEALTH_TTL_MS,
    status: info.State?.Health?.Status === 'healthy' ? 'passing' : 'critical',
    notes: 'mirrors the container HEALTHCHECK',
  };
}
