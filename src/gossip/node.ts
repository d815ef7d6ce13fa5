import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { validateGossipConfig, type GossipConfig } from './config.js';
import type { MemberEvent, MemberEventType } from './context.js';
import { GossipCore } from './core.js';
import type { StreamRequest } from './core-types.js';
import { acceptPlaintext, ENCRYPTION_OVERHEAD, open, seal, type Channel, type Opened } from './encryption.js';
import { GossipJoinError, GossipStateError, GossipStreamError } from './errors.js';
import type { Keyring } from './keyring.js';
import { formatAddress, type Member, type Tags } from './members.js';
import { createRng } from './rng.js';
import type { GossipStatsSnapshot } from './stats.js';
import type { Transport } from './transport.js';
import { UdpTransport } from './udp-transport.js';
import { decodeFrame, encodeFrame, looksLikePlaintext, type StreamErrorReason } from './wire.js';

/** Milliseconds from a clock that does not jump backwards (e.g. `performance.now()`); only differences matter. */
export interface GossipClock {
  now(): number;
}

/** Shaped like src/time.ts `Timers`, so the agent passes its own. */
export interface GossipTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface GossipNodeOptions {
  /** Unique member name (Consul's node name). */
  name: string;
  /** Address to bind UDP and TCP on (this project: 127.0.0.1 in tests). */
  bindAddr: string;
  /** Port for both UDP and TCP; 0 picks a free one (see `address()` after start). */
  port: number;
  /** Address other members reach us at; default bindAddr (required when binding 0.0.0.0 or ::). */
  advertiseAddr?: string;
  tags?: Tags;
  /** Encryption on when given: every packet and frame is sealed; plaintext and other keys are dropped. */
  keyring?: Keyring;
}

export interface GossipNodeDeps {
  clock: GossipClock;
  timers: GossipTimers;
  /** Seed of the core's Rng; default from crypto. */
  seed?: number;
  /** Cryptographic randomness for nonces; default node:crypto randomBytes. */
  randomBytes?: (n: number) => Uint8Array;
  /** Default: UDP + TCP on bindAddr:port. */
  transport?: Transport;
  /** Called when a member-event listener throws (default: rethrown asynchronously). */
  onListenerError?: (err: unknown) => void;
}

const STREAM_REFUSALS_BY_KEY: readonly StreamErrorReason[] = ['decrypt-failed', 'plaintext', 'unexpected-encryption'];

/**
 * The gossip runtime: owns the sockets and one timer, and drives a GossipCore
 * (timer → tick, socket → step / stepStream, stream replies → streamDone),
 * draining its outbox after each input. Encryption happens here, with
 * cryptographic nonces, so that the core stays deterministic.
 *
 * Events: `member` (every MemberEvent) and one per type (`join`, `update`,
 * `leave`, `fail`, `reap`), each with the MemberEvent.
 */
export class GossipNode extends EventEmitter<Record<'member' | MemberEventType, [MemberEvent]>> {
  readonly config: Readonly<GossipConfig>;
  private readonly transport: Transport;
  private readonly randomBytes: (n: number) => Uint8Array;
  private core: GossipCore | undefined;
  private timer: unknown;
  private timerAt = Infinity;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private readonly waiters = new Map<number, (err: GossipStreamError | undefined) => void>();
  private bound: { addr: string; port: number } | undefined;

  constructor(config: Partial<GossipConfig>, private readonly options: GossipNodeOptions, private readonly deps: GossipNodeDeps) {
    super();
    this.config = validateGossipConfig(config);
    this.randomBytes = deps.randomBytes ?? ((n) => new Uint8Array(cryptoRandomBytes(n)));
    this.transport = deps.transport ?? new UdpTransport({ bindAddr: options.bindAddr, port: options.port, streamTimeoutMs: this.config.tcpTimeoutMs });
  }

