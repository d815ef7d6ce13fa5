import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';
import type { GossipConfig } from './config.js';
import type { GossipContext, MemberEvent, MemberEventType } from './context.js';
import type {
  GossipCoreDeps, InboundPacket, InboundStream, JoinAttempt, Ready, StreamKind, StreamOutcome, StreamRequest, StreamResult,
} from './core-types.js';
import { GossipSelfError } from './errors.js';
import { formatAddress, localRecord, MemberTable, parseAddress, snapshot, type Member, type MemberRecord, type MemberState, type Tags } from './members.js';
import { Membership } from './membership.js';
import { Prober } from './probe.js';
import { gossipTargets } from './gossip-round.js';
import { localState, mergeRemoteState, pushPullScale, pushPullTarget, reconnectTarget } from './push-pull.js';
import { reapExpired } from './reaper.js';
import { GossipStats, type DropReason, type GossipStatsSnapshot } from './stats.js';
import {
  assemblePacket, assertNever, decodeFrame, decodePacket, encodedTagsSize, encodeFrame, encodeMessage,
  MAX_TAGS_BYTES, PACKET_HEADER_BYTES, type PacketMessage,
} from './wire.js';

/**
 * The deterministic gossip core: SWIM with Lifeguard, as HashiCorp memberlist,
 * plus Serf's member bookkeeping (reconnect, reap). No sockets, timers, clock
 * or randomness of its own: the runtime feeds it time (`tick`), packets
 * (`step`) and stream frames (`stepStream`, `streamDone`), and drains what it
 * wants done with `ready()`. The same core runs under the UDP/TCP runtime
 * (node.ts) and in the seeded simulation (test/sim/).
 *
 * Never throws from step/stepStream/streamDone/tick on bad input: bad input is
 * dropped and counted in `stats()`.
 */
export class GossipCore {
  private readonly ctx: GossipContext;
  private readonly statsCounter = new GossipStats();
  private readonly membership: Membership;
  private readonly prober: Prober;
  private readonly maxPacketBytes: number;
  private out: Ready = { packets: [], streams: [], events: [] };
  private readonly pending = new Map<number, StreamKind>();
  private nextStreamId = 1;
  private started = false;
  private nextGossipAtMs = 0;
  private nextPushPullAtMs = Infinity;
  private nextReconnectAtMs = Infinity;
  private nextReapAtMs = 0;
  /** The last error a handler threw on decoded input (counted as 'internal'); for diagnostics. */
  lastInternalError: unknown;

  constructor(readonly config: Readonly<GossipConfig>, deps: GossipCoreDeps) {
    const selfRecord = localRecord(deps.self);
    const table = new MemberTable();
    table.add(selfRecord);
    this.maxPacketBytes = config.udpBufferSize - (deps.packetOverhead ?? 0);
    this.ctx = {
      config, rng: deps.rng, table, self: selfRecord, nowMs: 0,
      queue: new BroadcastQueue(), awareness: new Awareness(config.awarenessMaxMultiplier), stats: this.statsCounter,
      send: (to, messages) => this.send(to, messages),
      emit: (type, rec) => this.emit(type, rec),
    };
    this.membership = new Membership(this.ctx, (rec) => this.prober.addMember(rec), (name) => this.prober.probeNext(name));
    this.prober = new Prober(this.ctx, this.membership);
  }

  // ---- inputs -------------------------------------------------------------

  /** Advances time: runs every timer that is due at `nowMs`. */
  tick(nowMs: number): void {
    this.guard(nowMs, () => {
      const { ctx, config } = this;
      this.membership.expireSuspicions();
      this.prober.tick();
      if (nowMs >= this.nextGossipAtMs) {
        this.nextGossipAtMs = advance(this.nextGossipAtMs, config.gossipIntervalMs, nowMs);
        this.gossip();
      }
      if (nowMs >= this.nextPushPullAtMs) {
        this.nextPushPullAtMs = nowMs + pushPullScale(config.pushPullIntervalMs, ctx.table.liveCount);
        if (!this.membership.isLeaving) this.pushPullRandom();
      }
      if (nowMs >= this.nextReconnectAtMs) {
        this.nextReconnectAtMs = nowMs + config.reconnectIntervalMs;
        if (!this.membership.isLeaving) this.reconnect();
      }
      if (nowMs >= this.nextReapAtMs) {
        this.nextReapAtMs = nowMs + config.reapIntervalMs;
        this.reap();
      }
    });
  }

  /** Handles one UDP packet (plaintext: the runtime decrypts). */
  step(packet: InboundPacket): void {
    this.guard(packet.nowMs, () => {
      this.statsCounter.packetIn(packet.data.length);
      const decoded = decodePacket(packet.data);
      if (!decoded.ok) {
        this.statsCounter.drop(decoded.reason);
        return;
      }
      this.statsCounter.messagesIn(decoded.value.length);
      for (const msg of decoded.value) this.handle(msg, packet.from);
    });
  }

