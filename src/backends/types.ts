import type { HealthStatus } from '../agent/definition.js';
import type { Registration } from '../docker/types.js';

/** A service as a backend lists it: enough to tell whether it matches what is wanted. */
export interface RegisteredService {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/**
 * Where the sidecar writes registrations: the agent it is embedded in, a
 * Consul agent over HTTP, or etcd. Every call may fail (the registry is away);
 * the sidecar retries, so a backend never retries on its own and never
 * swallows an error.
 */
export interface Backend {
  /** For logs: `local agent`, `consul://127.0.0.1:8500`. */
  readonly name: string;
  /** Resolves when the registry answers. */
  ping(signal?: AbortSignal): Promise<void>;
  /** Creates or replaces the service and its checks. */
  register(reg: Registration): Promise<void>;
  /** Removes the service; an unknown id is not an error. */
  deregister(serviceId: string): Promise<void>;
  /** Every service the registry holds for this agent/host (owned or not: the caller filters). */
  services(): Promise<RegisteredService[]>;
  /** Sets a TTL check's status (Docker HEALTHCHECK mirroring). */
  updateCheck(checkId: string, status: HealthStatus, output: string): Promise<void>;
  /** Re-writes a service whose backend entry expires (registrator's -ttl-refresh); optional. */
  refresh?(reg: Registration): Promise<void>;
  close?(): Promise<void>;
}
