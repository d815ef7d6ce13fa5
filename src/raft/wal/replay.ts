import { decodeEntry, decodeHardState } from '../codec.js';
import type { Entry, HardState } from '../types.js';
import { EMPTY_HARD_STATE } from '../types.js';
import { decodeMarker, RecordType, type Marker, type RawRecord } from './record.js';

/** What recovery hands back: the newest hard state, the newest snapshot marker and the log after it. */
export interface Recovered {
  hardState: HardState;
  snapshot: { index: number; term: number } | undefined;
  /** Entries after the snapshot marker, contiguous, in order, conflicts resolved. */
  entries: Entry[];
}

/** The WAL does not hold a consistent log: the message names the file, the offset and the problem. */
export class WalCorruptError extends Error {
  constructor(file: string, offset: number, problem: string) {
    super(`wal: ${file} at offset ${offset}: ${problem}; the log is corrupt (refusing to open rather than drop data)`);
    this.name = 'WalCorruptError';
  }
}

/**
 * Replays records in the order they were written (segment by segment) into
 * the log they describe, the way etcd's WAL does:
 * - an entry with index i replaces every entry >= i (a follower truncating a
 *   conflicting suffix) and is appended;
 * - the newest hard-state record wins;
 * - the snapshot marker with the highest index wins, and entries at or before
 *   it are dropped at the end.
 *
 * Invariant: `entries` is contiguous (entries[k].index === entries[0].index + k).
 * An entry that cannot extend it (it skips indexes, or starts before it)
 * restarts it; the indexes skipped that way must be covered by the final
 * snapshot marker, and with a marker the log must go on right after it, else
 * finish() reports the entries as missing. The very first entry replayed may
 * start anywhere (older segments may have been released behind a snapshot).
 */
export class Replayer {
  private entries: Entry[] = [];
  private hardState: HardState = { ...EMPTY_HARD_STATE };
  private marker: Marker | undefined;
  /** Highest index known to be missing before a restart of `entries`, and where that happened. */
  private missingUpTo = 0;
  private missingAt: { file: string; offset: number } | undefined;
  /** Where the record of entries[0] is. */
  private startAt = { file: '', offset: 0 };

  /** Applies one record; returns the entry index it wrote (0 for other records). Throws WalCorruptError. */
  apply(file: string, rec: RawRecord): number {
    try {
      switch (rec.type) {
        case RecordType.entry:
          return this.applyEntry(file, rec.offset, decodeEntry(rec.payload));
        case RecordType.hardState:
          this.hardState = decodeHardState(rec.payload);
          return 0;
        case RecordType.snapshotMarker: {
          const m = decodeMarker(rec.payload);
          if (this.marker === undefined || m.index >= this.marker.index) this.marker = m;
          return 0;
        }
        default:
          throw new Error(`unknown record type ${rec.type}`);
      }
    } catch (err) {
      if (err instanceof WalCorruptError) throw err;
      throw new WalCorruptError(file, rec.offset, `record with a good CRC does not decode (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  private applyEntry(file: string, offset: number, e: Entry): number {
    const first = this.entries[0];
    if (first === undefined || e.index < first.index || e.index > first.index + this.entries.length) {
      if (first !== undefined && e.index - 1 > this.missingUpTo) {
        this.missingUpTo = e.index - 1;
        this.missingAt = { file, offset };
      }
      this.entries = [e];
      this.startAt = { file, offset };
    } else {
      this.entries.length = e.index - first.index;
      this.entries.push(e);
    }
    return e.index;
  }

  /** The recovered state; throws WalCorruptError when entries after the snapshot marker are missing. */
  finish(): Recovered {
    const cut = this.marker?.index ?? 0;
    if (this.missingUpTo > cut && this.missingAt) {
      const { file, offset } = this.missingAt;
      throw new WalCorruptError(file, offset, `entries up to ${this.missingUpTo} are missing and no snapshot marker covers them (marker ${cut})`);
    }
    const first = this.entries[0];
    if (this.marker && first && first.index > cut + 1) {
      throw new WalCorruptError(this.startAt.file, this.startAt.offset, `entries ${cut + 1}..${first.index - 1} after the snapshot marker are missing`);
    }
    const drop = first === undefined ? 0 : Math.min(this.entries.length, Math.max(0, cut - first.index + 1));
    return {
      hardState: this.hardState,
      snapshot: this.marker && { index: this.marker.index, term: this.marker.term },
      entries: drop === 0 ? this.entries : this.entries.slice(drop),
    };
  }

  /** Index of the last entry replayed (before dropping at the marker), or undefined when none was. */
  lastEntryIndex(): number | undefined {
    const n = this.entries.length;
    return n === 0 ? undefined : (this.entries[n - 1] as Entry).index;
  }
}