  /**
   * Handles a push-pull request frame a peer sent over a stream and returns
   * the reply frame (our state before the merge, as memberlist does), or a
   * stream-error frame when the request does not decode.
   */
  stepStream(stream: InboundStream): Uint8Array | undefined {
    let reply: Uint8Array | undefined;
    this.guard(stream.nowMs, () => {
      this.statsCounter.streamIn(stream.data.length);
      const decoded = decodeFrame(stream.data);
      if (!decoded.ok || decoded.value.type !== 'push-pull') {
        this.statsCounter.drop(decoded.ok ? 'malformed' : decoded.reason);
        reply = encodeFrame({ type: 'stream-error', reason: 'malformed' });
        return;
      }
      this.statsCounter.messagesIn(1);
      reply = encodeFrame(localState(this.ctx, false));
      mergeRemoteState(this.ctx, this.membership, decoded.value);
    });
    if (reply) this.statsCounter.streamBytes('out', reply.length);
    return reply;
  }

  /** Reports how a stream the core asked for (ready().streams) ended. */
  streamDone(result: StreamResult): StreamOutcome {
    const kind = this.pending.get(result.id);
    this.pending.delete(result.id);
    let outcome: StreamOutcome = { ok: false, kind, reason: 'internal error' };
    this.guard(result.nowMs, () => {
      outcome = this.finishStream(kind, result);
      if (!outcome.ok && kind !== undefined) this.statsCounter.count('pushPullFailures');
    });
    return outcome;
  }

  private finishStream(kind: StreamKind | undefined, result: StreamResult): StreamOutcome {
    if (kind === undefined) return { ok: false, kind, reason: `no stream ${result.id} is pending` };
    if (result.error !== undefined || !result.data) return { ok: false, kind, reason: result.error ?? 'no reply' };
    this.statsCounter.streamBytes('in', result.data.length);
    const decoded = decodeFrame(result.data);
    if (!decoded.ok) {
      this.statsCounter.drop(decoded.reason);
      return { ok: false, kind, reason: `undecodable reply (${decoded.detail})`, dropReason: decoded.reason };
    }
    const msg = decoded.value;
    if (msg.type === 'stream-error') return { ok: false, kind, reason: `peer refused the exchange (${msg.reason})`, peerError: msg.reason };
    this.statsCounter.messagesIn(1);
    mergeRemoteState(this.ctx, this.membership, msg);
    return { ok: true, kind, members: msg.members.length };
  }

  /** Starts a push-pull with each address ("ip:port"; no port means ours). */
  join(addresses: readonly string[], nowMs: number): JoinAttempt[] {
    const attempts: JoinAttempt[] = [];
    this.guard(nowMs, () => {
      for (const address of addresses) {
        const parsed = parseAddress(address.trim(), this.ctx.self.port);
        if (!parsed) attempts.push({ address, error: 'not an address of the form host:port' });
        else attempts.push({ address, id: this.requestStream(formatAddress(parsed.addr, parsed.port), 'join') });
      }
    });
    return attempts;
  }

  /** Starts a graceful leave; see `leaveBroadcastDone()`. Probing and push-pull stop, gossip goes on. */
  leave(nowMs: number): void {
    this.guard(nowMs, () => this.membership.leave());
  }

  /** True once our leave was gossiped its full number of times (the runtime may then stop). */
  leaveBroadcastDone(): boolean {
    return this.membership.leaveBroadcastDone;
  }

  /**
   * Consul's force-leave: a failed member is marked left (and the news
   * gossiped), so it is reaped after tombstoneTimeoutMs and no longer
   * reconnected to. False, with no effect, for unknown, live or left members
   * (a live one would refute it anyway).
   */
  forceLeave(name: string, nowMs: number): boolean {
    const rec = this.ctx.table.get(name);
    if (!rec || rec === this.ctx.self || rec.state !== 'dead') return false;
    this.guard(nowMs, () => this.membership.applyDead({ type: 'dead', incarnation: rec.incarnation, name, from: name }));
    return true;
  }

  /** Publishes new tags for the local member (an `update` event everywhere). */
  setTags(tags: Tags, nowMs: number): void {
    if (encodedTagsSize(tags) > MAX_TAGS_BYTES) throw new GossipSelfError(`member tags exceed ${MAX_TAGS_BYTES} bytes encoded`);
    this.guard(nowMs, () => this.membership.setLocalTags({ ...tags }));
  }

  // ---- outputs and queries --------------------------------------------------

  ready(): Ready {
    const out = this.out;
    this.out = { packets: [], streams: [], events: [] };
    return out;
  }

  /** The earliest time at which `tick` has something to do. */
  nextDeadline(): number {
    if (!this.started) return -Infinity;
    return Math.min(
      this.prober.nextDeadline(), this.membership.nextSuspicionDeadline(), this.nextGossipAtMs,
      this.nextPushPullAtMs, this.nextReconnectAtMs, this.nextReapAtMs,
    );
  }

