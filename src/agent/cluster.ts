import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import type { Logger } from '../log.js';
import type { AgentConfig } from '../config/types.js';
import { DEFAULTS } from '../config/defaults.js';
import { MusterError, errorMessage } from '../errors.js';
import { sleep } from '../time.js';
import type { StateStore } from '../state/store.js';
import { decodeCommand } from '../state/codec.js';
import { snapshotStoreInTurns, restoreStore } from '../state/snapshot.js';
import { RaftNode } from '../raft/node.js';
import { encodeMessage, decodeMessage } from '../raft/codec.js';
import type { ConfState, Entry, NodeId, Role } from '../raft/types.js';
import type { RpcClient } from '../rpc/client.js';
import type { RpcServer } from '../rpc/server.js';
import type { Member } from '../gossip/members.js';
import type { RaftObserver } from './metrics.js';

/** A server as the cluster knows it: Raft ID, node name and RPC address. */
export interface ServerPeer {
  id: NodeId;
  name: string;
  addr: string;
  /** Runs its own single-server cluster (-dev, -bootstrap): never added to another. */
  bootstrap?: boolean;
}

export interface ClusterDeps {
  log: Logger;
  store: StateStore;
  rpc: RpcClient;
  rpcServer: RpcServer;
  /** Told when this server gains or loses leadership. */
  onLeadership: (leader: boolean) => void;
  /** Raft timings and state changes, for metrics. */
  metrics?: RaftObserver;
}

/**
 * A server's part in the Raft cluster: the replicated log (RaftNode) over
 * the state store, the Raft transport on the RPC port, bootstrapping
 * (-dev, -bootstrap, -bootstrap-expect through gossip), the addresses of the
 * other servers, and, on the leader, adding and removing servers as gossip
 * sees them come and leave.
 */
export class ServerCluster {
  readonly raft: RaftNode;
  readonly self: ServerPeer;
  private readonly log: Logger;
  /** Every server we have heard of: from gossip tags and configuration entries. */
  private readonly peers = new Map<NodeId, ServerPeer>();
  private conf: ConfState = { voters: [], learners: [] };
  private leaderWaiters = new Set<() => void>();
  private promoteTimer: ReturnType<typeof setInterval> | undefined;
  private bootstrapping = false;
  private gossipServers: ServerPeer[] = [];
  private readonly warnedBootstrap = new Set<NodeId>();

  private constructor(private readonly config: AgentConfig, private readonly deps: ClusterDeps, raft: RaftNode, self: ServerPeer) {
    this.log = deps.log;
    this.raft = raft;
    this.self = self;
    this.peers.set(self.id, self);
  }

