import type { Clock } from '../time.js';
import { MetricsRegistry, type Counter, type Gauge, type Histogram } from '../metrics/registry.js';
import type { GossipStatsSnapshot } from '../gossip/stats.js';
import type { Member, MemberState } from '../gossip/members.js';
import type { NodeId, Role } from '../raft/types.js';
import type { SidecarObserver } from '../docker/observer.js';

/** Bucket bounds in ms for latencies (HTTP, Raft, the sidecar): sub-ms to 10 s. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/** What ServerCluster reports; the clocks are read there (the Raft core has none). */
export interface RaftObserver {
  /** A command was proposed on this leader; `ms` until it was applied, or undefined if it failed. */
  proposed(ms: number | undefined): void;
  /** One entry was applied to the state store in `ms`. */
  fsmApplied(ms: number): void;
  stateChanged(role: Role, leader: NodeId): void;
}

/** Read when the metrics are collected. */
export interface RaftView {
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  isLeader: boolean;
  /** ms since the leader was last heard from; Infinity if never. */
  lastContactMs: number;
}

export interface GossipView {
  members: Member[];
  stats: GossipStatsSnapshot | undefined;
  healthScore: number;
}

/**
 * The agent's metrics: the registry it owns, and the instruments each part
 * records into. Names are Consul's where Consul has the metric
 * (`consul.raft.apply`, `consul.api.http`, `consul.memberlist.*`,
 * `consul.runtime.*`), `muster.*` otherwise. Latencies are in ms, as Consul's timers.
 */
