import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import type { Logger } from '../log.js';
import type { AgentConfig } from '../config/types.js';
import { DEFAULTS } from '../config/defaults.js';
import { MusterError, errorMessage } from '../errors.js';
import { systemClock, systemTimers, sleep } from '../time.js';
import { GossipNode } from '../gossip/node.js';
import { defaultLanConfig } from '../gossip/config.js';
import { Keyring } from '../gossip/keyring.js';
import type { Member } from '../gossip/members.js';
import type { MemberEvent } from '../gossip/context.js';
import type { GossipStatsSnapshot } from '../gossip/stats.js';
import { VERSION } from '../version.js';
import { resolveJoinAddresses } from './join-address.js';
import type { CommandWriter } from './writer.js';
import type { StateStore } from '../state/store.js';

export const SERF_HEALTH_CHECK = { checkId: 'serfHealth', name: 'Serf Health Status' } as const;

/** serf's member status numbers, as `/v1/agent/members` reports them. */
export const MEMBER_STATUS = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const;

export interface MembershipDeps {
  log: Logger;
  writer: CommandWriter;
  /** Present on servers: the leader keeps a node per member in the catalog. */
  store: StateStore | undefined;
  /** Asks the agent process to stop (after -retry-max failed joins, or /v1/agent/leave). */
  requestShutdown: (reason: string, exitCode: number) => void;
  /** Only the Raft leader writes members into the catalog. */
  isLeader: () => boolean;
  /** The server RPC port actually bound (announced in the tags). */
  serverPort: () => number;
  /** Told after every member event, with the whole member list. */
  onMembers?: (members: Member[], changed: Member) => void;
}

/**
 * This agent in the LAN gossip pool: starts the gossip node with the
 * agent's tags, joins (-join, -retry-join, -rejoin), and, on a server,
 * mirrors members into the catalog as Consul's leader does: a node with a
 * `serfHealth` check, passing while alive, critical when failed, removed on
 * leave or reap.
 */