  static async open(config: AgentConfig, deps: ClusterDeps): Promise<ServerCluster> {
    const log = deps.log.child({ component: 'raft' });
    const self: ServerPeer = { id: config.nodeId, name: config.nodeName, addr: `${config.advertiseAddr}:${config.ports.server}` };
    const dataDir = config.dataDir === undefined || config.dev ? undefined : joinPath(config.dataDir, 'raft');
    if (dataDir && await checkNodeId(dataDir, config.nodeId)) {
      // a server that was in a cluster before and lost its data dir shows up here too: its peers
      // still count it, so the leader's log names it when it sends the lost entries again
      log.info({ dataDir }, 'new data dir: no raft state yet; bootstrapping or waiting for a leader to send the log');
    }
    let cluster: ServerCluster | undefined;
    const raft = await RaftNode.open({
      core: {
        id: self.id, electionTicks: DEFAULTS.raft.electionTicks, heartbeatTicks: DEFAULTS.raft.heartbeatTicks,
        maxSizePerMsg: DEFAULTS.raft.maxSizePerMsg, maxInflight: DEFAULTS.raft.maxInflight,
        maxCommittedSizePerReady: DEFAULTS.raft.maxCommittedSizePerReady, preVote: true, checkQuorum: true,
        asyncLeaderPersist: true,
      },
      tickMs: DEFAULTS.raft.tickMs,
      dataDir,
      commitNoticeMs: DEFAULTS.raft.commitNoticeMs,
      snapshotThreshold: DEFAULTS.raft.snapshotThreshold,
      snapshotIntervalMs: DEFAULTS.raft.snapshotIntervalMs,
      trailingLogs: DEFAULTS.raft.trailingLogs,
      fsm: {
        apply: (e: Entry) => {
          const started = performance.now();
          try {
            return deps.store.apply(e.index, decodeCommand(e.data));
          } finally {
            deps.metrics?.fsmApplied(performance.now() - started);
          }
        },
        snapshot: () => snapshotStoreInTurns(deps.store),
        restore: (data) => restoreStore(deps.store, data),
      },
      transport: {
        send: (m) => {
          const sent = cluster?.sendRaft(m.to, encodeMessage(m)) ?? false;
          // a snapshot's fate is reported, or the leader would wait for it until the next election
          if (m.type === 'snap') cluster?.raft.core.reportSnapshot(m.to, sent);
        },
      },
      logger: log,
      onStateChange: (role, leader) => cluster?.onState(role, leader),
      onConfChange: (cc, conf) => cluster?.onConf(cc.node, cc.context, conf),
    });
    cluster = new ServerCluster(config, { ...deps, log }, raft, self);
    return cluster;
  }

