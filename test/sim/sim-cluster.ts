/**
 * A seeded, simulated network for the gossip core: one GossipCore per member,
 * a simulated clock, per-packet loss and delay, partitions, crashed and paused
 * members. Everything random comes from seeded generators, so a run is
 * replayed exactly from its seed. Used by test/sim/*.test.ts and by
 * bench/gossip.bench.ts.
 */
import { validateGossipConfig, type GossipConfig } from '../../src/gossip/config.js';
import type { MemberEvent } from '../../src/gossip/context.js';
import { GossipCore } from '../../src/gossip/core.js';
import type { MemberState, Tags } from '../../src/gossip/members.js';
import { createRng, type Rng } from '../../src/gossip/rng.js';
import { EventHeap } from './heap.js';

export interface SimOptions {
  seed: number;
  config?: Partial<GossipConfig>;
  /** Probability that one UDP packet is lost. */
  lossRate?: number;
  /** One-way delay of every packet and stream frame, uniform in [min, max] ms. */
  delayMs?: readonly [number, number];
}

export type SimStatus = 'up' | 'crashed' | 'paused';

export interface SimNode {
  readonly name: string;
  readonly addr: string;
  readonly core: GossipCore;
  status: SimStatus;
  /** Time of the wake-up currently scheduled (Infinity: none). */
  wakeAt: number;
  /** Every member event this member reported, in order. */
  readonly events: MemberEvent[];
}

type SimEvent =
  | { at: number; seq: number; kind: 'wake'; node: SimNode }
  | { at: number; seq: number; kind: 'packet'; from: SimNode; to: SimNode; data: Uint8Array }
  | { at: number; seq: number; kind: 'stream'; from: SimNode; to: string; id: number; data: Uint8Array }
  | { at: number; seq: number; kind: 'reply'; node: SimNode; id: number; data?: Uint8Array; error?: string };

type Unscheduled = SimEvent extends unknown ? DistributiveOmit<SimEvent, 'seq'> : never;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface LoggedEvent {
  atMs: number;
  observer: string;
  type: MemberEvent['type'];
  member: string;
}

export class SimCluster {
  readonly config: Readonly<GossipConfig>;
  readonly nodes: SimNode[] = [];
  readonly log: LoggedEvent[] = [];
  nowMs = 0;
  lossRate: number;
  /** UDP bytes and packets sent, TCP bytes sent (both directions of each exchange). */
  udpBytes = 0;
  udpPackets = 0;
  tcpBytes = 0;
  /** Optional hook on every event (benchmarks track dissemination with it). */
  onEvent: ((observer: SimNode, e: MemberEvent) => void) | undefined;
  private readonly byName = new Map<string, SimNode>();
  private readonly byAddr = new Map<string, SimNode>();
  private readonly net: Rng;
  private readonly heap = new EventHeap<SimEvent>();
  private readonly delay: readonly [number, number];
  private group = new Map<string, number>();
  private seq = 0;

  constructor(readonly options: SimOptions) {
    this.config = validateGossipConfig(options.config ?? {});
    this.net = createRng(options.seed);
    this.lossRate = options.lossRate ?? 0;
    this.delay = options.delayMs ?? [1, 5];
  }

  get(name: string): SimNode {
    const n = this.byName.get(name);
    if (!n) throw new Error(`no simulated member ${name}`);
    return n;
  }

  /** Adds a member (started at the current time); `join` names members whose addresses it joins. */
  add(name: string, opts: { tags?: Tags; join?: readonly string[] } = {}): SimNode {
    const i = this.nodes.length;
    const addr = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const core = new GossipCore(this.config, {
      rng: createRng((this.options.seed * 7919 + i * 104_729 + 1) >>> 0),
      self: { name, addr, port: 7946, tags: opts.tags ?? {} },
    });
    const node: SimNode = { name, addr: `${addr}:7946`, core, status: 'up', wakeAt: Infinity, events: [] };
    this.nodes.push(node);
    this.byName.set(name, node);
    this.byAddr.set(node.addr, node);
    core.tick(this.nowMs);
    if (opts.join?.length) core.join(opts.join.map((n) => this.get(n).addr), this.nowMs);
    this.flush(node);
    return node;
  }

