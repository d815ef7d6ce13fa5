import type { SelfSpec } from './core-types.js';
import { GossipSelfError } from './errors.js';
import type { Rng } from './rng.js';
import { utf8Length } from './wire-codec.js';
import { encodedTagsSize, MAX_TAGS_BYTES } from './wire.js';

/**
 * What a member knows about every member (itself included).
 *
 * States, as memberlist's:
 * - `alive`: answered a probe or announced itself at its current incarnation.
 * - `suspect`: some member's probe failed; it is dead when the suspicion
 *   timeout runs out unless it refutes with a higher incarnation.
 * - `dead`: declared failed (Consul shows `failed`); reconnects are attempted
 *   and it is reaped after reconnectTimeoutMs.
 * - `left`: announced its own departure (a dead message from itself); reaped
 *   after tombstoneTimeoutMs.
 *
 * Incarnation: a per-member Lamport clock that only the member itself advances
 * (to refute a suspicion or death, or to publish new tags). Ordering rules:
 * alive(i) beats suspect/dead(j) iff i > j; suspect(i) and dead(i) beat
 * alive(j) iff i ≥ j. Tags travel in alive messages, so a tag update is
 * ordered by the same clock: a member accepts new tags only with a higher
 * incarnation, and every member converges on the tags of the highest one.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export type Tags = Readonly<Record<string, string>>;

/** A member as the library reports it (a snapshot; never mutated after it is handed out). */
export interface Member {
  readonly name: string;
  /** IP address (IPv4 or IPv6 text) gossip packets are sent to. */
  readonly addr: string;
  readonly port: number;
  readonly tags: Tags;
  readonly incarnation: number;
  readonly state: MemberState;
  /** When this member's state last changed, by the owning core's clock. */
  readonly stateChangedAtMs: number;
}

/** The mutable record kept in the table. */
export interface MemberRecord {
  name: string;
  addr: string;
  port: number;
  tags: Tags;
  incarnation: number;
  state: MemberState;
  stateChangedAtMs: number;
}

export function snapshot(m: MemberRecord): Member {
  return Object.freeze({ ...m, tags: Object.freeze({ ...m.tags }) });
}

/** The local member's first record (incarnation 1, alive); throws GossipSelfError when it cannot go on the wire. */
export function localRecord(self: SelfSpec): MemberRecord {
  const tags = { ...(self.tags ?? {}) };
  if (!self.name || utf8Length(self.name) > 255) throw new GossipSelfError(`member name must be 1 to 255 bytes: ${JSON.stringify(self.name)}`);
  if (!self.addr || utf8Length(self.addr) > 255) throw new GossipSelfError(`member address must be 1 to 255 bytes: ${JSON.stringify(self.addr)}`);
  if (!Number.isInteger(self.port) || self.port < 1 || self.port > 65_535) throw new GossipSelfError(`member port must be 1 to 65535: ${self.port}`);
  if (encodedTagsSize(tags) > MAX_TAGS_BYTES) throw new GossipSelfError(`member tags exceed ${MAX_TAGS_BYTES} bytes encoded`);
  return { name: self.name, addr: self.addr, port: self.port, tags, incarnation: 1, state: 'alive', stateChangedAtMs: 0 };
}

/** "ip:port", with brackets around an IPv6 address. */
export function formatAddress(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Parses "ip:port" / "[v6]:port"; a missing port gives `defaultPort`. Undefined when unparsable. */
export function parseAddress(text: string, defaultPort?: number): { addr: string; port: number } | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!m?.[1]) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { addr: m[1], port };
}

export function sameTags(a: Tags, b: Tags): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

/**
 * The member table: a map by name plus an array for uniform random picks.
 * Invariant: `live` equals the number of records in state alive or suspect.
 */
export class MemberTable {
  private readonly byName = new Map<string, MemberRecord>();
  private readonly list: MemberRecord[] = [];
  private live = 0;

  get(name: string): MemberRecord | undefined {
    return this.byName.get(name);
  }

  /** Number of records, whatever their state. */
  get size(): number {
    return this.list.length;
  }

  /** Alive plus suspect members, the local one included: memberlist's estimate of N. */
  get liveCount(): number {
    return this.live;
  }

  all(): readonly MemberRecord[] {
    return this.list;
  }

  add(rec: MemberRecord): void {
    if (this.byName.has(rec.name)) throw new Error(`member ${rec.name} is already in the table`);
    this.byName.set(rec.name, rec);
    this.list.push(rec);
    if (isLive(rec.state)) this.live++;
  }

  remove(name: string): MemberRecord | undefined {
    const rec = this.byName.get(name);
    if (!rec) return undefined;
    this.byName.delete(name);
    const i = this.list.indexOf(rec);
    const last = this.list.pop() as MemberRecord;
    if (i < this.list.length) this.list[i] = last;
    if (isLive(rec.state)) this.live--;
    return rec;
  }

  /** Every state change goes through here, to keep the live count. */
  setState(rec: MemberRecord, state: MemberState, nowMs: number): void {
    if (rec.state === state) return;
    this.live += (isLive(state) ? 1 : 0) - (isLive(rec.state) ? 1 : 0);
    rec.state = state;
    rec.stateChangedAtMs = nowMs;
  }

  /**
   * Up to k distinct members for which `exclude` is false, picked uniformly by
   * up to 3 × size random draws (exhaustive enough for small tables, cheap for
   * large ones), as memberlist's kRandomNodes.
   */
  randomMembers(k: number, rng: Rng, exclude: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.list.length;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.list[rng.int(n)] as MemberRecord;
      if (exclude(m) || out.includes(m)) continue;
      out.push(m);
    }
    return out;
  }
}