export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  readonly startedAtMs: number;
  readonly raft: RaftObserver;
  readonly sidecar: SidecarObserver;
  private readonly httpLatency: Histogram;
  private readonly httpRequests: Counter;
  /** routeLabel of each route pattern seen (as many as there are routes). */
  private readonly routeLabels = new Map<string, string>();

  constructor(readonly clock: Clock) {
    this.startedAtMs = clock.now();
    const r = this.registry;
    this.httpLatency = r.histogram({ name: 'consul.api.http', help: 'HTTP API request duration in ms, by method and route (parameters as _).', labelNames: ['method', 'path'], buckets: LATENCY_BUCKETS_MS });
    this.httpRequests = r.counter({ name: 'muster.http.requests', help: 'HTTP API requests answered, by method, route (parameters as _) and status code.', labelNames: ['method', 'path', 'code'] });
    this.raft = this.raftInstruments();
    this.sidecar = this.sidecarInstruments();
    this.runtimeInstruments();
  }

  /** One HTTP request answered. `route` is the route's pattern, never the raw path (bounded labels). */
  requestServed(method: string, route: string, status: number, ms: number): void {
    let path = this.routeLabels.get(route);
    if (path === undefined) this.routeLabels.set(route, path = routeLabel(route));
    this.httpLatency.observe(ms, { method, path });
    this.httpRequests.inc({ method, path, code: String(status) });
  }

  /** Samples Raft's indexes and term at every collection (servers only: `view` is undefined on clients). */
  watchRaft(view: () => RaftView | undefined): void {
    const r = this.registry;
    const term = r.gauge({ name: 'muster.raft.term', help: 'Current Raft term of this server.' });
    const commit = r.gauge({ name: 'muster.raft.commit_index', help: 'Highest Raft log index known to be committed.' });
    const applied = r.gauge({ name: 'consul.raft.applied_index', help: 'Highest Raft log index applied to the state store.' });
    const last = r.gauge({ name: 'consul.raft.last_index', help: 'Highest index in this server\'s Raft log.' });
    const leader = r.gauge({ name: 'muster.raft.leader', help: '1 while this server is the Raft leader, else 0.' });
    const contact = r.gauge({ name: 'muster.raft.last_contact', help: 'ms since this server last heard from the leader (0 on the leader, -1 if never).' });
    r.onCollect(() => {
      const v = view();
      if (!v) return;
      term.set(v.term);
      commit.set(v.commit);
      applied.set(v.applied);
      last.set(v.lastIndex);
      leader.set(v.isLeader ? 1 : 0);
      contact.set(Number.isFinite(v.lastContactMs) ? v.lastContactMs : -1);
    });
  }

  /** Samples gossip membership and mirrors the gossip library's running totals at every collection. */
  watchGossip(view: () => GossipView): void {
    const r = this.registry;
    const members = r.gauge({ name: 'muster.gossip.members', help: 'LAN gossip members known to this agent, by status.', labelNames: ['status'] });
    const health = r.gauge({ name: 'consul.memberlist.health.score', help: 'Lifeguard local health score (0 is healthy).' });
    const mirrored: Array<[Counter, (s: GossipStatsSnapshot) => number]> = [
      [r.counter({ name: 'consul.memberlist.udp.sent', help: 'Bytes of gossip packets sent.' }), (s) => s.bytesOut],
      [r.counter({ name: 'consul.memberlist.udp.received', help: 'Bytes of gossip packets received.' }), (s) => s.bytesIn],
      [r.counter({ name: 'consul.memberlist.tcp.sent', help: 'Bytes sent on gossip streams (push-pull).' }), (s) => s.streamBytesOut],
      [r.counter({ name: 'consul.memberlist.tcp.received', help: 'Bytes received on gossip streams (push-pull).' }), (s) => s.streamBytesIn],
      [r.counter({ name: 'muster.gossip.probe.failures', help: 'Probes of a member that got no ack, direct or indirect.' }), (s) => s.probesFailed],
      [r.counter({ name: 'muster.gossip.dropped', help: 'Gossip packets and stream frames dropped as malformed, undecryptable or unexpected.' }), (s) => s.droppedTotal],
    ];
    const seen = new Map<Counter, number>();
    r.onCollect(() => {
      const v = view();
      for (const state of MEMBER_STATES) members.set(v.members.filter((m) => m.state === state).length, { status: state });
      health.set(v.healthScore);
      if (!v.stats) return;
      for (const [counter, read] of mirrored) {
        const now = read(v.stats);
        const before = seen.get(counter) ?? 0;
        // a restarted gossip node counts from 0 again: its whole count is new
        const delta = now >= before ? now - before : now;
        if (delta > 0) counter.add(delta);
        seen.set(counter, now);
      }
    });
  }

  private raftInstruments(): RaftObserver {
    const r = this.registry;
    const apply = r.counter({ name: 'consul.raft.apply', help: 'Commands proposed to Raft on this server while leader.' });
    const commitTime = r.histogram({ name: 'consul.raft.commitTime', help: 'ms from a proposal on the leader until its entry is committed and applied.', buckets: LATENCY_BUCKETS_MS });
    const fsmApply = r.histogram({ name: 'consul.raft.fsm.apply', help: 'ms to apply one committed entry to the state store.', buckets: LATENCY_BUCKETS_MS });
    const becameLeader = r.counter({ name: 'consul.raft.state.leader', help: 'Times this server became the Raft leader.' });
    const becameCandidate = r.counter({ name: 'consul.raft.state.candidate', help: 'Elections this server started.' });
    const leaderChanges = r.counter({ name: 'muster.raft.leader.changes', help: 'Times the leader known to this server changed (the first leader it learns of counts).' });
    let knownLeader: NodeId = '';
    let lastRole: Role = 'follower';
    return {
      proposed: (ms) => {
        apply.inc();
        if (ms !== undefined) commitTime.observe(ms);
      },
      fsmApplied: (ms) => fsmApply.observe(ms),
      stateChanged: (role, leader) => {
        if (role !== lastRole && role === 'leader') becameLeader.inc();
        if (role !== lastRole && role === 'candidate') becameCandidate.inc();
        lastRole = role;
        if (leader !== '' && leader !== knownLeader) {
          leaderChanges.inc();
          knownLeader = leader;
        }
      },
    };
  }

  private sidecarInstruments(): SidecarObserver {
    const r = this.registry;
    const events = r.counter({ name: 'muster.sidecar.docker.events', help: 'Docker container events handled by the embedded sidecar, by action.', labelNames: ['action'] });
    const registrations = r.counter({ name: 'muster.sidecar.registrations', help: 'Service registrations the sidecar made (accepted by the agent).' });
    const deregistrations = r.counter({ name: 'muster.sidecar.deregistrations', help: 'Service deregistrations the sidecar made (accepted by the agent).' });
    const reconciles = r.counter({ name: 'muster.sidecar.reconcile.runs', help: 'Full reconciliations of the registry with Docker (start, reconnect, -resync).' });
    const actions = r.counter({ name: 'muster.sidecar.reconcile.actions', help: 'Changes that full reconciliations queued, by action.', labelNames: ['action'] });
    const latency = r.histogram({ name: 'muster.sidecar.registration.latency', help: 'ms from the arrival of a Docker event to the agent accepting the registration it caused.', buckets: LATENCY_BUCKETS_MS });
    return {
      eventHandled: (action) => events.inc({ action }),
      registered: (sinceEventMs) => {
        registrations.inc();
        if (sinceEventMs !== undefined) latency.observe(sinceEventMs);
      },
      deregistered: () => deregistrations.inc(),
      reconciled: (result) => {
        reconciles.inc();
        actions.add(result.registered, { action: 'register' });
        actions.add(result.removed, { action: 'deregister' });
      },
    };
  }

  /** Memory as Consul's runtime gauges, sampled at collection. */
  private runtimeInstruments(): void {
    const r = this.registry;
    const alloc = r.gauge({ name: 'consul.runtime.alloc_bytes', help: 'V8 heap bytes in use (heapUsed).' });
    const sys = r.gauge({ name: 'consul.runtime.sys_bytes', help: 'Resident set size (rss) of the process in bytes.' });
    const heapTotal = r.gauge({ name: 'muster.runtime.heap_total_bytes', help: 'V8 heap bytes reserved (heapTotal).' });
    const uptime = r.gauge({ name: 'muster.runtime.uptime', help: 'Seconds since the agent started.' });
    r.onCollect(() => {
      const m = process.memoryUsage();
      alloc.set(m.heapUsed);
      sys.set(m.rss);
      heapTotal.set(m.heapTotal);
      uptime.set((this.clock.now() - this.startedAtMs) / 1000);
    });
  }
}

/**
 * A route pattern as Consul labels HTTP paths: `/v1/kv/*key` → `v1.kv._`
 * (parameters become `_`). `_root` for `/`; names starting with `_` that are
 * not patterns (`_unknown`, `_forwarded`) pass through.
 */
export function routeLabel(route: string): string {
  if (!route.startsWith('/')) return route;
  if (route === '/') return '_root';
  return route.slice(1).split('/').map((s) => (s.startsWith(':') || s.startsWith('*') ? '_' : s)).join('.');
}