  /** Binds the sockets and starts the protocol; resolves with the bound address. A failed start closes what it opened. */
  async start(): Promise<{ addr: string; port: number }> {
    if (this.state !== 'new') throw new GossipStateError(`cannot start a gossip node that is ${this.state}`);
    this.state = 'starting';
    try {
      const bound = await this.transport.listen({ packet: (from, data) => this.onPacket(from, data), stream: (from, frame) => this.onStream(from, frame) });
      const advertise = this.options.advertiseAddr ?? this.options.bindAddr;
      if (advertise === '0.0.0.0' || advertise === '::') throw new GossipStateError('an advertise address is required when binding to all interfaces');
      const seed = this.deps.seed ?? Buffer.from(this.randomBytes(4)).readUInt32LE(0);
      this.core = new GossipCore(this.config, {
        rng: createRng(seed),
        self: { name: this.options.name, addr: advertise, port: bound.port, tags: this.options.tags ?? {} },
        packetOverhead: this.options.keyring ? ENCRYPTION_OVERHEAD : 0,
      });
      this.bound = { addr: advertise, port: bound.port };
    } catch (err) {
      this.state = 'stopped';
      await this.transport.close();
      throw err;
    }
    this.state = 'running';
    this.core.tick(this.now());
    this.drain();
    return this.bound;
  }

  /** "ip:port" other members reach us at (after start). */
  address(): string {
    if (!this.bound) throw new GossipStateError('the gossip node is not started');
    return formatAddress(this.bound.addr, this.bound.port);
  }

  /**
   * Push-pulls with each address; resolves with how many answered. Rejects
   * with a GossipJoinError when none did: its code is
   * ERR_GOSSIP_ENCRYPTION_MISMATCH when a peer could not read us or we could
   * not read it (wrong key, or one side without encryption), else ERR_GOSSIP_JOIN.
   */
  async join(addresses: readonly string[]): Promise<number> {
    const core = this.running();
    const attempts = core.join(addresses, this.now());
    const results = attempts.map((a) =>
      'error' in a
        ? Promise.resolve(new GossipStreamError('ERR_GOSSIP_STREAM', a.address, a.error))
        : new Promise<GossipStreamError | undefined>((resolve) => this.waiters.set(a.id, resolve)));
    this.drain();
    const errors = await Promise.all(results);
    const answered = errors.filter((e) => e === undefined).length;
    if (answered === 0) throw new GossipJoinError(errors.filter((e): e is GossipStreamError => e !== undefined));
    return answered;
  }

  /**
   * Leaves gracefully: gossips our departure, waits until it was sent its full
   * number of times or `timeoutMs` passes, then stops. Resolves true when the
   * leave was fully gossiped.
   */
  async leave(timeoutMs: number): Promise<boolean> {
    const core = this.running();
    core.leave(this.now());
    this.drain();
    const deadline = this.now() + timeoutMs;
    while (!core.leaveBroadcastDone() && this.now() < deadline && this.state === 'running') {
      await new Promise<void>((resolve) => this.deps.timers.setTimeout(resolve, Math.min(this.config.gossipIntervalMs, Math.max(1, deadline - this.now()))));
    }
    const done = core.leaveBroadcastDone();
    await this.stop();
    return done;
  }