export class Membership {
  private node: GossipNode | undefined;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private reconcileTimer: ReturnType<typeof setInterval> | undefined;
  /** Serialises catalog writes for member events, in event order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly config: AgentConfig, private readonly deps: MembershipDeps) {
    this.log = deps.log.child({ component: 'gossip' });
  }

  tags(): Record<string, string> {
    const c = this.config;
    return {
      role: c.server ? 'consul' : 'node', dc: c.datacenter, port: String(this.deps.serverPort()), id: c.nodeId,
      vsn: '2', vsn_min: '2', vsn_max: '3', build: `${VERSION}:muster`, raft_vsn: '3', segment: '',
      ...(c.dev || c.bootstrapExpect === 1 ? { bootstrap: '1' } : {}),
      ...(c.bootstrapExpect > 1 ? { expect: String(c.bootstrapExpect) } : {}),
    };
  }

  async start(): Promise<void> {
    const c = this.config;
    const node = new GossipNode(defaultLanConfig(), {
      name: c.nodeName, bindAddr: c.bindAddr, port: c.ports.serfLan, advertiseAddr: c.advertiseAddr, tags: this.tags(),
      ...(c.encrypt ? { keyring: Keyring.fromBase64(c.encrypt) } : {}),
    }, { clock: systemClock, timers: systemTimers, onListenerError: (err) => this.log.warn({ err: errorMessage(err) }, 'member event handler failed') });
    node.on('member', (ev) => this.onMember(ev));
    const bound = await node.start();
    this.node = node;
    this.log.info({ addr: `${bound.addr}:${bound.port}`, encrypted: c.encrypt !== undefined }, 'gossip listening');

    const rejoin = c.rejoin ? this.snapshotAddresses() : [];
    if (rejoin.length > 0) {
      await this.join(rejoin).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'rejoin failed'));
    }
    if (c.join.length > 0) {
      const n = await this.join(c.join); // Consul: the start fails when no -join address answers
      this.log.info({ joined: n }, 'joined cluster');
    }
    if (c.retryJoin.length > 0) void this.retryJoin(c.retryJoin);
    if (this.deps.store) {
      this.reconcileTimer = setInterval(() => { this.reconcileNow(); }, DEFAULTS.memberReconcileIntervalMs);
      this.reconcileTimer.unref();
      this.reconcileNow();
    }
    this.deps.onMembers?.(node.members(), node.members().find((m) => m.name === c.nodeName) as Member);
  }

  /** Resolves when the catalog writes queued so far are done. */
  async idle(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.chain;
      await current;
    } while (current !== this.chain);
  }

  /** The leader (on election, and every minute): the catalog's nodes made to match gossip. */
  reconcileNow(): void {
    if (this.deps.store && this.deps.isLeader()) this.enqueue(() => this.reconcileAll());
  }

  /** Joins through each address; resolves with how many answered; a clear error when none did. */
  async join(addresses: readonly string[]): Promise<number> {
    const node = this.running();
    const { resolved, unresolved } = await resolveJoinAddresses(addresses, DEFAULTS.ports.serfLan);
    for (const u of unresolved) this.log.warn({ address: u.address, err: u.error }, 'join address not resolved');
    const why = (err: unknown) => [...unresolved.map((u) => `${u.address}: ${u.error}`), ...(err === undefined ? [] : [errorMessage(err)])].join('; ');
    if (resolved.length === 0) throw new MusterError('ERR_BACKEND', `failed to join ${addresses.join(', ')}: ${why(undefined)}`);
    try {
      return await node.join(resolved);
    } catch (err) {
      throw new MusterError('ERR_BACKEND', `failed to join ${addresses.join(', ')}: ${why(err)}`, { cause: err });
    }
  }

  /** Gossips our departure (members see `left`, not `failed`), then stops the gossip node. */
  async leave(): Promise<void> {
    if (!this.node) return;
    const done = await this.node.leave(DEFAULTS.leaveTimeoutMs);
    this.log.info({ fullyGossiped: done }, 'left the cluster');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await this.node?.stop();
    await this.chain;
  }

  members(): Member[] {
    return this.node?.members() ?? [];
  }

  /** The gossip library's running totals (undefined before start). */
  gossipStats(): GossipStatsSnapshot | undefined {
    return this.node?.stats();
  }

  /** Lifeguard local health score (0 healthy). */
  healthScore(): number {
    return this.node?.healthScore() ?? 0;
  }

  /** Moves a failed member to left, gossiped to every member, and out of the catalog. */
  async forceLeave(name: string): Promise<void> {
    const m = this.members().find((x) => x.name === name);
    if (!m) throw new MusterError('ERR_NOT_FOUND', `agent: No node found with name '${name}'`, { status: 500 });
    if (m.state === 'alive' || m.state === 'suspect') return; // Consul: force-leave of a live member does nothing lasting
    this.running().forceLeave(name); // failed -> left everywhere; the leave event removes it from the catalog
    if (this.deps.store && this.deps.isLeader()) await this.deps.writer.write({ type: 'deregister', node: name });
  }

  static statusOf(m: Member): number {
    switch (m.state) {
      case 'alive': case 'suspect': return MEMBER_STATUS.alive;
      case 'left': return MEMBER_STATUS.left;
      case 'dead': return MEMBER_STATUS.failed;
      default: return MEMBER_STATUS.none;
    }
  }

  private running(): GossipNode {
    if (!this.node) throw new MusterError('ERR_INTERNAL', 'gossip is not running');
    return this.node;
  }

  private async retryJoin(addresses: readonly string[]): Promise<void> {
    const { retryIntervalMs, retryMax } = this.config;
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        const n = await this.join(addresses);
        this.log.info({ joined: n, attempt }, 'retry-join succeeded');
        return;
      } catch (err) {
        if (retryMax > 0 && attempt >= retryMax) {
          this.log.error({ err: errorMessage(err), attempts: attempt }, 'retry-join gave up');
          this.deps.requestShutdown(`-retry-join failed ${attempt} times`, 1);
          return;
        }
        this.log.warn({ err: errorMessage(err), attempt, retryInMs: retryIntervalMs }, 'retry-join failed; will retry');
        try { await sleep(retryIntervalMs, this.abort.signal); } catch { return; }
      }
    }
  }

  private onMember(ev: MemberEvent): void {
    this.log.info({ member: ev.member.name, addr: `${ev.member.addr}:${ev.member.port}`, event: ev.type }, 'member event');
    this.saveSnapshot();
    this.deps.onMembers?.(this.members(), ev.member);
    if (this.deps.store && this.deps.isLeader()) this.enqueue(() => this.mirror(ev.member));
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => {
      this.log.warn({ err: errorMessage(err) }, 'catalog update for a member failed');
    });
  }

  /** The leader's view of one member in the catalog. */
  private async mirror(m: Member): Promise<void> {
    if (!this.deps.isLeader()) return;
    if (m.state === 'left') {
      if (m.name !== this.config.nodeName) await this.deps.writer.write({ type: 'deregister', node: m.name });
      return;
    }
    const alive = m.state === 'alive' || m.state === 'suspect';
    const existing = this.deps.store?.catalog.getNode(m.name);
    await this.deps.writer.write({
      type: 'register', node: m.name, id: m.tags.id ?? existing?.id ?? '', address: m.addr,
      datacenter: m.tags.dc ?? this.config.datacenter, taggedAddresses: { lan: m.addr, wan: m.addr },
      nodeMeta: existing?.meta ?? {}, skipNodeUpdate: existing !== undefined && existing.address === m.addr,
      // servers carry the `consul` service, as Consul's leader registers it for each server
      ...(m.tags.role === 'consul' ? {
        service: {
          id: 'consul', service: 'consul', tags: [], address: '', port: Number(m.tags.port) || DEFAULTS.ports.server, meta: {},
          weights: { passing: 1, warning: 1 }, enableTagOverride: false,
        },
      } : {}),
      checks: [{
        checkId: SERF_HEALTH_CHECK.checkId, name: SERF_HEALTH_CHECK.name, status: alive ? 'passing' : 'critical',
        notes: '', output: alive ? 'Agent alive and reachable' : 'Agent not live or unreachable',
        serviceId: '', type: '', definition: {},
      }],
    });
  }

  /** Every member mirrored, and catalog nodes that gossip no longer knows (reaped while we were away) removed. */
  private async reconcileAll(): Promise<void> {
    const store = this.deps.store;
    if (!store || !this.deps.isLeader()) return;
    const members = this.members();
    for (const m of members) await this.mirror(m);
    const known = new Set(members.map((m) => m.name));
    for (const n of store.catalog.nodeList().value) {
      if (!known.has(n.node) && n.node !== this.config.nodeName && store.catalog.getCheck(n.node, SERF_HEALTH_CHECK.checkId)) {
        await this.deps.writer.write({ type: 'deregister', node: n.node });
      }
    }
  }

  private snapshotPath(): string | undefined {
    return this.config.dataDir ? joinPath(this.config.dataDir, 'serf', 'members.json') : undefined;
  }

  /** Known live members' addresses, for -rejoin after a restart. */
  private saveSnapshot(): void {
    const path = this.snapshotPath();
    if (!path) return;
    try {
      mkdirSync(joinPath(path, '..'), { recursive: true });
      const addrs = this.members().filter((m) => m.name !== this.config.nodeName && m.state !== 'left').map((m) => `${m.addr}:${m.port}`);
      writeFileSync(`${path}.tmp`, JSON.stringify(addrs));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not save the member snapshot');
    }
  }

  private snapshotAddresses(): string[] {
    const path = this.snapshotPath();
    if (!path) return [];
    try {
      const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }
}
