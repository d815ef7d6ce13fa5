import { SortedKeys } from './sorted-keys.js';

/** One key. `flags` is a uint64 (Consul's lock flags do not fit a JS number). */
export interface KvEntry {
  key: string;
  value: Buffer;
  flags: bigint;
  lockIndex: number;
  /** The session holding the lock, "" when none. */
  session: string;
  createIndex: number;
  modifyIndex: number;
}

/** Why an acquire failed; the HTTP API answers `false` either way, txn reports the reason. */
export type LockRefusal = 'held' | 'lock-delay';

interface JournalRecord {
  key: string;
  entry: KvEntry | undefined;
  tombstone: number | undefined;
}

/**
 * The key/value table: entries in key order, tombstones of deleted keys (so
 * that a blocking query on a prefix wakes on a delete), lock-delays, and the
 * keys each session holds. Mutations journal their inverse while a
 * transaction is open, so `rollback()` restores every row and index.
 */
export class KvTable {
  private readonly entries = new Map<string, KvEntry>();
  private readonly order = new SortedKeys();
  private readonly tombstones = new Map<string, number>();
  private readonly tombstoneOrder = new SortedKeys();
  private readonly lockDelays = new Map<string, number>();
  private readonly bySession = new Map<string, Set<string>>();
  private tableIndex = 0;
  private journal: JournalRecord[] | undefined;
  private journalIndex = 0;

  // ---- reads ----

  get size(): number {
    return this.entries.size;
  }

  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  /** Entries whose key starts with `prefix`, ascending. */
  list(prefix: string): KvEntry[] {
    return this.order.withPrefix(prefix).map((k) => this.entries.get(k) as KvEntry);
  }

  /** Key names under `prefix`, cut after the first `separator` past the prefix and deduplicated. */
  keys(prefix: string, separator: string): string[] {
    const out: string[] = [];
    let last: string | undefined;
    for (const k of this.order.withPrefix(prefix)) {
      let name = k;
      if (separator) {
        const at = k.indexOf(separator, prefix.length);
        if (at >= 0) name = k.slice(0, at + separator.length);
      }
      if (name !== last) { out.push(name); last = name; }
    }
    return out;
  }

  /** Index of the whole table: moves on every write, deletes included. */
  get index(): number {
    return this.tableIndex;
  }

  /** Index for a single key: its ModifyIndex, or the table's when missing. */
  keyIndex(key: string): number {
    return this.entries.get(key)?.modifyIndex ?? this.tableIndex;
  }

  /** Index for a prefix: the highest ModifyIndex or tombstone under it, or the table's when there is none. */
  prefixIndex(prefix: string): number {
    let max = 0;
    for (const e of this.list(prefix)) max = Math.max(max, e.modifyIndex);
    for (const k of this.tombstoneOrder.withPrefix(prefix)) max = Math.max(max, this.tombstones.get(k) ?? 0);
    return max > 0 ? max : this.tableIndex;
  }

  heldBy(session: string): string[] {
    return [...(this.bySession.get(session) ?? [])].sort();
  }

  lockDelayUntil(key: string): number {
    return this.lockDelays.get(key) ?? 0;
  }

  // ---- writes (idx = log index of the command) ----

  /** A plain set: value and flags change, a held lock stays held. */
  set(idx: number, key: string, value: Buffer, flags: bigint): void {
    const prev = this.entries.get(key);
    this.write(idx, key, {
      key, value, flags, lockIndex: prev?.lockIndex ?? 0, session: prev?.session ?? '',
      createIndex: prev?.createIndex ?? idx, modifyIndex: idx,
    });
  }

  /** Check-and-set: `cas` 0 creates only if absent, otherwise the ModifyIndex must match. */
  cas(idx: number, key: string, value: Buffer, flags: bigint, cas: number): boolean {
    const prev = this.entries.get(key);
    if (cas === 0 ? prev !== undefined : prev?.modifyIndex !== cas) return false;
    this.set(idx, key, value, flags);
    return true;
  }

  /** Acquire for `session` (known to exist). `at` is the command's time, for lock-delays. */
  lock(idx: number, at: number, key: string, value: Buffer, flags: bigint, session: string): true | LockRefusal {
    const prev = this.entries.get(key);
    if (prev?.session && prev.session !== session) return 'held';
    if (prev?.session === session) {
      this.write(idx, key, { ...prev, value, flags, modifyIndex: idx });
      return true;
    }
    if (at < this.lockDelayUntil(key)) return 'lock-delay';
    this.write(idx, key, {
      key, value, flags, lockIndex: (prev?.lockIndex ?? 0) + 1, session,
      createIndex: prev?.createIndex ?? idx, modifyIndex: idx,
    });
    return true;
  }

