import type { GossipContext } from './context.js';
import { formatAddress, type MemberRecord } from './members.js';
import type { Membership } from './membership.js';
import type { AckMsg, IndirectPingMsg, NackMsg, PacketMessage, PingMsg } from './wire.js';

/**
 * SWIM failure detection with Lifeguard's nacks.
 *
 * Once per probe interval one member is probed, round-robin over a shuffled
 * list of the live members (reshuffled at each wrap, new members slotted in
 * at random places, so every member is probed by everyone once per round and
 * the time to the first probe of a crashed member stays low). A probe:
 *
 *   t0                 ping (with a suspect message too if the target is suspect)
 *   t0 + probeTimeout  no ack yet: ping-req through `indirectChecks` alive members,
 *                      each of which pings the target and acks us, or nacks us when
 *                      the target stayed silent for 0.8 × probeTimeout
 *   t0 + probeInterval × (awareness score + 1)
 *                      no ack at all: suspect the target; raise our own awareness
 *                      score by the nacks that did not come (we may be the slow one)
 *
 * An ack at any time ends the probe and lowers the awareness score.
 *
 * Not in memberlist: a member we start to suspect (on our own or on hearsay)
 * is probed next, out of turn (see probeNext); a ping from a member we suspect
 * or hold dead is answered with the accusation too (see onPing); and a probe
 * whose prober was stalled past its indirect time keeps its full indirect phase.
 */

interface ProbeInFlight {
  seq: number;
  target: string;
  incarnation: number;
  indirectAtMs: number;
  indirectSent: boolean;
  deadlineMs: number;
  expectedNacks: number;
  nacks: number;
}

/** A ping we send for another member's ping-req. */
interface Relay {
  requester: string;
  requesterSeq: number;
  /** When to nack if the target is still silent (undefined: nack sent or not wanted). */
  nackAtMs: number | undefined;
  deadlineMs: number;
}

/**
 * An intermediary nacks after this fraction of probeTimeout, so that the nack
 * reaches the prober before its deadline (probeTimeout + 0.8 × probeTimeout
 * plus two one-way delays < probeInterval with the default 500/1000 ms);
 * it still forwards an ack that comes later, until probeTimeout.
 */
const NACK_FRACTION = 0.8;

export class Prober {
  private order: string[] = [];
  private index = 0;
  private current: ProbeInFlight | undefined;
  private readonly relays = new Map<number, Relay>();
  private seq = 0;
  private nextProbeAtMs = Infinity;

  constructor(
    private readonly ctx: GossipContext,
    private readonly membership: Membership,
  ) {}

  /** Schedules the first probe (the core staggers it randomly within one interval). */
  startAt(firstProbeAtMs: number): void {
    this.nextProbeAtMs = firstProbeAtMs;
  }

  /** Slots a new member in at a random place of the current round. */
  addMember(rec: MemberRecord): void {
    const at = this.ctx.rng.int(this.order.length + 1);
    this.order.splice(at, 0, rec.name);
    if (at < this.index) this.index++;
  }

  /**
   * Probes `name` next (a member we just started to suspect). The ping carries
   * the suspicion, so a live suspect hears it and refutes, and a member that
   * missed the refutation is corrected by the suspect itself; a dead one fails
   * the probe and our failure counts as an independent confirmation.
   */
  probeNext(name: string): void {
    if (this.current?.target === name || this.order[this.index] === name) return;
    this.order.splice(this.index, 0, name);
  }

  tick(): void {
    const now = this.ctx.nowMs;
    for (const [seq, relay] of this.relays) {
      if (relay.nackAtMs !== undefined && relay.nackAtMs <= now) {
        relay.nackAtMs = undefined;
        this.ctx.send(relay.requester, [{ type: 'nack', seq: relay.requesterSeq }]);
      }
      if (relay.deadlineMs <= now) this.relays.delete(seq);
    }
    const p = this.current;
    if (p && !p.indirectSent && now >= p.indirectAtMs) {
      // If we were stalled (GC, SIGSTOP) past the indirect time, the indirect phase
      // still gets its full length: our own stall is no evidence against the target.
      p.deadlineMs = Math.max(p.deadlineMs, now + (p.deadlineMs - p.indirectAtMs));
      this.sendIndirect(p);
    }
    if (p && now >= p.deadlineMs) this.fail(p);
    if (!this.current && now >= this.nextProbeAtMs && !this.membership.isLeaving) {
      this.nextProbeAtMs += this.ctx.config.probeIntervalMs;
      if (this.nextProbeAtMs <= now) this.nextProbeAtMs = now + this.ctx.config.probeIntervalMs;
      this.start();
    }
  }

  nextDeadline(): number {
    let next = Infinity;
    const p = this.current;
    if (p) next = Math.min(p.indirectSent ? Infinity : p.indirectAtMs, p.deadlineMs);
    else if (!this.membership.isLeaving) next = this.nextProbeAtMs;
    for (const r of this.relays.values()) next = Math.min(next, r.deadlineMs, r.nackAtMs ?? Infinity);
    return next;
  }