  /** Every known member (itself included), sorted by name. */
  members(): Member[] {
    return this.ctx.table.all().map(snapshot).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  member(name: string): Member | undefined {
    const rec = this.ctx.table.get(name);
    return rec && snapshot(rec);
  }

  /** The state of one member, without copying it (cheap enough to poll for every member). */
  memberState(name: string): MemberState | undefined {
    return this.ctx.table.get(name)?.state;
  }

  localMember(): Member {
    return snapshot(this.ctx.self);
  }

  /** Number of alive plus suspect members, the local one included. */
  liveCount(): number {
    return this.ctx.table.liveCount;
  }

  /** Lifeguard's local health score: 0 healthy .. awarenessMaxMultiplier − 1. */
  healthScore(): number {
    return this.ctx.awareness.score;
  }

  stats(): GossipStatsSnapshot {
    return this.statsCounter.snapshot();
  }

  /** Counts a drop the runtime detected before the core saw the input (decryption). */
  recordDrop(reason: DropReason): void {
    this.statsCounter.drop(reason);
  }

  // ---- internals ------------------------------------------------------------

  /** Sets the time, starts the timers on first use, and keeps handler failures in the stats. */
  private guard(nowMs: number, fn: () => void): void {
    this.ctx.nowMs = nowMs;
    if (!this.started) this.startTimers(nowMs);
    try {
      fn();
    } catch (err) {
      this.statsCounter.drop('internal');
      this.lastInternalError = err;
    }
  }

  private startTimers(nowMs: number): void {
    const { config, rng } = this.ctx;
    this.started = true;
    this.ctx.self.stateChangedAtMs = nowMs;
    this.emit('join', this.ctx.self); // the local member is the first to join its own view
    // Random stagger, so that members started together do not act in lockstep.
    this.prober.startAt(nowMs + rng.int(config.probeIntervalMs));
    this.nextGossipAtMs = nowMs + rng.int(config.gossipIntervalMs);
    if (config.pushPullIntervalMs > 0) this.nextPushPullAtMs = nowMs + rng.int(config.pushPullIntervalMs);
    if (config.reconnectIntervalMs > 0) this.nextReconnectAtMs = nowMs + rng.int(config.reconnectIntervalMs);
    this.nextReapAtMs = nowMs + rng.int(config.reapIntervalMs);
  }

  private handle(msg: PacketMessage, from: string): void {
    switch (msg.type) {
      case 'ping': this.prober.onPing(msg, from); break;
      case 'indirect-ping': this.prober.onIndirectPing(msg, from); break;
      case 'ack': this.prober.onAck(msg); break;
      case 'nack': this.prober.onNack(msg); break;
      case 'alive': this.membership.applyAlive(msg); break;
      case 'suspect':
      case 'dead': {
        const correction = msg.type === 'suspect' ? this.membership.applySuspect(msg) : this.membership.applyDead(msg);
        if (correction) this.send(from, [correction]); // the sender holds a stale view: tell it directly
        break;
      }
      default: assertNever(msg);
    }
  }

  private limit(): number {
    return retransmitLimit(this.config.retransmitMult, this.ctx.table.liveCount);
  }

  private send(to: string, messages: PacketMessage[]): void {
    const parts = messages.map(encodeMessage);
    let used = PACKET_HEADER_BYTES;
    for (const p of parts) used += p.length;
    const extra = this.ctx.queue.take(this.maxPacketBytes - used, this.limit(), 255 - parts.length);
    this.emitPacket(to, [...parts, ...extra]);
  }

  private emitPacket(to: string, parts: Uint8Array[]): void {
    const data = assemblePacket(parts);
    this.out.packets.push({ to, data });
    this.statsCounter.packetOut(data.length, parts.length);
  }

  /** One gossip round: pending broadcasts to `gossipNodes` random members. */
  private gossip(): void {
    for (const target of gossipTargets(this.ctx)) {
      const parts = this.ctx.queue.take(this.maxPacketBytes - PACKET_HEADER_BYTES, this.limit());
      if (parts.length === 0) return;
      this.emitPacket(formatAddress(target.addr, target.port), parts);
    }
  }

  private requestStream(to: string, kind: StreamKind): number {
    const id = this.nextStreamId++;
    const data = encodeFrame(localState(this.ctx, kind === 'join'));
    const req: StreamRequest = { id, to, data, kind };
    this.pending.set(id, kind);
    this.out.streams.push(req);
    this.statsCounter.streamOut(data.length);
    return id;
  }

  private pushPullRandom(): void {
    const peer = pushPullTarget(this.ctx);
    if (peer) this.requestStream(formatAddress(peer.addr, peer.port), 'push-pull');
  }

  private reconnect(): void {
    const peer = reconnectTarget(this.ctx);
    if (peer) this.requestStream(formatAddress(peer.addr, peer.port), 'reconnect');
  }

  private reap(): void {
    for (const m of reapExpired(this.ctx)) {
      this.ctx.queue.drop(m.name);
      this.membership.forget(m.name);
      this.emit('reap', m);
    }
  }

  private emit(type: MemberEventType, rec: MemberRecord): void {
    const event: MemberEvent = { type, member: snapshot(rec), atMs: this.ctx.nowMs };
    this.out.events.push(event);
  }
}

/** The next tick of a ticker with `interval` after `prev`, skipping ticks missed before `now` (as Go's time.Ticker). */
function advance(prev: number, interval: number, now: number): number {
  const next = prev + interval;
  return next > now ? next : now + interval;
}