  /** Release by the holder: the lock is cleared and value/flags take this request's. */
  unlock(idx: number, key: string, value: Buffer, flags: bigint, session: string): boolean {
    const prev = this.entries.get(key);
    if (!prev || prev.session !== session || session === '') return false;
    this.write(idx, key, { ...prev, value, flags, session: '', modifyIndex: idx });
    return true;
  }

  delete(idx: number, key: string): void {
    if (this.entries.has(key)) this.write(idx, key, undefined);
  }

  /** Delete only if the ModifyIndex matches; index 0 never deletes. */
  deleteCas(idx: number, key: string, cas: number): boolean {
    const prev = this.entries.get(key);
    if (cas === 0 || !prev || prev.modifyIndex !== cas) return false;
    this.write(idx, key, undefined);
    return true;
  }

  deleteTree(idx: number, prefix: string): void {
    for (const k of this.order.withPrefix(prefix)) this.write(idx, k, undefined);
  }

  /**
   * An invalidated session lets go of its keys: released (lock cleared) or
   * deleted, per its behavior; each key then refuses new acquires until
   * `at + lockDelayMs`.
   */
  releaseSession(idx: number, at: number, session: string, behavior: 'release' | 'delete', lockDelayMs: number): string[] {
    const keys = this.heldBy(session);
    for (const k of keys) {
      const prev = this.entries.get(k) as KvEntry;
      if (behavior === 'delete') this.write(idx, k, undefined);
      else this.write(idx, k, { ...prev, session: '', modifyIndex: idx });
      if (lockDelayMs > 0) this.lockDelays.set(k, at + lockDelayMs);
    }
    return keys;
  }

  /** Forgets lock-delays that ended before `at` (they would refuse nothing). */
  expireLockDelays(at: number): void {
    for (const [k, until] of this.lockDelays) if (until <= at) this.lockDelays.delete(k);
  }

  // ---- transactions ----

  begin(): void {
    this.journal = [];
    this.journalIndex = this.tableIndex;
  }

  commit(): void {
    this.journal = undefined;
  }

  rollback(): void {
    const journal = this.journal ?? [];
    this.journal = undefined;
    for (let i = journal.length - 1; i >= 0; i--) {
      const r = journal[i] as JournalRecord;
      this.put(r.key, r.entry);
      if (r.tombstone === undefined) { this.tombstones.delete(r.key); this.tombstoneOrder.delete(r.key); }
      else { this.tombstones.set(r.key, r.tombstone); this.tombstoneOrder.add(r.key); }
    }
    this.tableIndex = this.journalIndex;
  }

  private write(idx: number, key: string, next: KvEntry | undefined): void {
    this.journal?.push({ key, entry: this.entries.get(key), tombstone: this.tombstones.get(key) });
    this.put(key, next);
    if (next === undefined) { this.tombstones.set(key, idx); this.tombstoneOrder.add(key); }
    else if (this.tombstones.delete(key)) this.tombstoneOrder.delete(key);
    this.tableIndex = idx;
  }

  private put(key: string, next: KvEntry | undefined): void {
    const prev = this.entries.get(key);
    if (prev?.session) this.bySession.get(prev.session)?.delete(key);
    if (next === undefined) {
      this.entries.delete(key);
      this.order.delete(key);
      return;
    }
    if (!prev) this.order.add(key);
    this.entries.set(key, next);
    if (next.session) {
      let held = this.bySession.get(next.session);
      if (!held) { held = new Set(); this.bySession.set(next.session, held); }
      held.add(key);
    }
  }

  /** Every row, for snapshots and tests. */
  dump(): { entries: KvEntry[]; tombstones: Array<[string, number]>; lockDelays: Array<[string, number]>; index: number } {
    return {
      entries: this.order.all().map((k) => this.entries.get(k) as KvEntry),
      tombstones: [...this.tombstones.entries()].sort(),
      lockDelays: [...this.lockDelays.entries()].sort(),
      index: this.tableIndex,
    };
  }

  /**
   * Replaces every row, tombstone, lock-delay and the table index with a
   * snapshot's (entries are taken as they are); key orders and the keys each
   * session holds are rebuilt from them.
   */
  restore(tables: { entries: KvEntry[]; tombstones: Array<[string, number]>; lockDelays: Array<[string, number]>; index: number }): void {
    this.journal = undefined;
    this.entries.clear();
    this.bySession.clear();
    for (const e of tables.entries) {
      this.entries.set(e.key, e);
      if (e.session) {
        let held = this.bySession.get(e.session);
        if (!held) { held = new Set(); this.bySession.set(e.session, held); }
        held.add(e.key);
      }
    }
    this.order.reset(this.entries.keys());
    this.tombstones.clear();
    for (const [k, idx] of tables.tombstones) this.tombstones.set(k, idx);
    this.tombstoneOrder.reset(this.tombstones.keys());
    this.lockDelays.clear();
    for (const [k, until] of tables.lockDelays) this.lockDelays.set(k, until);
    this.tableIndex = tables.index;
  }
}
