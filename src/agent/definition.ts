/**
 * What a registration asks for: the shape behind `/v1/agent/service/register`
 * and `/v1/agent/check/register`, in Muster's own camelCase with durations in
 * milliseconds. HTTP decodes Consul JSON into these; the sidecar's mapping
 * produces them; backends send them on (to the local agent, Consul or etcd).
 */
export type HealthStatus = 'passing' | 'warning' | 'critical' | 'maintenance';

export const HEALTH_STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical', 'maintenance'];

export interface CheckDefinition {
  /** Default: `service:<serviceId>` for a service's single check, else the name. */
  checkId?: string;
  name?: string;
  notes?: string;
  serviceId?: string;
  /** Initial status; Consul's default is critical. */
  status?: HealthStatus;
  /** HTTP check: the URL to GET (or `method`). */
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  tlsSkipVerify?: boolean;
  /** TCP check: `host:port` to connect to. */
  tcp?: string;
  /** TTL check: critical unless updated within this many ms. */
  ttlMs?: number;
  /** How often an HTTP/TCP check runs, in ms. */
  intervalMs?: number;
  /** HTTP/TCP timeout in ms (Consul's default 10 s). */
  timeoutMs?: number;
  /** Deregister the service once this check has been critical this long. */
  deregisterCriticalServiceAfterMs?: number;
  /** Script and gRPC checks are accepted on the wire but not run (script checks are off, as in Consul by default). */
  args?: string[];
  grpc?: string;
  grpcUseTls?: boolean;
  dockerContainerId?: string;
}

export interface Weights { passing: number; warning: number }

export interface ServiceDefinition {
  id: string;
  name: string;
  tags: string[];
  /** "" means: use the node's address. */
  address: string;
  port: number;
  meta: Record<string, string>;
  enableTagOverride: boolean;
  weights: Weights;
  checks: CheckDefinition[];
}

export type CheckType = 'http' | 'tcp' | 'ttl' | 'script' | 'grpc' | 'docker' | 'alias' | '';

/** The kind of check a definition describes, by which fields it sets (Consul's rules). */
export function checkTypeOf(def: CheckDefinition): CheckType {
  if (def.http) return 'http';
  if (def.tcp) return 'tcp';
  if (def.args && def.args.length > 0) return 'script';
  if (def.grpc) return 'grpc';
  if (def.ttlMs !== undefined && def.ttlMs > 0) return 'ttl';
  return '';
}
