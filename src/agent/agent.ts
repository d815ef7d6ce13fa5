import type { Logger } from '../log.js';
import { MusterError, errorMessage } from '../errors.js';
import type { AgentConfig } from '../config/types.js';
import { StateStore } from '../state/store.js';
import { CheckRunners } from '../health/runner.js';
import { systemClock, type Clock } from '../time.js';
import type { CheckDefinition, HealthStatus, ServiceDefinition } from './definition.js';
import { LocalState, type LocalCheck } from './local-state.js';
import { AntiEntropy, type SelfNode } from './anti-entropy.js';
import { LocalCatalogReader, type CatalogReader, type CommandWriter } from './writer.js';
import { ServerCluster, serverOf, type ServerPeer } from './cluster.js';
import { RaftWriter, RemoteCatalogReader, RemoteWriter, ServerPicker, RPC, type NodeCatalog } from './forward.js';
import { RpcClient } from '../rpc/client.js';
import { RpcServer } from '../rpc/server.js';
import { encodeValue } from '../state/codec.js';
import type { Member } from '../gossip/members.js';
import { DEFAULTS } from '../config/defaults.js';
import { resolveCheck, resolveServiceChecks, validateService } from './validate.js';
import { decodeCheck, decodeService } from './definition-json.js';
import { CriticalReaper } from './reaper.js';
import { Sessions } from './sessions.js';
import { Membership } from './membership.js';
import { AgentMetrics } from './metrics.js';
import { LocalHealthReader, RemoteHealthReader, serveHealthReads, type HealthReader } from './health-reader.js';

export const SERF_HEALTH = { checkId: 'serfHealth', name: 'Serf Health Status' } as const;

export interface AgentDeps {
  log: Logger;
  clock?: Clock;
  /** Asks the process to stop (after /v1/agent/leave, or when -retry-join gives up). */
  requestShutdown?: (reason: string, exitCode: number) => void;
}

/**
 * One agent: its local services and checks, the check runners that keep
 * their status, anti-entropy into the catalog, and (on a server) the state
 * store. Transports (HTTP, DNS, the sidecar) call the methods here; they hold
 * no rules of their own.
 */
export class Agent {
  readonly store: StateStore | undefined;
  readonly local: LocalState;
  readonly writer: CommandWriter;
  readonly reader: CatalogReader;
  /** Lookups by name (DNS): the local store on a server, a server's on a client. */
  readonly healthReader: HealthReader;
  readonly self: SelfNode;
  readonly rpc: RpcClient;
  /** Servers: the RPC port (Raft transport, forwarding). */
  readonly rpcServer: RpcServer | undefined;
  /** Servers, after start(): Raft. */
  cluster: ServerCluster | undefined;
  /** Clients: the servers known from gossip. */
  readonly servers = new ServerPicker();
  private raftWriter: RaftWriter | undefined;
  private readonly runners: CheckRunners;
  private readonly antiEntropy: AntiEntropy;
  private readonly reaper: CriticalReaper;
  private readonly sessionsImpl: Sessions | undefined;
  readonly membership: Membership;
  /** This agent's metrics (`/v1/agent/metrics`); the parts record into it. */
  readonly metrics: AgentMetrics;
  private readonly log: Logger;
  /** Parts log under their own `component` (a child of `log` would repeat the key). */
  private readonly rootLog: Logger;
  private readonly clock: Clock;
  readonly startedAt: number;
  private readonly requestShutdown: (reason: string, exitCode: number) => void;
  private serverPort: number;

