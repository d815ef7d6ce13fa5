import type { Logger } from '../log.js';
import { MusterError } from '../errors.js';
import type { AgentConfig } from '../config/types.js';
import { StateStore } from '../state/store.js';
import { CheckRunners } from '../health/runner.js';
import { systemClock, type Clock } from '../time.js';
import type { CheckDefinition, HealthStatus, ServiceDefinition } from './definition.js';
import { LocalState, type LocalCheck } from './local-state.js';
import { AntiEntropy, type SelfNode } from './anti-entropy.js';
import { LocalCatalogReader, LocalWriter, type CatalogReader, type CommandWriter } from './writer.js';
import { resolveCheck, resolveServiceChecks, validateService } from './validate.js';
import { decodeCheck, decodeService } from './definition-json.js';
import { CriticalReaper } from './reaper.js';
import { Sessions } from './sessions.js';
import { Membership } from './membership.js';

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
  readonly self: SelfNode;
  private readonly runners: CheckRunners;
  private readonly antiEntropy: AntiEntropy;
  private readonly reaper: CriticalReaper;
  readonly sessions: Sessions;
  readonly membership: Membership;
  private readonly log: Logger;
  private readonly clock: Clock;
  readonly startedAt: number;
  private readonly requestShutdown: (reason: string, exitCode: number) => void;

  constructor(readonly config: AgentConfig, deps: AgentDeps) {
    this.log = deps.log.child({ component: 'agent' });
    this.clock = deps.clock ?? systemClock;
    this.startedAt = this.clock.now();
    if (!config.server) {
      throw new MusterError('ERR_CONFIG', 'client agents need a server to forward to; run with -server or -dev (cluster mode comes with Raft and gossip)');
    }
    this.store = new StateStore();
    this.writer = new LocalWriter(this.store);
    this.reader = new LocalCatalogReader(this.store);
    this.self = {
      node: config.nodeName, id: config.nodeId, address: config.advertiseAddr, datacenter: config.datacenter,
      taggedAddresses: { lan: config.advertiseAddr, wan: config.advertiseAddr }, meta: { ...config.nodeMeta },
    };
    this.local = new LocalState(this.clock, () => { void this.antiEntropy.trigger(); });
    this.antiEntropy = new AntiEntropy(this.self, this.local, this.reader, this.writer, this.log.child({ component: 'anti-entropy' }));
    this.runners = new CheckRunners({
      log: this.log,
      onResult: (checkId, status, output) => { this.local.setStatus(checkId, status, output); },
    });
    this.requestShutdown = deps.requestShutdown ?? ((reason) => this.log.warn({ reason }, 'shutdown requested, but nobody listens'));
    this.membership = new Membership(config, {
      log: this.log, writer: this.writer, store: this.store, requestShutdown: this.requestShutdown,
    });
    this.sessions = new Sessions(this.store, this.writer, this.log.child({ component: 'sessions' }));
    this.reaper = new CriticalReaper(this.local, this.clock, (serviceId, checkId) => {
      this.log.info({ service: serviceId, check: checkId }, 'deregistering service: check critical too long');
      this.deregisterService(serviceId).catch((err: unknown) => this.log.warn({ err, service: serviceId }, 'reap failed'));
    });
  }

  /** The server RPC address this agent knows as leader ("" when none). */
  leaderAddress(): string {
    return this.config.server ? `${this.config.advertiseAddr}:${this.config.ports.server}` : '';
  }

  peers(): string[] {
    return this.config.server ? [this.leaderAddress()] : [];
  }

  async start(): Promise<void> {
    try {
      if (this.config.server) await this.registerSelfAsLeader();
      await this.membership.start();
      for (const raw of this.config.services) {
        await this.registerService(decodeService(raw), { replaceExistingChecks: false });
      }
      for (const raw of this.config.checks) await this.registerCheck(decodeCheck(raw));
      this.sessions.armAll();
      this.antiEntropy.start(this.config.antiEntropyIntervalMs);
      this.reaper.start(this.config.reapIntervalMs);
    } catch (err) {
      await this.stop(); // a failed start leaves no socket or timer behind, so the process can exit
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.membership.stop();
    this.sessions.stop();
    this.reaper.stop();
    this.antiEntropy.stop();
    this.runners.stopAll();
  }

  /** What the leader writes for a live member: the node, `serfHealth` passing, and `consul` on servers. */
  private async registerSelfAsLeader(): Promise<void> {
    await this.writer.write({
      type: 'register', node: this.self.node, id: this.self.id, address: this.self.address,
      datacenter: this.self.datacenter, taggedAddresses: this.self.taggedAddresses, nodeMeta: this.self.meta,
      skipNodeUpdate: false,
      service: {
        id: 'consul', service: 'consul', tags: [], address: '', port: this.config.ports.server, meta: {},
        weights: { passing: 1, warning: 1 }, enableTagOverride: false,
      },
      checks: [{
        checkId: SERF_HEALTH.checkId, name: SERF_HEALTH.name, status: 'passing', notes: '',
        output: 'Agent alive and reachable', serviceId: '', type: '', definition: {},
      }],
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

  async registerCheck(def: CheckDefinition): Promise<void> {
    const c = resolveCheck(def, { scriptChecks: this.config.enableScriptChecks });
    if (c.serviceId && !this.local.services.has(c.serviceId)) {
      throw new MusterError('ERR_BAD_REQUEST', `ServiceID "${c.serviceId}" does not exist`);
    }
    this.local.addCheck(c);
    this.runners.start(c.checkId, c);
    await this.antiEntropy.trigger();
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
    await this.membership.leave();
    this.requestShutdown('left the cluster', 0);
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
