import { lookup } from 'node:dns/promises';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import type { SidecarConfig } from '../config/types.js';
import type { Backend } from '../backends/types.js';
import { errorMessage } from '../errors.js';
import { sleep } from '../time.js';
import { Reconciler, type ContainerExit } from './sync.js';
import { watchDocker, type ContainerEvent } from './watcher.js';
import { DOCKER_HEALTH_TTL_MS } from './checks.js';
import type { ContainerInspect, MappingOptions } from './types.js';
import type { SidecarObserver } from './observer.js';

export interface SidecarDeps {
  docker: Docker;
  backend: Backend;
  log: Logger;
  /** Metrics: events handled, registrations, reconciliations (the embedded sidecar reports to its agent). */
  observer?: SidecarObserver;
}

/**
 * The registrator part: follows Docker, keeps the registry equal to what runs.
 * Events of one container are handled strictly in order (no die/start race);
 * different containers proceed independently. Every (re)connect to Docker and
 * every `-resync` runs a full reconciliation; a registry that cannot be read
 * makes the reconciliation retry with back-off, while the changes already
 * known wait in the queue.
 */
export class Sidecar {
  private readonly abort = new AbortController();
  private readonly reconciler: Reconciler;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private watching: Promise<void> | undefined;
  private resyncing: Promise<void> | undefined;
  private readonly log: Logger;
  private mapping: MappingOptions;
  private connectedOnce = false;
  private readonly firstSync: Promise<void>;
  private markFirstSync: () => void = () => {};

  constructor(private readonly config: SidecarConfig, private readonly deps: SidecarDeps, parentSignal?: AbortSignal) {
    this.log = deps.log.child({ component: 'sidecar' });
    parentSignal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.mapping = {
      hostname: config.hostname, internal: config.internal, explicit: config.explicit, ttl: config.ttl,
      ...(config.ip ? { ip: config.ip } : {}),
      ...(config.useIpFromLabel ? { useIpFromLabel: config.useIpFromLabel } : {}),
      ...(config.tags ? { tags: config.tags } : {}),
    };
    this.reconciler = new Reconciler(deps.backend, {
      mapping: this.mapping, deregister: config.deregister, cleanup: config.cleanup, requireLabel: config.requireLabel,
      ...(deps.observer ? { observer: deps.observer } : {}),
    }, this.log, this.abort.signal);
    this.firstSync = new Promise((resolve) => { this.markFirstSync = resolve; });
  }

  start(): void {
    this.watching = watchDocker(this.deps.docker, {
      onConnected: (reconnect) => this.onConnected(reconnect),
      onEvent: (e) => this.onEvent(e),
    }, { signal: this.abort.signal, log: this.log });
    const every = (seconds: number, fn: () => void) => {
      if (seconds <= 0) return;
      const t = setInterval(fn, seconds * 1000);
      t.unref();
      this.timers.push(t);
    };
    every(this.config.resync, () => { this.resyncSoon(); });
    every(this.config.ttlRefresh, () => this.reconciler.refreshTtl());
    every(DOCKER_HEALTH_TTL_MS / 3000, () => this.reconciler.refreshHealth());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    await this.watching;
    await Promise.allSettled([...this.chains.values()]);
  }

  /** Resolves after the first full sync has been queued and every queued change has reached the registry. */
  async settled(): Promise<void> {
    await this.firstSync;
    await Promise.allSettled([...this.chains.values()]);
    await this.reconciler.queue.idle();
  }

  wanted() {
    return this.reconciler.wanted();
  }

  private async onConnected(reconnect: boolean): Promise<void> {
    if (reconnect) this.log.info('resyncing after reconnect');
    this.connectedOnce = true;
    await this.resync();
  }

