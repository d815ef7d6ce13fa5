import type { GossipContext } from './context.js';
import { sameTags, type MemberRecord, type Tags } from './members.js';
import { Suspicion, suspicionTimeout, wantedConfirmations } from './suspicion.js';
import { encodeMessage, type AliveMsg, type DeadMsg, type SuspectMsg } from './wire.js';

/**
 * The alive / suspect / dead transitions (memberlist's aliveNode, suspectNode,
 * deadNode and refute), applied to the member table. Every accepted change is
 * re-broadcast, so it spreads epidemically; rejected messages (old
 * incarnations, unknown members, name conflicts) change nothing.
 */
export class Membership {
  private readonly suspicions = new Map<string, Suspicion>();
  private leaving = false;
  private leaveFinished = false;

  constructor(
    private readonly ctx: GossipContext,
    /** Told about each member added to the table (the prober slots it into its order). */
    private readonly onNewMember: (rec: MemberRecord) => void,
    /** Told about each member this member starts to suspect (the prober probes it next). */
    private readonly onSuspected: (name: string) => void,
  ) {}

  get isLeaving(): boolean {
    return this.leaving;
  }

  /** True once the local member's leave broadcast was sent its full number of times (or no one was left to tell). */
  get leaveBroadcastDone(): boolean {
    return this.leaveFinished;
  }

  private broadcast(msg: AliveMsg | SuspectMsg | DeadMsg, onFinished?: () => void): void {
    this.ctx.queue.queue(msg.name, encodeMessage(msg), onFinished);
  }

  applyAlive(a: AliveMsg): void {
    const { ctx } = this;
    const isLocal = a.name === ctx.self.name;
    if (this.leaving && isLocal) return; // a late alive about us must not undo our leave
    const rec = ctx.table.get(a.name);
    if (!rec) {
      const fresh: MemberRecord = {
        name: a.name, addr: a.addr, port: a.port, tags: a.tags, incarnation: a.incarnation,
        state: 'alive', stateChangedAtMs: ctx.nowMs,
      };
      ctx.table.add(fresh);
      this.onNewMember(fresh);
      this.broadcast(a);
      ctx.emit('join', fresh);
      return;
    }
    let takesOver = false;
    if (rec.addr !== a.addr || rec.port !== a.port) {
      const reclaim = ctx.config.deadNodeReclaimTimeMs;
      const canReclaim = reclaim > 0 && ctx.nowMs - rec.stateChangedAtMs > reclaim;
      if (!isLocal && (rec.state === 'left' || (rec.state === 'dead' && canReclaim))) {
        takesOver = true;
      } else {
        ctx.stats.drop('name-conflict');
        return;
      }
    }
    if (isLocal) {
      // Someone holds a view of us at our incarnation or later: if it differs from
      // what we are, say who we are with a higher incarnation.
      if (a.incarnation < rec.incarnation) return;
      if (a.incarnation === rec.incarnation && sameTags(a.tags, rec.tags)) return;
      this.refute(a.incarnation);
      return;
    }
    if (a.incarnation <= rec.incarnation && !takesOver) return;
    this.suspicions.delete(a.name);
    this.broadcast(a);
    const oldState = rec.state;
    const changed = !sameTags(rec.tags, a.tags) || rec.addr !== a.addr || rec.port !== a.port;
    rec.incarnation = a.incarnation;
    rec.tags = a.tags;
    rec.addr = a.addr;
    rec.port = a.port;
    ctx.table.setState(rec, 'alive', ctx.nowMs);
    if (oldState === 'dead' || oldState === 'left') ctx.emit('join', rec);
    else if (changed) ctx.emit('update', rec);
  }

  /**
   * Returns the alive message that corrects the sender when the suspicion is
   * stale (about an incarnation older than the alive one we know), else undefined.
   */
  applySuspect(s: SuspectMsg): AliveMsg | undefined {
    const { ctx } = this;
    const rec = ctx.table.get(s.name);
    if (!rec) return undefined;
    if (s.incarnation < rec.incarnation) return this.correction(rec);
    const existing = this.suspicions.get(s.name);
    if (existing) {
      // Another member reached the same verdict on its own: shorten the timer and
      // pass the news on so that independent confirmations keep flowing.
      if (existing.confirm(s.from, ctx.nowMs)) this.broadcast(s);
      return undefined;
    }
    if (rec.state !== 'alive') return undefined;
    if (s.name === ctx.self.name) {
      if (!this.leaving) this.refute(s.incarnation);
      return undefined;
    }
    this.broadcast(s);
    rec.incarnation = s.incarnation;
    ctx.table.setState(rec, 'suspect', ctx.nowMs);
    const n = ctx.table.liveCount;
    const min = suspicionTimeout(ctx.config.suspicionMult, n, ctx.config.probeIntervalMs);
    const k = wantedConfirmations(ctx.config.suspicionMult, n);
    this.suspicions.set(s.name, new Suspicion(s.incarnation, s.from, k, min, min * ctx.config.suspicionMaxTimeoutMult, ctx.nowMs));
    this.onSuspected(s.name);
    return undefined;
  }