  constructor(readonly config: AgentConfig, deps: AgentDeps) {
    this.log = deps.log.child({ component: 'agent' });
    this.rootLog = deps.log;
    this.clock = deps.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.metrics = new AgentMetrics(this.clock);
    this.serverPort = config.ports.server;
    const rpcLog = deps.log.child({ component: 'rpc' });
    const wildcard = config.bindAddr === '0.0.0.0' || config.bindAddr === '::';
    this.rpc = new RpcClient({ datacenter: config.datacenter, node: config.nodeName, log: rpcLog, ...(wildcard ? {} : { localAddress: config.bindAddr }) });
    if (config.server) {
      this.store = new StateStore();
      this.rpcServer = new RpcServer({ datacenter: config.datacenter, node: config.nodeName, log: rpcLog });
      // the Raft writer exists once the cluster is open (start()); writes before that wait for it
      this.writer = { write: (cmd, name) => this.serverWriter().write(cmd, name) };
      this.reader = new LocalCatalogReader(this.store);
      this.healthReader = new LocalHealthReader(this.store);
      this.sessionsImpl = new Sessions(this.store, this.writer, deps.log.child({ component: 'sessions' }));
    } else {
      this.store = undefined;
      this.rpcServer = undefined;
      this.writer = new RemoteWriter(this.servers, this.rpc, this.clock);
      this.reader = new RemoteCatalogReader(this.servers, this.rpc, this.log);
      this.healthReader = new RemoteHealthReader(this.servers, this.rpc, this.log);
      this.sessionsImpl = undefined;
    }
    this.self = {
      node: config.nodeName, id: config.nodeId, address: config.advertiseAddr, datacenter: config.datacenter,
      taggedAddresses: { lan: config.advertiseAddr, wan: config.advertiseAddr }, meta: { ...config.nodeMeta },
    };
    this.local = new LocalState(this.clock, () => { void this.antiEntropy.trigger(); });
    this.antiEntropy = new AntiEntropy(this.self, this.local, this.reader, this.writer, deps.log.child({ component: 'anti-entropy' }));
    this.runners = new CheckRunners({
      log: this.log,
      onResult: (checkId, status, output) => { this.local.setStatus(checkId, status, output); },
    });
    this.requestShutdown = deps.requestShutdown ?? ((reason) => this.log.warn({ reason }, 'shutdown requested, but nobody listens'));
    this.membership = new Membership(config, {
      log: deps.log, writer: this.writer, store: this.store, requestShutdown: this.requestShutdown,
      isLeader: () => this.cluster?.isLeader ?? false,
      serverPort: () => this.serverPort,
      onMembers: (members, changed) => this.onMembers(members, changed),
    });
    this.metrics.watchGossip(() => ({ members: this.membership.members(), stats: this.membership.gossipStats(), healthScore: this.membership.healthScore() }));
    this.metrics.watchRaft(() => {
      const raft = this.cluster?.raft;
      if (!raft) return undefined;
      const s = raft.core.status();
      return { term: s.term, commit: s.commit, applied: s.applied, lastIndex: s.lastIndex, isLeader: raft.isLeader, lastContactMs: raft.lastContactMs() };
    });
    this.reaper = new CriticalReaper(this.local, this.clock, (serviceId, checkId) => {
      this.log.info({ service: serviceId, check: checkId }, 'deregistering service: check critical too long');
      this.deregisterService(serviceId).catch((err: unknown) => this.log.warn({ err, service: serviceId }, 'reap failed'));
    });
  }

  /** Sessions are kept by the servers; a client agent forwards the session API. */
  get sessions(): Sessions {
    if (!this.sessionsImpl) throw new MusterError('ERR_INTERNAL', 'sessions are served by server agents');
    return this.sessionsImpl;
  }

  private serverWriter(): RaftWriter {
    if (!this.raftWriter) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
    return this.raftWriter;
  }

  /** The leader's server RPC address ("" when none is known). */
  leaderAddress(): string {
    return this.cluster?.leader()?.addr ?? '';
  }

  /** The voters' server RPC addresses. */
  peers(): string[] {
    return (this.cluster?.configuration() ?? []).filter((s) => s.voter).map((s) => s.addr).sort();
  }

  /** `/v1/operator/raft/configuration`: the servers in the Raft configuration. */
  raftConfiguration(): { servers: Array<ServerPeer & { voter: boolean; leader: boolean }>; index: number } {
    const cluster = this.cluster;
    if (!cluster) return { servers: [], index: 0 };
    return { servers: cluster.configuration(), index: cluster.raft.core.log.committed };
  }

