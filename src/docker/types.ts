import type { ServiceDefinition } from '../agent/definition.js';

/**
 * The subset of Docker's `GET /containers/:id/json` (container inspection)
 * that the mapping reads. Field names as the Engine API sends them.
 */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Config: {
    Hostname?: string;
    Image?: string;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
    Healthcheck?: { Test?: string[] | null } | null;
  };
  State?: {
    Status?: string;
    Running?: boolean;
    ExitCode?: number;
    Health?: { Status?: string } | null;
  };
  HostConfig?: {
    NetworkMode?: string;
  };
  NetworkSettings?: {
    IPAddress?: string;
    Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | null;
  };
}

/** Options of the mapping, from the sidecar's flags (registrator's names). */
export interface MappingOptions {
  /** `os.hostname()` of the sidecar (or `-hostname`): first part of every service ID. */
  hostname: string;
  /** The address `hostname` resolves to, used when a port is bound to 0.0.0.0 (registrator's DNS lookup, done by the caller). */
  hostnameIp?: string;
  /** `-ip`: forces the host IP of every published port. */
  ip?: string;
  /** `-internal`: register container IP and exposed port. */
  internal: boolean;
  /** `-explicit`: only ports with a name from SERVICE_NAME / SERVICE_<port>_NAME. */
  explicit: boolean;
  /** `-useIpFromLabel`: a label whose value (up to a `/`) is the service IP. */
  useIpFromLabel?: string;
  /** `-tags`: tags for every service; a Go-style template over the inspection when it contains `{{`. */
  tags?: string;
  /** `-ttl` in seconds, carried on each registration for TTL backends (etcd). */
  ttl: number;
  /** Inspections of containers that others share a network namespace with (`container:<id>` network mode), by id. */
  linked?: ReadonlyMap<string, ContainerInspect>;
}

/** One service a container should have, plus where it came from. */
export interface Registration {
  service: ServiceDefinition;
  containerId: string;
  /** Container name without the leading slash. */
  containerName: string;
  /** Exposed (container-side) port and protocol: `80`, `tcp`. */
  exposedPort: string;
  protocol: string;
  /** Registrator's `-ttl` for the backend (0: none). */
  ttl: number;
}

/** A problem with one container's metadata: logged as a warning, never fatal. */
export interface MappingWarning {
  container: string;
  key: string;
  message: string;
}

export interface MappingResult {
  registrations: Registration[];
  warnings: MappingWarning[];
  /** Why nothing was registered, when nothing was (e.g. "no published ports"). */
  skipped?: string;
}

/** The Meta keys by which the sidecar marks the registrations it owns. */
export const OWNER_META = 'muster-sidecar';
export const CONTAINER_META = 'muster-container';
/** The check that mirrors a container's Docker HEALTHCHECK status. */
export const DOCKER_HEALTH_CHECK_SUFFIX = ':docker-health';
