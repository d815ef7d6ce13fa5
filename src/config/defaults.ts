/**
 * Every agent-level default, once. Values are Consul's where Consul has the
 * setting (so compose files and habits carry over) and registrator's for the
 * sidecar flags.
 */
export const DEFAULTS = Object.freeze({
  datacenter: 'dc1',               // Consul's default datacenter
  domain: 'consul.',               // DNS domain, as Consul
  bindAddr: '0.0.0.0',             // gossip + server RPC bind
  clientAddr: '127.0.0.1',         // HTTP/DNS bind: loopback unless asked
  logLevel: 'info',
  ports: Object.freeze({
    http: 8500,                    // Consul HTTP API
    dns: 8600,                     // -1 disables
    server: 8300,                  // server RPC / raft
    serfLan: 8301,                 // gossip LAN, UDP and TCP
    serfWan: 8302,                 // gossip WAN
  }),
  // the embedded sidecar's endpoint without -docker or DOCKER_HOST: the first of these that exists
  // (registrator's users mount the socket at /tmp/docker.sock)
  dockerSockets: Object.freeze(['/var/run/docker.sock', '/tmp/docker.sock']),
  retryIntervalMs: 30_000,         // -retry-interval, as Consul
  leaveTimeoutMs: 5_000,           // how long a graceful leave may take to gossip before the agent stops
  memberReconcileIntervalMs: 60_000, // servers compare gossip members with the catalog this often
  antiEntropyIntervalMs: 60_000,   // Consul syncs every 1 min for clusters of <=128 nodes
  reapIntervalMs: 30_000,          // Consul's reaper for DeregisterCriticalServiceAfter runs every 30 s
  sidecar: Object.freeze({
    ttl: 0,                        // registrator: no backend TTL
    ttlRefresh: 0,
    resync: 0,                     // registrator: never; reconciliation still runs on start and reconnect
    deregister: 'always' as const,
    cleanup: false,
    retryAttempts: 0,              // registrator: one ping, then give up (Muster keeps retrying in the background)
    retryInterval: 2000,           // ms between backend pings
    tags: '',
    internal: false,
    explicit: false,
  }),
  raft: Object.freeze({
    tickMs: 50,                    // one raft tick
    heartbeatTicks: 2,             // leader heartbeat every 100 ms, as etcd
    electionTicks: 14,             // election timeout randomized in 0.7-1.4 s (Consul LAN: 1 s base)
    maxSizePerMsg: 1024 * 1024,    // bytes of entries in one append
    maxInflight: 256,              // appends in flight per follower (pipelining window)
    maxCommittedSizePerReady: 16 * 1024 * 1024, // bytes applied per batch
    snapshotThreshold: 8192,       // Consul's raft_snapshot_threshold
    trailingLogs: 10_240,          // Consul's raft_trailing_logs
    // at most one snapshot per 30 s unless the log reaches 4 thresholds (hashicorp/raft, whose
    // threshold and trailing logs these are, checks every 120 s)
    snapshotIntervalMs: 30_000,
    holdMs: 5_000,                 // a write waits this long for a leader before "No cluster leader" (Consul: rpc_hold_timeout 7 s)
    // default-mode reads: the leader answers alone while a quorum answered it this recently,
    // else it confirms with a quorum round first; half the 700 ms minimum election timeout
    leaseMs: 350,
    readBarrierMs: 2_000,          // ?consistent: how long to wait for a quorum to confirm the leader
    // a leader holds a commit notice this long for the next append to carry it (Consul's raft
    // CommitTimeout is 50 ms): followers apply up to this much later when writes stop
    commitNoticeMs: 10,
  }),
  dns: Object.freeze({
    serviceTtlMs: 0,               // Consul's dns_config.service_ttl: answers are not cached
    nodeTtlMs: 0,                  // dns_config.node_ttl
    onlyPassing: false,            // dns_config.only_passing: warning instances are answered, critical never
    enableTruncate: true,          // TC on a trimmed UDP answer so resolvers retry over TCP (Consul's default is false)
    udpMaxBytes: 512,              // RFC 1035 UDP answer size without EDNS
    maxNameservers: 3,             // NS records at the apex, as Consul
    tcpIdleTimeoutMs: 10_000,      // a TCP connection with no query for this long is closed
    clientReadHoldMs: 2_000,       // a client agent's lookup tries the servers this long before SERVFAIL (resolvers give up at ~5 s)
    soa: Object.freeze({           // dns_config.soa, Consul's values (seconds)
      refresh: 3600,
      retry: 600,
      expire: 86_400,
      minTtl: 0,                   // also the SOA's own TTL, so negative answers are not cached
    }),
  }),
  http: Object.freeze({
    defaultWaitMs: 5 * 60_000,     // blocking query default wait
    maxWaitMs: 10 * 60_000,        // and its ceiling
    maxBodyBytes: 8 * 1024 * 1024, // request bodies other than KV values
    kvMaxValueBytes: 524_288,      // kv_max_value_size
  }),
});
