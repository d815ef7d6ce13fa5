/** Agent configuration after flags and files are merged and validated. Frozen. */
export interface AgentConfig {
  dev: boolean;
  server: boolean;
  bootstrapExpect: number;
  nodeName: string;
  nodeId: string;
  datacenter: string;
  domain: string;
  bindAddr: string;
  clientAddr: string;
  advertiseAddr: string;
  ports: Ports;
  /** Required for servers unless dev; undefined keeps state in memory. */
  dataDir: string | undefined;
  logLevel: string;
  pidFile: string | undefined;
  ui: boolean;
  enableScriptChecks: boolean;
  nodeMeta: Record<string, string>;
  /** Anti-entropy full sync period, ms. */
  antiEntropyIntervalMs: number;
  /** How often critical checks are examined for DeregisterCriticalServiceAfter, ms. */
  reapIntervalMs: number;
  /** Services and checks defined in config files (`service`, `services`, `check`, `checks`). */
  services: unknown[];
  checks: unknown[];
  /** Gossip: addresses to join at start (fail if none answers), and to keep trying in the background. */
  join: string[];
  retryJoin: string[];
  retryIntervalMs: number;
  /** -retry-join attempts before giving up (0: forever). */
  retryMax: number;
  rejoin: boolean;
  /** SIGTERM makes a graceful leave (members see `left`) before stopping; Consul's leave_on_terminate (default: clients yes, servers no). */
  leaveOnTerminate: boolean;
  /** SIGINT stops without a graceful leave; Consul's skip_leave_on_interrupt (default: servers yes, clients no). */
  skipLeaveOnInterrupt: boolean;
  /** Base64 gossip key; undefined: gossip in plaintext. */
  encrypt: string | undefined;
  /** The embedded sidecar; undefined when no Docker endpoint is used. */
  docker: string | undefined;
  /** True when `-docker` was given explicitly: an unreachable engine is then warned about on every retry. */
  dockerExplicit: boolean;
  sidecar: SidecarConfig;
  /** The DNS interface (`dns_config` in config files). */
  dns: DnsConfig;
}

/** Consul's `dns_config` keys that Muster honours. TTLs in ms (DNS carries whole seconds). */
export interface DnsConfig {
  /** Service name (or `prefix*`, or `*`) → TTL of its answers; an exact name wins over the longest prefix. */
  serviceTtlMs: Record<string, number>;
  nodeTtlMs: number;
  /** Answer only instances whose checks all pass (warning ones are left out too). */
  onlyPassing: boolean;
  /** Set TC when a UDP answer had to be trimmed to fit. */
  enableTruncate: boolean;
  /** SOA timers in seconds; `minTtl` is also the TTL of the SOA record. */
  soa: { refresh: number; retry: number; expire: number; minTtl: number };
}

export interface Ports {
  http: number;
  dns: number;
  server: number;
  serfLan: number;
  serfWan: number;
}

/** registrator's flags, plus Muster's additions. Durations in ms, except the TTLs that registrator counts in seconds. */
export interface SidecarConfig {
  hostname: string;
  ip: string | undefined;
  internal: boolean;
  explicit: boolean;
  tags: string;
  /** Seconds, as registrator's -ttl. */
  ttl: number;
  /** Seconds, as registrator's -ttl-refresh. */
  ttlRefresh: number;
  /** Seconds, as registrator's -resync (0: never). */
  resync: number;
  deregister: 'always' | 'on-success';
  cleanup: boolean;
  retryAttempts: number;
  /** Milliseconds, as registrator's -retry-interval. */
  retryInterval: number;
  useIpFromLabel: string | undefined;
  /** Only containers carrying this label (any value but false/0) are registered. */
  requireLabel: string | undefined;
}
