import type { FlagSpec } from './flags.js';
import { DEFAULTS } from './defaults.js';
import { SIDECAR_FLAGS } from './sidecar-flags.js';

/** `muster agent` flags: Consul's names, then registrator's for the embedded sidecar. */
export const AGENT_FLAGS: readonly FlagSpec[] = [
  { name: 'dev', kind: 'bool', help: 'development mode: one in-memory server on 127.0.0.1' },
  { name: 'server', kind: 'bool', help: 'run as a server (keeps and replicates the catalog)' },
  { name: 'bootstrap-expect', kind: 'int', help: 'servers to wait for before electing a leader' },
  { name: 'bootstrap', kind: 'bool', help: 'bootstrap a single-server cluster (same as -bootstrap-expect=1)' },
  { name: 'node', kind: 'string', help: 'node name', default: 'hostname' },
  { name: 'node-id', kind: 'string', help: 'node UUID', default: 'derived from the node name' },
  { name: 'datacenter', kind: 'string', help: 'datacenter name', default: DEFAULTS.datacenter, aliases: ['dc'] },
  { name: 'domain', kind: 'string', help: 'DNS domain', default: DEFAULTS.domain },
  { name: 'bind', kind: 'string', help: 'address for cluster traffic', default: DEFAULTS.bindAddr },
  { name: 'client', kind: 'string', help: 'address for the HTTP and DNS interfaces', default: DEFAULTS.clientAddr },
  { name: 'advertise', kind: 'string', help: 'address advertised to other agents', default: 'the bind address' },
  { name: 'http-port', kind: 'int', help: 'HTTP API port (0: any free port)', default: String(DEFAULTS.ports.http) },
  { name: 'dns-port', kind: 'int', help: 'DNS port (-1 disables)', default: String(DEFAULTS.ports.dns) },
  { name: 'server-port', kind: 'int', help: 'server RPC port', default: String(DEFAULTS.ports.server) },
  { name: 'serf-lan-port', kind: 'int', help: 'gossip LAN port', default: String(DEFAULTS.ports.serfLan) },
  { name: 'serf-wan-port', kind: 'int', help: 'gossip WAN port', default: String(DEFAULTS.ports.serfWan) },
  { name: 'data-dir', kind: 'string', help: 'directory for persistent state (required for servers, except -dev)' },
  { name: 'log-level', kind: 'string', help: 'trace, debug, info, warn or err', default: DEFAULTS.logLevel },
  { name: 'config-file', kind: 'list', help: 'JSON config file (repeatable; later files win)' },
  { name: 'config-dir', kind: 'list', help: 'directory of *.json config files, read in lexical order (repeatable)' },
  { name: 'pid-file', kind: 'string', help: 'write the process id to this file' },
  { name: 'ui', kind: 'bool', help: 'serve the web UI' },
  { name: 'enable-script-checks', kind: 'bool', help: 'accepted for compatibility; script checks are not run' },
  { name: 'node-meta', kind: 'list', help: 'node metadata key:value (repeatable)' },
  { name: 'join', kind: 'list', help: 'address of an agent to join at start (repeatable; the start fails if none answers)' },
  { name: 'retry-join', kind: 'list', help: 'address to join, retrying until one answers (repeatable)' },
  { name: 'retry-interval', kind: 'duration', help: 'time between -retry-join attempts', default: '30s' },
  { name: 'retry-max', kind: 'int', help: '-retry-join attempts before the agent gives up and exits (0: forever)', default: '0' },
  { name: 'rejoin', kind: 'bool', help: 'rejoin the members known before a graceful leave (needs -data-dir)' },
  { name: 'leave-on-terminate', kind: 'bool', help: 'leave the cluster gracefully on SIGTERM', default: 'on for clients, off for servers' },
  { name: 'skip-leave-on-interrupt', kind: 'bool', help: 'stop without leaving the cluster on SIGINT', default: 'on for servers, off for clients' },
  { name: 'encrypt', kind: 'string', help: 'gossip encryption key: base64 of 16, 24 or 32 bytes (muster keygen)' },
  // the embedded sidecar writes to this agent: registrator's backend ping flags do not apply, and
  // its -retry-interval (ms) would shadow Consul's -retry-interval (a duration) above
  ...SIDECAR_FLAGS.filter((f) => f.name !== 'retry-interval' && f.name !== 'retry-attempts'),
];