  /** `DELETE /v1/operator/raft/peer`: by ID or by RPC address. */
  async removeRaftPeer(by: { id?: string; address?: string }): Promise<void> {
    const cluster = this.cluster;
    if (!cluster) throw new MusterError('ERR_INTERNAL', 'not a server');
    const servers = cluster.configuration();
    const found = servers.find((s) => (by.id !== undefined && s.id === by.id) || (by.address !== undefined && s.addr === by.address));
    if (!found) throw new MusterError('ERR_NOT_FOUND', `${by.id !== undefined ? `id "${by.id}"` : `address "${by.address ?? ''}"`} was not found in the Raft configuration`, { status: 500 });
    if (cluster.isLeader) {
      await cluster.removePeer(found.id);
      return;
    }
    const leader = cluster.leader();
    if (!leader) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
    await this.rpc.call(leader.addr, RPC.removePeer, Buffer.from(found.id), { timeoutMs: 10_000 });
  }

  async start(): Promise<void> {
    try {
      if (this.rpcServer && this.store) {
        this.serverPort = await this.rpcServer.listen(this.config.bindAddr, this.config.ports.server).catch((err: unknown) => {
          throw new MusterError('ERR_CONFIG', `cannot listen for server RPC on ${this.config.bindAddr}:${this.config.ports.server}: ${errorMessage(err)}`);
        });
        const cluster = await ServerCluster.open({ ...this.config, ports: { ...this.config.ports, server: this.serverPort } }, {
          log: this.rootLog, store: this.store, rpc: this.rpc, rpcServer: this.rpcServer,
          onLeadership: (leader) => this.onLeadership(leader), metrics: this.metrics.raft,
        });
        this.cluster = cluster;
        this.raftWriter = new RaftWriter(cluster, this.rpc, this.clock);
        this.serveRpc(this.rpcServer, cluster, this.raftWriter, this.store);
        cluster.start();
        // a single server leads at once: wait for it, so the catalog is whole when start() returns
        if (this.config.dev || this.config.bootstrapExpect === 1) await cluster.waitForLeader(DEFAULTS.raft.holdMs);
      }
      await this.membership.start();
      await this.membership.idle();
      for (const raw of this.config.services) {
        await this.registerService(decodeService(raw), { replaceExistingChecks: false, waitForSync: false });
      }
      for (const raw of this.config.checks) await this.registerCheck(decodeCheck(raw), { waitForSync: false });
      this.antiEntropy.start(this.config.antiEntropyIntervalMs);
      this.reaper.start(this.config.reapIntervalMs);
    } catch (err) {
      await this.stop(); // a failed start leaves no socket or timer behind, so the process can exit
      throw err;
    }
  }

  /** Server RPC methods: writes forwarded to the leader, a client's view of its node, forwarded HTTP. */
  private serveRpc(server: RpcServer, cluster: ServerCluster, writer: RaftWriter, store: StateStore): void {
    server.handle(RPC.apply, (body) => writer.serveApply(body));
    server.handle(RPC.hasConfig, () => Buffer.from(String(cluster.hasConfig())));
    server.handle(RPC.removePeer, async (body) => {
      await cluster.removePeer(body.toString('utf8'));
      return Buffer.alloc(0);
    });
    server.handle(RPC.nodeCatalog, (body) => {
      const name = body.toString('utf8');
      const value: NodeCatalog = {
        node: store.catalog.getNode(name),
        services: store.catalog.nodeServices(name).value?.services ?? [],
        checks: store.catalog.nodeChecks(name).value,
      };
      return encodeValue(value);
    });
    serveHealthReads(server, new LocalHealthReader(store));
  }

  /** Wires forwarded HTTP requests to the API (the HTTP server exists after the agent). */
  serveHttpOverRpc(serve: (body: Buffer, signal: AbortSignal) => Promise<Buffer>): void {
    this.rpcServer?.handle(RPC.http, (body, ctx) => serve(body, ctx.signal));
  }

  private onLeadership(leader: boolean): void {
    if (leader) {
      this.log.info({}, 'this server is the leader: reconciling members and arming session timers');
      this.sessionsImpl?.armAll();
      this.membership.reconcileNow();
    } else {
      this.sessionsImpl?.stop();
    }
  }

  private onMembers(members: Member[], changed: Member): void {
    const servers = members.filter((m) => m.state === 'alive').map((m) => serverOf(m, this.config.datacenter)).filter((s): s is ServerPeer => s !== undefined);
    this.servers.update(servers);
    if (this.cluster) {
      this.cluster.onMembers(members);
      if (changed.state === 'left') void this.cluster.onServerLeft(changed);
    }
  }

