import { GossipConfigError } from './errors.js';

/**
 * Every timer and multiplier of the gossip protocol, in milliseconds or plain
 * counts. The values are HashiCorp memberlist's (DefaultLANConfig) and, for the
 * member bookkeeping above it, Serf's. The formulas they feed are written next
 * to each field so that tuning one knob says what it trades.
 *
 * N below is the number of live (alive or suspect) members this member knows,
 * itself included.
 */
export interface GossipConfig {
  /** Time between two failure-detection probes of this member (one member
   *  probed per interval, round-robin over a shuffled list). Also the unit of
   *  the suspicion timeout. Lower: faster detection, more probe traffic.
   *  Default 1000 ms. */
  probeIntervalMs: number;
  /** How long a direct ping waits for its ack before indirect pings are sent
   *  through `indirectChecks` other members. Should be above the 99th percentile
   *  round-trip time; must be below probeIntervalMs. Lower: faster detection,
   *  more indirect probes on a slow network. Default 500 ms. */
  probeTimeoutMs: number;
  /** Members asked to ping a target that missed its direct ack (SWIM ping-req).
   *  Higher: fewer false suspicions under packet loss, more traffic per failed
   *  probe. 0 disables indirect probes. Default 3. */
  indirectChecks: number;
  /** Suspicion timeout before a suspect member is declared dead:
   *  min = suspicionMult × max(1, log10(N)) × probeIntervalMs. Higher: fewer
   *  false deaths of slow members, slower detection of crashed ones. Default 4. */
  suspicionMult: number;
  /** The suspicion timeout starts at max = suspicionMaxTimeoutMult × min and
   *  shrinks towards min as independent members confirm the suspicion
   *  (Lifeguard; suspicionMult − 2 confirmations reach min). Higher: a lone
   *  accuser (perhaps itself unhealthy) takes longer to kill. Default 6. */
  suspicionMaxTimeoutMult: number;
  /** Each broadcast (alive/suspect/dead) is piggybacked on at most
   *  retransmitMult × ceil(log10(N + 1)) outgoing packets by every member that
   *  relays it. Higher: surer dissemination under loss, more bytes. Default 6
   *  (memberlist: 4). With 4, a cluster of 10-99 members relays each update 8
   *  times per member, and about one update in 40 misses some member of 80
   *  until the next push-pull (30 s later); with 6, about one in 2000. */
  retransmitMult: number;
  /** Time between two gossip rounds, each sending pending broadcasts to
   *  `gossipNodes` random members. Lower: faster dissemination, more packets.
   *  Default 200 ms. */
  gossipIntervalMs: number;
  /** Fanout: members gossiped to per gossip round. Higher: fewer rounds
   *  (≈ log_fanout N), more packets per round. 0 disables gossip rounds
   *  (broadcasts then only ride on probes). Default 3. */
  gossipNodes: number;
  /** A dead member keeps receiving gossip for this long, so that a member that
   *  was only partitioned or paused hears it was declared dead and refutes.
   *  Default 30000 ms (the push-pull interval). */
  gossipToTheDeadTimeMs: number;
  /** Time between full state exchanges (push-pull over TCP) with one random
   *  live member; scaled up by ceil(log2(N) − log2(32)) + 1 above 32 members.
   *  The backstop for anything gossip missed. 0 disables periodic push-pull
   *  (joins still push-pull). Lower: faster convergence, more TCP traffic.
   *  Default 30000 ms. */
  pushPullIntervalMs: number;
  /** Local health (Lifeguard): a member that misses acks or must refute
   *  suspicions of itself scales its probe timeouts by up to this factor, so a
   *  struggling member slows its own judgements of others. 1 disables.
   *  Default 8. */
  awarenessMaxMultiplier: number;
  /** A dead member's name may be taken by a member at another address once it
   *  has been dead this long. 0 means never (a left member's name is always
   *  free). Default 0. */
  deadNodeReclaimTimeMs: number;
  /** Largest UDP payload this member sends (before encryption overhead is
   *  subtracted). Larger: more broadcasts per packet, risk of IP fragmentation
   *  above the path MTU. Default 1400 bytes. */
  udpBufferSize: number;
  /** Timeout of one TCP push-pull exchange (connect, write, read). Default 10000 ms. */
  tcpTimeoutMs: number;
  /** Time between attempts to reconnect to a failed member (Serf): each
   *  interval, with probability failed/alive, push-pull with one random failed
   *  member. This is what heals a partition that outlived gossipToTheDeadTimeMs.
   *  0 disables. Default 30000 ms. */
  reconnectIntervalMs: number;
  /** A failed (dead) member is forgotten (event `reap`) after this long.
   *  Default 86400000 ms (Serf's 24 h; Consul's reconnect_timeout is 72 h). */
  reconnectTimeoutMs: number;
  /** A member that left gracefully is forgotten after this long. Default
   *  86400000 ms (Serf's tombstone timeout). */
  tombstoneTimeoutMs: number;
  /** Time between two scans for members to reap. Default 15000 ms (Serf). */
  reapIntervalMs: number;
}