  start(): void {
    this.deps.rpcServer.onMessage((channel, payload) => {
      if (channel !== 'raft') return;
      try {
        this.raft.receive(decodeMessage(payload));
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'dropped an undecodable raft message');
      }
    });
    this.raft.start();
    if ((this.config.dev || this.config.bootstrapExpect === 1) && this.raft.isFresh()) {
      this.raft.bootstrap([{ id: this.self.id, context: this.self.addr }]);
      this.log.info({}, 'bootstrapped a single-server cluster');
    }
    this.promoteTimer = setInterval(() => { void this.leaderHousekeeping(); }, 1000);
    this.promoteTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.promoteTimer) clearInterval(this.promoteTimer);
    for (const w of this.leaderWaiters) w();
    this.leaderWaiters.clear();
    await this.raft.stop();
  }

  get isLeader(): boolean {
    return this.raft.isLeader;
  }

  /** Proposes a command on this leader (RaftNode.propose), timed from proposal to applied. */
  async propose(data: Uint8Array): Promise<unknown> {
    const started = performance.now();
    let done = false;
    try {
      const result = await this.raft.propose(data);
      done = true;
      return result;
    } finally {
      this.deps.metrics?.proposed(done ? performance.now() - started : undefined);
    }
  }

  leader(): ServerPeer | undefined {
    const id = this.raft.leaderId;
    return id ? this.peers.get(id) : undefined;
  }

  /** Voters and learners with what we know of them. */
  configuration(): Array<ServerPeer & { voter: boolean; leader: boolean }> {
    const leader = this.raft.leaderId;
    const out: Array<ServerPeer & { voter: boolean; leader: boolean }> = [];
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const p = this.peers.get(id) ?? { id, name: '', addr: '' };
      out.push({ ...p, voter: this.conf.voters.includes(id), leader: id === leader });
    }
    return out;
  }

  /**
   * Whether a leader could exist: gossip shows a majority of the voters
   * alive. When it cannot, writes fail at once instead of waiting out the hold.
   */
  quorumPossible(): boolean {
    const voters = this.conf.voters;
    if (voters.length === 0) return true; // not bootstrapped yet: the hold decides
    const alive = new Set(this.gossipServers.map((s) => s.id));
    alive.add(this.self.id);
    const up = voters.filter((v) => alive.has(v)).length;
    return up >= Math.floor(voters.length / 2) + 1;
  }

  /** Resolves when a leader is known (true) or after ms (false). */
  waitForLeader(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.leader()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.leaderWaiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.leader() !== undefined);
      };
      const timer = setTimeout(done, ms);
      this.leaderWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Gossip told us about the members: learn server addresses, and bootstrap when enough are here. */
  onMembers(members: Member[]): void {
    const servers: ServerPeer[] = [];
    for (const m of members) {
      const s = serverOf(m, this.config.datacenter);
      if (!s) continue;
      if (m.state === 'alive') servers.push(s);
      const known = this.peers.get(s.id);
      if (!known || known.addr !== s.addr || known.name !== s.name) this.peers.set(s.id, s);
    }
    this.gossipServers = servers;
    void this.maybeBootstrap();
  }

  /** The leader: a server that left gracefully is removed from the configuration. */
  async onServerLeft(m: Member): Promise<void> {
    const s = serverOf(m, this.config.datacenter);
    if (!s || !this.isLeader || s.id === this.self.id) return;
    if (!this.conf.voters.includes(s.id) && !this.conf.learners.includes(s.id)) return;
    await this.removePeer(s.id).catch((err: unknown) => this.log.warn({ err: errorMessage(err), node: s.name }, 'could not remove a departed server'));
  }

  async removePeer(id: NodeId): Promise<void> {
    if (!this.conf.voters.includes(id) && !this.conf.learners.includes(id)) {
      throw new MusterError('ERR_NOT_FOUND', `address "${id}" was not found in the Raft configuration`, { status: 500 });
    }
    this.log.info({ id }, 'removing server from the raft configuration');
    await this.raft.proposeConfChange({ type: 'remove', node: id, context: '' });
  }

  /**
   * Graceful leave of a server: hand leadership to a caught-up voter, then
   * ask the leader to remove us, so the remaining servers keep a quorum that
   * does not count us.
   */
  async leave(timeoutMs: number, removeSelf: (peer: ServerPeer) => Promise<void>): Promise<void> {
    const others = this.conf.voters.filter((v) => v !== this.self.id);
    if (others.length === 0) return;
    const deadline = performance.now() + timeoutMs;
    if (this.isLeader) {
      const target = this.bestTransferTarget();
      if (target) {
        this.log.info({ to: target }, 'leaving: transferring leadership');
        this.raft.transferLeadership(target);
        while (this.isLeader && performance.now() < deadline) await sleep(20);
      }
    }
    while (performance.now() < deadline) {
      if (!this.conf.voters.includes(this.self.id) && !this.conf.learners.includes(this.self.id)) return;
      try {
        if (this.isLeader) await this.removePeer(this.self.id);
        else await removeSelf(this.self);
        return;
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, 'leave: removal not done yet');
        await sleep(100);
      }
    }
    this.log.warn({}, 'leave: could not remove this server from the raft configuration in time');
  }

  private bestTransferTarget(): NodeId | undefined {
    const progress = this.raft.core.status().progress;
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of this.conf.voters) {
      if (id === this.self.id) continue;
      const p = progress[id];
      if (p && p.active && p.match > bestMatch) { best = id; bestMatch = p.match; }
    }
    return best;
  }

  private sendRaft(to: NodeId, payload: Buffer): boolean {
    const peer = this.peers.get(to);
    if (!peer?.addr) return false;
    if (this.deps.rpc.send(peer.addr, 'raft', payload)) return true;
    this.raft.core.reportUnreachable(to);
    return false;
  }

  private onState(role: Role, leaderId: NodeId): void {
    this.deps.metrics?.stateChanged(role, leaderId);
    if (leaderId) for (const w of [...this.leaderWaiters]) w();
    this.deps.onLeadership(role === 'leader');
  }

  private onConf(id: NodeId, context: string, conf: ConfState): void {
    this.conf = conf;
    if (context && !this.peers.has(id)) this.peers.set(id, { id, name: '', addr: context });
    else if (context) {
      const p = this.peers.get(id);
      if (p && !p.addr) p.addr = context;
    }
  }

  /**
   * -bootstrap-expect: once that many servers are alive in gossip and none of
   * them already belongs to a cluster, every one of them bootstraps the same
   * configuration. A fresh server joining an existing cluster waits to be
   * added by the leader instead.
   */
  private async maybeBootstrap(): Promise<void> {
    const expect = this.config.bootstrapExpect;
    if (expect < 2 || this.bootstrapping || !this.raft.isFresh()) return;
    const servers = this.gossipServers;
    if (servers.length < expect) return;
    this.bootstrapping = true;
    try {
      for (const s of servers) {
        if (s.id === this.self.id) continue;
        const answer = await this.deps.rpc.call(s.addr, 'raft.has-config', Buffer.alloc(0), { timeoutMs: 2000 }).catch(() => undefined);
        if (answer === undefined) {
          this.log.info({ server: s.name }, 'bootstrap: waiting, a server does not answer yet');
          return;
        }
        if (answer.toString() === 'true') {
          this.log.info({ server: s.name }, 'not bootstrapping: a cluster exists already; waiting to be added by its leader');
          return;
        }
      }
      if (!this.raft.isFresh()) return;
      const peers = servers.slice().sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, Math.max(expect, servers.length));
      this.raft.bootstrap(peers.map((p) => ({ id: p.id, context: p.addr })));
      this.log.info({ servers: peers.map((p) => p.name) }, 'bootstrapped the cluster');
    } finally {
      this.bootstrapping = false;
    }
  }

  /** For peers deciding whether to bootstrap. */
  hasConfig(): boolean {
    return !this.raft.isFresh();
  }

  /**
   * The leader, every second: servers seen alive in gossip but not in the
   * configuration join as learners, and learners that caught up become voters.
   */
  private async leaderHousekeeping(): Promise<void> {
    if (!this.isLeader) return;
    try {
      const status = this.raft.core.status();
      for (const id of this.conf.learners) {
        const p = status.progress[id];
        if (p && p.match >= status.commit) {
          this.log.info({ id }, 'promoting a caught-up learner to voter');
          await this.raft.proposeConfChange({ type: 'add-voter', node: id, context: this.peers.get(id)?.addr ?? '' });
          return;
        }
      }
      for (const s of this.gossipServers) {
        if (this.conf.voters.includes(s.id) || this.conf.learners.includes(s.id)) continue;
        if (s.bootstrap) {
          if (!this.warnedBootstrap.has(s.id)) {
            this.warnedBootstrap.add(s.id);
            this.log.warn({ server: s.name }, 'two servers are in bootstrap mode (-dev or -bootstrap): not adding it as a Raft peer');
          }
          continue;
        }
        this.log.info({ server: s.name, id: s.id }, 'adding a new server as a learner');
        await this.raft.proposeConfChange({ type: 'add-learner', node: s.id, context: s.addr });
        return;
      }
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'configuration change deferred');
    }
  }
}

/** A gossip member that is a server of our datacenter, with its Raft ID and RPC address. */
export function serverOf(m: Member, datacenter: string): ServerPeer | undefined {
  const t = m.tags;
  if (t['role'] !== 'consul' || (t['dc'] ?? '') !== datacenter) return undefined;
  const id = t['id'];
  const port = Number(t['port']);
  if (!id || !Number.isInteger(port) || port <= 0) return undefined;
  return { id, name: m.name, addr: `${m.addr}:${port}`, bootstrap: t['bootstrap'] === '1' };
}

/**
 * A data dir belongs to one node: starting with another node ID is refused
 * rather than mixing two logs. Resolves true when the data dir is new.
 */
async function checkNodeId(dir: string, nodeId: string): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  const file = joinPath(dir, 'node-id');
  const existing = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (existing !== undefined && existing !== nodeId) {
    throw new MusterError('ERR_CONFIG', `data dir ${dir} belongs to node ID ${existing}, not ${nodeId}; start with -node-id ${existing} or an empty data dir`);
  }
  if (existing !== undefined) return false;
  await writeFile(`${file}.tmp`, `${nodeId}\n`);
  await rename(`${file}.tmp`, file);
  return true;
}