  async stop(): Promise<void> {
    await this.membership.stop();
    this.sessionsImpl?.stop();
    this.reaper.stop();
    this.antiEntropy.stop();
    this.runners.stopAll();
    await this.cluster?.stop();
    await this.rpcServer?.close();
    await this.rpc.close();
  }

  /**
   * A server leaving gracefully: leadership handed over and this server
   * removed from the Raft configuration, so the rest keep their quorum.
   */
  async leaveRaft(): Promise<void> {
    const cluster = this.cluster;
    if (!cluster) return;
    await cluster.leave(DEFAULTS.leaveTimeoutMs, async (peer) => {
      const leader = cluster.leader();
      if (!leader) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
      await this.rpc.call(leader.addr, RPC.removePeer, Buffer.from(peer.id), { timeoutMs: 5000 });
    });
  }

  // ---- the agent API ----

  /**
   * Registers a local service. By default resolves once the catalog has it
   * (read-after-write for API clients); `waitForSync: false` returns as soon
   * as local state has it and lets anti-entropy batch the catalog writes
   * (the embedded sidecar registering hundreds of containers at once).
   */
  async registerService(def: ServiceDefinition, opts: { replaceExistingChecks: boolean; waitForSync?: boolean }): Promise<void> {
    validateService(def);
    const checks = resolveServiceChecks(def, { scriptChecks: this.config.enableScriptChecks });
    const removed = this.local.addService(def, checks, opts.replaceExistingChecks);
    for (const id of removed) this.runners.stop(id);
    for (const c of checks) this.runners.start(c.checkId, c);
    if (opts.waitForSync !== false) await this.antiEntropy.trigger();
  }

  async deregisterService(id: string, opts: { waitForSync?: boolean } = {}): Promise<void> {
    const removed = this.local.removeService(id);
    if (removed === undefined) {
      throw new MusterError('ERR_UNKNOWN_SERVICE', `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    }
    for (const c of removed) this.runners.stop(c);
    if (opts.waitForSync !== false) await this.antiEntropy.trigger();
  }

  async registerCheck(def: CheckDefinition, opts: { waitForSync?: boolean } = {}): Promise<void> {
    const c = resolveCheck(def, { scriptChecks: this.config.enableScriptChecks });
    if (c.serviceId && !this.local.services.has(c.serviceId)) {
      throw new MusterError('ERR_BAD_REQUEST', `ServiceID "${c.serviceId}" does not exist`);
    }
    this.local.addCheck(c);
    this.runners.start(c.checkId, c);
    if (opts.waitForSync !== false) await this.antiEntropy.trigger();
  }

  async deregisterCheck(id: string): Promise<void> {
    if (!this.local.removeCheck(id)) throw new MusterError('ERR_UNKNOWN_CHECK', `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    this.runners.stop(id);
    await this.antiEntropy.trigger();
  }

  /** pass/warn/fail/update on a TTL check. */
  async updateTtlCheck(id: string, status: HealthStatus, output: string): Promise<void> {
    if (!this.local.checks.has(id)) throw new MusterError('ERR_UNKNOWN_CHECK', `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    if (!this.runners.updateTtl(id, status, output)) {
      throw new MusterError('ERR_NOT_TTL_CHECK', `CheckID "${id}" does not have associated TTL`);
    }
    // the TTL runner reports the new status through onResult before returning
    await this.antiEntropy.trigger();
  }

  /** Graceful leave: gossip our departure, then ask the process to stop. */
  async leave(): Promise<void> {
    await this.leaveGracefully();
    this.requestShutdown('left the cluster', 0);
  }

  /**
   * Leaves the Raft configuration (a server) and gossips our departure, so
   * the other members see `left` rather than `failed`; the process goes on
   * until stopped. Used by `leave()` and on SIGTERM/SIGINT (leave_on_terminate,
   * skip_leave_on_interrupt).
   */
  async leaveGracefully(): Promise<void> {
    await this.leaveRaft().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'leaving the raft configuration failed'));
    await this.membership.leave();
  }

  services(): ServiceDefinition[] {
    return [...this.local.services.values()];
  }

  checks(): LocalCheck[] {
    return [...this.local.checks.values()];
  }

  /** Waits until the catalog reflects every local change made so far. */
  synced(): Promise<void> {
    return this.antiEntropy.trigger();
  }
}