  /** Like applySuspect: the correcting alive message when the death is stale. */
  applyDead(d: DeadMsg): AliveMsg | undefined {
    const { ctx } = this;
    const rec = ctx.table.get(d.name);
    if (!rec) return undefined;
    if (d.incarnation < rec.incarnation) return this.correction(rec);
    this.suspicions.delete(d.name);
    const left = d.from === d.name;
    // Already dead or left: nothing new, except that a member we declared dead
    // says it left on purpose, which is worth telling (left, not failed).
    if (rec.state === 'left' || (rec.state === 'dead' && !left)) return undefined;
    if (d.name === ctx.self.name) {
      if (!this.leaving) {
        this.refute(d.incarnation);
        return undefined;
      }
      this.broadcast(d, () => {
        this.leaveFinished = true;
      });
    } else {
      this.broadcast(d);
    }
    rec.incarnation = d.incarnation;
    ctx.table.setState(rec, left ? 'left' : 'dead', ctx.nowMs);
    ctx.emit(left ? 'leave' : 'fail', rec);
    return undefined;
  }

  /**
   * The alive message that answers a stale accusation of `rec`. Not in
   * memberlist: a member that missed a refutation (all of whose copies were
   * lost) would otherwise keep its suspicion until the timer runs out and
   * declare a live member dead, since nobody re-sends a refutation once its
   * retransmissions are spent. Whoever hears the stale suspicion (the suspect
   * itself included) tells the sender the newer incarnation directly.
   */
  private correction(rec: MemberRecord): AliveMsg | undefined {
    if (rec.state !== 'alive' || (rec === this.ctx.self && this.leaving)) return undefined;
    return { type: 'alive', incarnation: rec.incarnation, name: rec.name, addr: rec.addr, port: rec.port, tags: rec.tags };
  }

  /** Announces a higher incarnation of ourselves than the one we are accused at. */
  refute(accusedIncarnation: number): void {
    const { self } = this.ctx;
    self.incarnation = Math.max(self.incarnation + 1, accusedIncarnation + 1);
    this.ctx.awareness.applyDelta(1); // being accused is a sign we may be the slow one
    this.ctx.stats.count('refutations');
    this.broadcast(this.selfAlive());
  }

  selfAlive(): AliveMsg {
    const { self } = this.ctx;
    return { type: 'alive', incarnation: self.incarnation, name: self.name, addr: self.addr, port: self.port, tags: self.tags };
  }

  /** Publishes new local tags under the next incarnation (the Lamport order of tag updates). */
  setLocalTags(tags: Tags): void {
    const { ctx } = this;
    ctx.self.tags = tags;
    ctx.self.incarnation++;
    this.broadcast(this.selfAlive());
    ctx.emit('update', ctx.self);
  }

  /** Starts a graceful leave: a dead message from ourselves about ourselves. */
  leave(): void {
    const { ctx } = this;
    if (this.leaving) return;
    this.leaving = true;
    this.applyDead({ type: 'dead', incarnation: ctx.self.incarnation, name: ctx.self.name, from: ctx.self.name });
    if (ctx.table.liveCount === 0) this.leaveFinished = true; // no one to tell
  }

  /** Declares dead every suspect whose timer ran out. */
  expireSuspicions(): void {
    const { ctx } = this;
    for (const [name, s] of this.suspicions) {
      if (s.deadlineMs > ctx.nowMs) continue;
      this.suspicions.delete(name);
      const rec = ctx.table.get(name);
      if (rec?.state === 'suspect') this.applyDead({ type: 'dead', incarnation: rec.incarnation, name, from: ctx.self.name });
    }
  }

  nextSuspicionDeadline(): number {
    let next = Infinity;
    for (const s of this.suspicions.values()) if (s.deadlineMs < next) next = s.deadlineMs;
    return next;
  }

  /** The suspicion timer of `name`, if any (tests and diagnostics). */
  suspicionOf(name: string): Suspicion | undefined {
    return this.suspicions.get(name);
  }

  forget(name: string): void {
    this.suspicions.delete(name);
  }
}
