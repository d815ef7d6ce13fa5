import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EMPTY_HARD_STATE } from './types.js';

/** The requested index is behind the first index kept (it was compacted into a snapshot). */
export class CompactedError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}

/** The requested index is beyond the last index stored. */
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} is unavailable`);
    this.name = 'UnavailableError';
  }
}

/**
 * What the core reads of the stable (persisted) log. The runtime keeps this
 * in step with what it has fsynced; the core never writes to it.
 */
export interface Storage {
  /** Hard state and configuration at start. */
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at least one even past maxBytes. Throws CompactedError when lo <= the snapshot index, UnavailableError when hi > lastIndex+1. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i; valid for i in [firstIndex-1, lastIndex] (firstIndex-1 is the snapshot's). Throws CompactedError/UnavailableError outside. */
  term(i: number): number;
  /** Index of the first entry available (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The newest snapshot (index 0 when none). */
  snapshot(): Snapshot;
}

export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/** Keeps entries [from, to) of `ents` whose total size stays within maxBytes, but at least one. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0] as Entry);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n] as Entry);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * Storage in memory: the tests' storage, and the runtime's cache of what the
 * WAL holds. `ents[0]` is a dummy entry standing for the snapshot point, so
 * `term(firstIndex-1)` answers without the snapshot.
 */
export class MemoryStorage implements Storage {
  private hard: HardState = { ...EMPTY_HARD_STATE };
  private snap: Snapshot = { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array() };
  private ents: Entry[] = [{ index: 0, term: 0, type: 'normal', data: new Uint8Array() }];

  constructor(conf?: ConfState) {
    if (conf) this.snap.meta.conf = { voters: [...conf.voters], learners: [...conf.learners] };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: this.snap.meta.conf };
  }

  setHardState(hs: HardState): void {
    this.hard = { ...hs };
  }

  private get offset(): number {
    return (this.ents[0] as Entry).index;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi);
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  term(i: number): number {
    if (i < this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return (this.ents[i - this.offset] as Entry).term;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces everything with a snapshot (a follower receiving one, or a restart). Ignores an older one. */
  applySnapshot(s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index && this.snap.meta.index !== 0) return;
    this.snap = s;
    this.ents = [{ index: s.meta.index, term: s.meta.term, type: 'normal', data: new Uint8Array() }];
  }

  /** Records a snapshot of the state machine at `index` (<= lastIndex); does not drop entries (see compact). */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) return this.snap;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { meta: { index, term: this.term(index), conf: { voters: [...conf.voters], learners: [...conf.learners] } }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index` (keeps it as the dummy). */
  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.ents = this.ents.slice(index - this.offset);
  }

  /** Appends entries, replacing any stored entries at or after the first new index. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    if (first + entries.length - 1 <= this.offset) return;
    const skip = this.offset >= first ? this.offset + 1 - first : 0;
    const ents = skip > 0 ? entries.slice(skip) : entries;
    const at = (ents[0] as Entry).index - this.offset;
    if (at > this.ents.length) throw new Error(`raft: missing log entries [last ${this.lastIndex()}, append at ${(ents[0] as Entry).index}]`);
    // in place: the log holds up to tens of thousands of entries, and copying it on every append
    // cost more than the append (entries() hands out copies, so nothing outside sees this array)
    if (at < this.ents.length) this.ents.length = at; // a conflicting suffix is replaced
    for (const e of ents) this.ents.push(e);
  }
}