  /** Stops at once, without telling anyone (the others will detect a failure). */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.transport.close();
  }

  /** Publishes new tags (an `update` event on every member). */
  setTags(tags: Tags): void {
    this.running().setTags(tags, this.now());
    this.drain();
  }

  /** Marks a failed member left everywhere (see GossipCore.forceLeave); false when it is not failed. */
  forceLeave(name: string): boolean {
    const done = this.running().forceLeave(name, this.now());
    this.drain();
    return done;
  }

  members(): Member[] {
    return this.core?.members() ?? [];
  }

  member(name: string): Member | undefined {
    return this.core?.member(name);
  }

  localMember(): Member | undefined {
    return this.core?.localMember();
  }

  /** Lifeguard local health score (0 healthy). */
  healthScore(): number {
    return this.core?.healthScore() ?? 0;
  }

  stats(): GossipStatsSnapshot | undefined {
    return this.core?.stats();
  }

  // ---- driving the core -------------------------------------------------------

  private now(): number {
    return this.deps.clock.now();
  }

  private running(): GossipCore {
    if (this.state !== 'running' || !this.core) throw new GossipStateError(`the gossip node is ${this.state === 'running' ? 'not ready' : this.state}`);
    return this.core;
  }

  private onPacket(from: string, data: Uint8Array): void {
    const core = this.core;
    if (this.state !== 'running' || !core) return;
    const opened = this.unseal(data, 'packet');
    if (!opened.ok) core.recordDrop(opened.reason);
    else core.step({ from, data: opened.plaintext, nowMs: this.now() });
    this.drain();
  }

  private onStream(from: string, frame: Uint8Array): Uint8Array | undefined {
    const core = this.core;
    if (this.state !== 'running' || !core) return undefined;
    const opened = this.unseal(frame, 'stream');
    if (!opened.ok) {
      core.recordDrop(opened.reason);
      const reason: StreamErrorReason = opened.reason === 'plaintext' || opened.reason === 'unexpected-encryption' ? opened.reason : 'decrypt-failed';
      return encodeFrame({ type: 'stream-error', reason }); // in plaintext: the peer cannot read anything else of ours
    }
    const reply = core.stepStream({ from, data: opened.plaintext, nowMs: this.now() });
    this.drain();
    return reply && this.sealed(reply, 'stream');
  }

  private unseal(data: Uint8Array, channel: Channel): Opened {
    return this.options.keyring ? open(this.options.keyring, data, channel) : acceptPlaintext(data);
  }

  private sealed(data: Uint8Array, channel: Channel): Uint8Array {
    const ring = this.options.keyring;
    return ring ? seal(ring.primaryKey, data, this.randomBytes(12), channel) : data;
  }

  private drain(): void {
    const core = this.core;
    if (!core || this.state !== 'running') return;
    const ready = core.ready();
    for (const p of ready.packets) this.transport.sendPacket(p.to, this.sealed(p.data, 'packet'));
    for (const s of ready.streams) void this.runStream(core, s);
    for (const e of ready.events) {
      try {
        this.emit('member', e);
        this.emit(e.type, e);
      } catch (err) {
        if (this.deps.onListenerError) this.deps.onListenerError(err);
        else queueMicrotask(() => { throw err; });
      }
    }
    this.schedule(core.nextDeadline());
  }

  private schedule(at: number): void {
    if (this.state !== 'running' || at >= this.timerAt) return;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      const core = this.core;
      if (this.state !== 'running' || !core) return;
      core.tick(this.now());
      this.drain();
    }, Math.max(0, Math.ceil(at - this.now())));
  }

  /** Runs one push-pull exchange and reports it to the core (and to a join waiting on it). */
  private async runStream(core: GossipCore, req: StreamRequest): Promise<void> {
    let failure: GossipStreamError | undefined;
    try {
      const raw = await this.transport.exchange(req.to, this.sealed(req.data, 'stream'), this.config.tcpTimeoutMs);
      const opened = this.unseal(raw, 'stream');
      if (!opened.ok) {
        core.recordDrop(opened.reason);
        const peer = looksLikePlaintext(raw) ? decodeFrame(raw) : undefined;
        const peerError = peer?.ok && peer.value.type === 'stream-error' ? peer.value.reason : undefined;
        failure = mismatch(req.to, peerError ?? (opened.reason === 'plaintext' ? 'plaintext-reply' : opened.reason));
        core.streamDone({ id: req.id, nowMs: this.now(), error: failure.message });
      } else {
        const outcome = core.streamDone({ id: req.id, nowMs: this.now(), data: opened.plaintext });
        if (!outcome.ok) {
          failure = outcome.peerError !== undefined && STREAM_REFUSALS_BY_KEY.includes(outcome.peerError)
            ? mismatch(req.to, outcome.peerError)
            : new GossipStreamError('ERR_GOSSIP_STREAM', req.to, outcome.reason);
        }
      }
    } catch (err) {
      failure = err instanceof GossipStreamError ? err : new GossipStreamError('ERR_GOSSIP_STREAM', req.to, String(err), { cause: err });
      if (this.state === 'running') core.streamDone({ id: req.id, nowMs: this.now(), error: failure.message });
    }
    this.waiters.get(req.id)?.(failure);
    this.waiters.delete(req.id);
    this.drain();
  }
}

/**
 * The one-line cause of an exchange that failed on encryption. `why` is what
 * the peer told us it could not do (its stream-error reason) or, when it told
 * us nothing readable, what we could not do with its reply.
 */
function mismatch(address: string, why: string): GossipStreamError {
  const text: Record<string, string> = {
    'decrypt-failed': 'could not decrypt (different keys)',
    plaintext: 'peer requires encryption, this member sent plaintext',
    'unexpected-encryption': 'peer has encryption off, this member sent encrypted frames',
    'plaintext-reply': 'peer replied in plaintext, this member requires encryption',
  };
  return new GossipStreamError('ERR_GOSSIP_ENCRYPTION_MISMATCH', address, text[why] ?? `could not read the reply (${why})`);
}