  /** Stops a member for good, without a leave (a SIGKILL). */
  crash(name: string): void {
    this.get(name).status = 'crashed';
  }

  /** Freezes a member (a SIGSTOP): it neither acts nor hears; packets to it are lost. */
  pause(name: string): void {
    this.get(name).status = 'paused';
  }

  resume(name: string): void {
    const n = this.get(name);
    n.status = 'up';
    n.wakeAt = Infinity; // whatever was scheduled went by while it was paused
    n.core.tick(this.nowMs);
    this.flush(n);
  }

  leave(name: string): void {
    const n = this.get(name);
    n.core.leave(this.nowMs);
    this.flush(n);
  }

  setTags(name: string, tags: Tags): void {
    const n = this.get(name);
    n.core.setTags(tags, this.nowMs);
    this.flush(n);
  }

  /** Members in different groups cannot reach each other (members in no group reach everyone). */
  partition(groups: readonly (readonly string[])[]): void {
    this.group = new Map();
    groups.forEach((g, i) => g.forEach((name) => this.group.set(name, i)));
  }

  heal(): void {
    this.group = new Map();
  }

  private reachable(a: SimNode, b: SimNode): boolean {
    const ga = this.group.get(a.name);
    const gb = this.group.get(b.name);
    return ga === undefined || gb === undefined || ga === gb;
  }

  private schedule(e: Unscheduled): void {
    (e as SimEvent).seq = this.seq++;
    this.heap.push(e as SimEvent);
  }

  private latency(): number {
    const [lo, hi] = this.delay;
    return lo + this.net.int(hi - lo + 1);
  }

  /** Sends a member's outbox into the network and schedules its next wake-up. */
  private flush(node: SimNode): void {
    const ready = node.core.ready();
    for (const p of ready.packets) {
      this.udpBytes += p.data.length;
      this.udpPackets++;
      const to = this.byAddr.get(p.to);
      if (!to || !this.reachable(node, to) || this.net.next() < this.lossRate) continue;
      this.schedule({ at: this.nowMs + this.latency(), kind: 'packet', from: node, to, data: p.data });
    }
    for (const s of ready.streams) {
      this.tcpBytes += s.data.length;
      this.schedule({ at: this.nowMs + this.latency(), kind: 'stream', from: node, to: s.to, id: s.id, data: s.data });
    }
    for (const e of ready.events) {
      node.events.push(e);
      this.log.push({ atMs: e.atMs, observer: node.name, type: e.type, member: e.member.name });
      this.onEvent?.(node, e);
    }
    if (node.status !== 'up') return;
    const next = Math.max(node.core.nextDeadline(), this.nowMs);
    if (next < node.wakeAt) {
      node.wakeAt = next;
      this.schedule({ at: next, kind: 'wake', node });
    }
  }

