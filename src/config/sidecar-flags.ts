import type { FlagSpec } from './flags.js';
import { DEFAULTS } from './defaults.js';

/** registrator's flags (same names, types and units), shared by `muster agent` and `muster sidecar`. */
export const SIDECAR_FLAGS: readonly FlagSpec[] = [
  { name: 'ip', kind: 'string', help: 'IP for ports mapped to the host (registrator -ip)' },
  { name: 'internal', kind: 'bool', help: 'register the container IP and exposed port instead of the host mapping' },
  { name: 'explicit', kind: 'bool', help: 'only register containers that set SERVICE_NAME (or SERVICE_<port>_NAME)' },
  { name: 'tags', kind: 'string', help: 'tags added to every service; a Go-style template over the container inspection' },
  { name: 'ttl', kind: 'int', help: 'TTL in seconds for backends that expire entries (etcd)', default: String(DEFAULTS.sidecar.ttl) },
  { name: 'ttl-refresh', kind: 'int', help: 'seconds between TTL refreshes', default: String(DEFAULTS.sidecar.ttlRefresh) },
  { name: 'resync', kind: 'int', help: 'seconds between full reconciliations with Docker (0: only on start and reconnect)', default: String(DEFAULTS.sidecar.resync) },
  { name: 'deregister', kind: 'string', help: '"always" or "on-success": when to deregister a container that died', default: DEFAULTS.sidecar.deregister },
  { name: 'cleanup', kind: 'bool', help: 'remove dangling services of this host during reconciliation' },
  { name: 'retry-attempts', kind: 'int', help: 'backend pings at start before giving up (-1: forever)', default: String(DEFAULTS.sidecar.retryAttempts) },
  { name: 'retry-interval', kind: 'int', help: 'milliseconds between backend pings', default: String(DEFAULTS.sidecar.retryInterval) },
  { name: 'useIpFromLabel', kind: 'string', help: 'use the IP in this container label as the service IP' },
  { name: 'require-label', kind: 'string', help: 'only register containers that carry this label' },
  { name: 'hostname', kind: 'string', help: 'host name in service IDs (default: this machine\'s hostname)' },
  { name: 'docker', kind: 'string', help: 'Docker endpoint (unix:///path or tcp://host:port; "" disables)', default: `$DOCKER_HOST, else unix://${DEFAULTS.dockerSockets.join(' or ')}, the first that exists` },
];