  /** The next member to probe, reshuffling at the end of each round; undefined when there is none. */
  private nextTarget(): MemberRecord | undefined {
    const { table, self } = this.ctx;
    for (let checked = 0; checked <= this.order.length + 1; checked++) {
      if (this.index >= this.order.length) {
        this.order = this.ctx.rng.shuffle(table.all().filter((m) => m !== self && (m.state === 'alive' || m.state === 'suspect')).map((m) => m.name));
        this.index = 0;
        if (this.order.length === 0) return undefined;
      }
      const rec = table.get(this.order[this.index++] as string);
      if (rec && rec !== self && (rec.state === 'alive' || rec.state === 'suspect')) return rec;
    }
    return undefined;
  }

  private start(): void {
    const target = this.nextTarget();
    if (!target) return;
    const { ctx } = this;
    const seq = this.nextSeq();
    const msgs: PacketMessage[] = [{ type: 'ping', seq, target: target.name, source: ctx.self.name }];
    // A suspect target hears the accusation with the ping, so it can refute at once.
    if (target.state === 'suspect') msgs.push({ type: 'suspect', incarnation: target.incarnation, name: target.name, from: ctx.self.name });
    this.current = {
      seq, target: target.name, incarnation: target.incarnation,
      indirectAtMs: ctx.nowMs + ctx.config.probeTimeoutMs, indirectSent: false,
      deadlineMs: ctx.nowMs + ctx.awareness.scaleTimeout(ctx.config.probeIntervalMs),
      expectedNacks: 0, nacks: 0,
    };
    ctx.send(formatAddress(target.addr, target.port), msgs);
  }

  private sendIndirect(p: ProbeInFlight): void {
    const { ctx } = this;
    p.indirectSent = true;
    const target = ctx.table.get(p.target);
    if (!target || ctx.config.indirectChecks === 0) return;
    const peers = ctx.table.randomMembers(ctx.config.indirectChecks, ctx.rng, (m) => m === ctx.self || m === target || m.state !== 'alive');
    p.expectedNacks = peers.length;
    for (const peer of peers) {
      const req: IndirectPingMsg = { type: 'indirect-ping', seq: p.seq, target: target.name, addr: target.addr, port: target.port, nack: true };
      ctx.send(formatAddress(peer.addr, peer.port), [req]);
    }
  }

  private fail(p: ProbeInFlight): void {
    const { ctx } = this;
    this.current = undefined;
    ctx.stats.count('probesFailed');
    // With intermediaries, only the nacks that did not come count against us: a
    // nack proves the intermediary was reachable, so the target is the silent one.
    ctx.awareness.applyDelta(p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1);
    this.membership.applySuspect({ type: 'suspect', incarnation: p.incarnation, name: p.target, from: ctx.self.name });
  }

  onPing(msg: PingMsg, from: string): void {
    const { ctx } = this;
    if (msg.target !== '' && msg.target !== ctx.self.name) {
      ctx.stats.drop('wrong-target'); // meant for a member that used to have this address
      return;
    }
    const msgs: PacketMessage[] = [{ type: 'ack', seq: msg.seq }];
    // A ping from a member we suspect or think dead proves it runs: tell it what we
    // hold against it, so it refutes now rather than when the news finds it.
    const sender = msg.source === '' ? undefined : ctx.table.get(msg.source);
    if (sender && sender !== ctx.self && (sender.state === 'suspect' || sender.state === 'dead')) {
      const accusation = { incarnation: sender.incarnation, name: sender.name, from: ctx.self.name };
      msgs.push(sender.state === 'suspect' ? { type: 'suspect', ...accusation } : { type: 'dead', ...accusation });
    }
    ctx.send(from, msgs);
  }

  onIndirectPing(msg: IndirectPingMsg, from: string): void {
    const { ctx } = this;
    const seq = this.nextSeq();
    const timeout = ctx.config.probeTimeoutMs;
    this.relays.set(seq, {
      requester: from, requesterSeq: msg.seq, deadlineMs: ctx.nowMs + timeout,
      nackAtMs: msg.nack ? ctx.nowMs + Math.floor(timeout * NACK_FRACTION) : undefined,
    });
    ctx.send(formatAddress(msg.addr, msg.port), [{ type: 'ping', seq, target: msg.target, source: ctx.self.name }]);
  }

  onAck(msg: AckMsg): void {
    const p = this.current;
    if (p && p.seq === msg.seq) {
      this.current = undefined;
      this.ctx.awareness.applyDelta(-1);
      return;
    }
    const relay = this.relays.get(msg.seq);
    if (relay) {
      this.relays.delete(msg.seq);
      this.ctx.send(relay.requester, [{ type: 'ack', seq: relay.requesterSeq }]);
      return;
    }
    this.ctx.stats.drop('unknown-ack'); // late (after its probe ended) or forged
  }

  onNack(msg: NackMsg): void {
    const p = this.current;
    if (p && p.seq === msg.seq) p.nacks++;
    else this.ctx.stats.drop('unknown-ack');
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }
}