const LAN: GossipConfig = Object.freeze({
  probeIntervalMs: 1000, // failure check every second
  probeTimeoutMs: 500, // reasonable round-trip time on a LAN
  indirectChecks: 3, // ask 3 members to ping a silent target
  suspicionMult: 4, // suspect for 4 × log10(N) × probe interval
  suspicionMaxTimeoutMult: 6, // a lone accuser waits 6× that
  retransmitMult: 6, // relay each broadcast 6 × ceil(log10(N+1)) times (memberlist: 4; see the field's doc)
  gossipIntervalMs: 200, // gossip rapidly
  gossipNodes: 3, // to 3 members per round
  gossipToTheDeadTimeMs: 30_000, // same as push-pull
  pushPullIntervalMs: 30_000, // full sync is expensive: low frequency
  awarenessMaxMultiplier: 8, // probe timeouts back off to 8 s
  deadNodeReclaimTimeMs: 0, // a dead member's name is never taken over
  udpBufferSize: 1400, // below a 1500-byte Ethernet MTU with headers
  tcpTimeoutMs: 10_000, // one push-pull exchange
  reconnectIntervalMs: 30_000, // Serf's reconnect interval
  reconnectTimeoutMs: 24 * 3600_000, // Serf keeps failed members a day
  tombstoneTimeoutMs: 24 * 3600_000, // and left members a day
  reapIntervalMs: 15_000, // Serf's reap interval
});

/** memberlist's DefaultLANConfig (and Serf's member bookkeeping). Frozen. */
export function defaultLanConfig(): Readonly<GossipConfig> {
  return LAN;
}

/** memberlist's DefaultWANConfig: LAN with slower, more tolerant timers. Frozen. */
export function defaultWanConfig(): Readonly<GossipConfig> {
  return Object.freeze({
    ...LAN,
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3000,
    probeIntervalMs: 5000,
    gossipNodes: 4, // gossip less often, to one more member
    gossipIntervalMs: 500,
    gossipToTheDeadTimeMs: 60_000,
  });
}

/** memberlist's DefaultLocalConfig: LAN tuned for loopback. Frozen. */
export function defaultLocalConfig(): Readonly<GossipConfig> {
  return Object.freeze({
    ...LAN,
    tcpTimeoutMs: 1000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    gossipToTheDeadTimeMs: 15_000,
  });
}

type Rule = [field: keyof GossipConfig, min: number, max: number];

// min/max are inclusive; every field must also be an integer.
const RULES: readonly Rule[] = [
  ['probeIntervalMs', 1, 3600_000],
  ['probeTimeoutMs', 1, 3600_000],
  ['indirectChecks', 0, 16],
  ['suspicionMult', 1, 100],
  ['suspicionMaxTimeoutMult', 1, 100],
  ['retransmitMult', 1, 100],
  ['gossipIntervalMs', 1, 3600_000],
  ['gossipNodes', 0, 64],
  ['gossipToTheDeadTimeMs', 0, 7 * 24 * 3600_000],
  ['pushPullIntervalMs', 0, 24 * 3600_000],
  ['awarenessMaxMultiplier', 1, 100],
  ['deadNodeReclaimTimeMs', 0, 365 * 24 * 3600_000],
  ['udpBufferSize', 1024, 65_507],
  ['tcpTimeoutMs', 1, 3600_000],
  ['reconnectIntervalMs', 0, 24 * 3600_000],
  ['reconnectTimeoutMs', 1, 365 * 24 * 3600_000],
  ['tombstoneTimeoutMs', 1, 365 * 24 * 3600_000],
  ['reapIntervalMs', 1, 24 * 3600_000],
];

/**
 * Fills `input` from `base` (LAN by default), checks every field and returns a
 * frozen copy; throws one GossipConfigError listing every problem.
 */
export function validateGossipConfig(
  input: Partial<GossipConfig> = {},
  base: Readonly<GossipConfig> = LAN,
): Readonly<GossipConfig> {
  const merged: GossipConfig = { ...base };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (!(key in LAN)) problems.push(`unknown field ${key}`);
    else if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  for (const [field, min, max] of RULES) {
    const v: unknown = merged[field];
    if (typeof v !== 'number' || !Number.isInteger(v)) problems.push(`${field} must be an integer (got ${String(v)})`);
    else if (v < min || v > max) problems.push(`${field} must be between ${min} and ${max} (got ${v})`);
  }
  if (problems.length === 0 && merged.probeTimeoutMs >= merged.probeIntervalMs) {
    problems.push(`probeTimeoutMs (${merged.probeTimeoutMs}) must be less than probeIntervalMs (${merged.probeIntervalMs})`);
  }
  if (problems.length > 0) throw new GossipConfigError(problems);
  return Object.freeze(merged);
}