  private resyncSoon(): void {
    if (!this.connectedOnce || this.resyncing) return;
    this.resync().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'resync failed'));
  }

  /** Lists and inspects what runs, then reconciles; retries the registry part until it works or is aborted. */
  private resync(): Promise<void> {
    if (this.resyncing) return this.resyncing;
    this.resyncing = (async () => {
      const running = await this.inspectRunning();
      await this.resolveHostname();
      let delay = 500;
      for (;;) {
        try {
          const r = await this.reconciler.reconcile({ running, exitOf: (id) => this.exitOf(id) });
          this.log.info({ containers: running.length, registered: r.registered, removed: r.removed }, 'synced with docker');
          this.deps.observer?.reconciled(r);
          break;
        } catch (err) {
          this.log.warn({ err: errorMessage(err), retryInMs: delay }, 'registry unavailable for sync; will retry');
          // meanwhile queue what is known, so it lands as soon as the registry is back
          for (const info of running) this.reconciler.containerUp(info, true);
          this.markFirstSync();
          await sleep(delay, this.abort.signal);
          delay = Math.min(delay * 2, 30_000);
        }
      }
      this.markFirstSync();
    })().finally(() => { this.resyncing = undefined; });
    return this.resyncing;
  }

  private async inspectRunning(): Promise<ContainerInspect[]> {
    const list = await this.deps.docker.listContainers();
    const out: ContainerInspect[] = [];
    const ids = list.map((c) => c.Id);
    for (let i = 0; i < ids.length; i += 32) {
      const batch = await Promise.all(ids.slice(i, i + 32).map((id) => this.inspect(id)));
      for (const info of batch) if (info?.State?.Running) out.push(info);
    }
    this.mapping.linked = new Map(out.flatMap((c) => [[c.Id, c], [c.Name.replace(/^\//, ''), c]] as Array<[string, ContainerInspect]>));
    return out;
  }

  private async resolveHostname(): Promise<void> {
    try {
      const { address } = await lookup(this.config.hostname, { family: 4 });
      this.mapping.hostnameIp = address;
    } catch {
      delete this.mapping.hostnameIp;
    }
  }

  private async inspect(id: string): Promise<ContainerInspect | undefined> {
    try {
      return (await this.deps.docker.getContainer(id).inspect()) as unknown as ContainerInspect;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  private async exitOf(id: string): Promise<ContainerExit> {
    const info = await this.inspect(id);
    if (!info) return { exists: false, running: false, exitCode: 0 };
    return { exists: true, running: info.State?.Running === true, exitCode: info.State?.ExitCode ?? 0 };
  }

  /** Queues the event behind earlier events of the same container. */
  private onEvent(e: ContainerEvent): void {
    const arrived = performance.now();
    const prev = this.chains.get(e.id) ?? Promise.resolve();
    const next = prev.then(async () => {
      await this.handle(e, arrived);
      this.deps.observer?.eventHandled(e.status.split(':')[0] ?? e.status);
    }).catch((err: unknown) => {
      this.log.warn({ err: errorMessage(err), container: e.id.slice(0, 12), event: e.status }, 'docker event not handled');
    });
    this.chains.set(e.id, next);
    void next.finally(() => { if (this.chains.get(e.id) === next) this.chains.delete(e.id); });
  }

  private async handle(e: ContainerEvent, arrived: number): Promise<void> {
    const status = e.status;
    if (status === 'start' || status === 'rename' || status === 'unpause') {
      const info = await this.inspect(e.id);
      if (!info?.State?.Running) return;
      const ref = info.HostConfig?.NetworkMode?.startsWith('container:') ? info.HostConfig.NetworkMode.slice('container:'.length) : undefined;
      if (ref && !this.mapping.linked?.has(ref)) {
        const other = await this.inspect(ref);
        if (other) this.mapping.linked = new Map([...(this.mapping.linked ?? []), [ref, other]]);
      }
      this.reconciler.containerUp(info, false, arrived);
    } else if (status === 'die') {
      const exit: ContainerExit = this.config.deregister === 'always'
        ? { exists: true, running: false, exitCode: Number(e.attributes.exitCode ?? 0) }
        : await this.exitOf(e.id);
      this.reconciler.containerDown(e.id, exit);
    } else if (status === 'destroy') {
      this.reconciler.containerDown(e.id, undefined);
    } else if (status.startsWith('health_status')) {
      const health = status.slice(status.indexOf(':') + 1).trim();
      if (health) this.reconciler.healthChanged(e.id, health);
    }
  }
}