  private handle(e: SimEvent): void {
    switch (e.kind) {
      case 'wake': {
        if (e.node.wakeAt !== e.at) return; // superseded by an earlier wake-up
        e.node.wakeAt = Infinity;
        if (e.node.status !== 'up') return; // crashed or paused: resume() wakes it
        e.node.core.tick(this.nowMs);
        this.flush(e.node);
        return;
      }
      case 'packet': {
        if (e.to.status !== 'up') return;
        e.to.core.step({ from: e.from.addr, data: e.data, nowMs: this.nowMs });
        this.flush(e.to);
        return;
      }
      case 'stream': {
        const to = this.byAddr.get(e.to);
        if (!to || to.status === 'crashed') {
          this.schedule({ at: this.nowMs + this.latency(), kind: 'reply', node: e.from, id: e.id, error: 'connection refused' });
        } else if (to.status === 'paused' || !this.reachable(e.from, to)) {
          this.schedule({ at: this.nowMs + this.config.tcpTimeoutMs, kind: 'reply', node: e.from, id: e.id, error: 'timed out' });
        } else {
          const reply = to.core.stepStream({ from: e.from.addr, data: e.data, nowMs: this.nowMs });
          this.flush(to);
          if (reply) this.tcpBytes += reply.length;
          this.schedule(reply
            ? { at: this.nowMs + this.latency(), kind: 'reply', node: e.from, id: e.id, data: reply }
            : { at: this.nowMs + this.latency(), kind: 'reply', node: e.from, id: e.id, error: 'closed without a reply' });
        }
        return;
      }
      case 'reply': {
        if (e.node.status === 'crashed') return;
        const result = e.data ? { id: e.id, nowMs: this.nowMs, data: e.data } : { id: e.id, nowMs: this.nowMs, error: e.error ?? 'no reply' };
        e.node.core.streamDone(result);
        if (e.node.status === 'up') this.flush(e.node);
        return;
      }
    }
  }

  /** Runs every event up to and including `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    for (let e = this.heap.peek(); e && e.at <= t; e = this.heap.peek()) {
      this.heap.pop();
      this.nowMs = e.at;
      this.handle(e);
    }
    this.nowMs = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  /** Runs until `done()` holds (checked every `stepMs`) or `maxMs` pass; returns the time it took, or undefined. */
  runUntilTrue(done: () => boolean, maxMs: number, stepMs = 100): number | undefined {
    const start = this.nowMs;
    while (this.nowMs - start <= maxMs) {
      if (done()) return this.nowMs - start;
      this.runFor(stepMs);
    }
    return done() ? this.nowMs - start : undefined;
  }

  up(): SimNode[] {
    return this.nodes.filter((n) => n.status === 'up');
  }

  /** The state `observer` holds for `member` (undefined: unknown). */
  stateOf(observer: string | SimNode, member: string): MemberState | undefined {
    const o = typeof observer === 'string' ? this.get(observer) : observer;
    return o.core.memberState(member);
  }

  /** True when every running member sees every name in `names` in `state`. */
  allSee(names: readonly string[], state: MemberState | ((s: MemberState | undefined) => boolean)): boolean {
    const ok = typeof state === 'function' ? state : (s: MemberState | undefined) => s === state;
    return this.up().every((o) => names.every((n) => ok(o.core.memberState(n))));
  }

  /** Fail events about `member`, by observer (first one each). */
  firstEvents(type: MemberEvent['type'], member: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.log) if (e.type === type && e.member === member && !out.has(e.observer)) out.set(e.observer, e.atMs);
    return out;
  }
}

/** The seed for a simulation test: SEED from the environment, else the test's fixed default. */
export function simSeed(fallback: number): number {
  const env = process.env.SEED;
  if (env === undefined || env === '') return fallback;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`SEED must be an integer, not ${env}`);
  return n >>> 0;
}

/** Starts n members named m0..m{n-1}, each joining m0, one every `spacingMs`. */
export function startCluster(sim: SimCluster, n: number, spacingMs = 10): string[] {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `m${i}`;
    sim.add(name, i === 0 ? {} : { join: ['m0'] });
    names.push(name);
    sim.runFor(spacingMs);
  }
  return names;
}

/**
 * The seed for one simulation test (SEED=… overrides `fallback`); printed
 * with the command that replays it when the test fails.
 */
export function seeded(t: { passing(): boolean; teardown(fn: () => void): void; name: string }, fallback: number, file: string): number {
  const seed = simSeed(fallback);
  t.teardown(() => {
    if (!t.passing()) console.log(`# ${t.name}: seed=${seed}; replay with SEED=${seed} node scripts/test.mjs ${file}`);
  });
  return seed;
}
