import { constants, write, writeSync } from 'node:fs';
import { mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Entry, HardState } from '../types.js';
import { encodeBatch, encodeMarker, type Marker } from './record.js';
import { Replayer, type Recovered } from './replay.js';
import { ZEROS, fdatasync, fsync, listSegments, readSegment, segmentName, syncDir, type SegmentInfo, type Sync } from './segment.js';

export type { Recovered } from './replay.js';
export { WalCorruptError } from './replay.js';

/** A new segment is started once the current one has reached this size (64 MiB). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** How much of a segment is zero-filled ahead of its writes at a time (1 MiB). */
export const DEFAULT_PREALLOCATE_BYTES = 1024 * 1024;
/** Appends up to this size are written on the calling thread (256 KiB); see WalOptions.inlineWriteBytes. */
export const DEFAULT_INLINE_WRITE_BYTES = 256 * 1024;

export interface WalOptions {
  /** Start a new segment before appending once the current one has at least this many bytes. Default 64 MiB. A segment exceeds it by at most one batch. */
  segmentBytes?: number;
  /**
   * Zero-fill the current segment ahead of the writes, this many bytes at a
   * time (default 1 MiB; 0 turns it off). A write into space that
   * is already allocated and written changes no file metadata, so making it
   * durable needs no filesystem journal commit: on ext4 that makes each
   * synced append cheaper, and keeps concurrent syncs from queueing behind
   * one another's journal commits.
   */
  preallocateBytes?: number;
  /**
   * Appends of at most this many bytes are written with a synchronous
   * `pwrite` on the calling thread (default 256 KiB; 0 sends every write
   * through libuv's thread pool), unless save() is asked for `pooled`.
   * Handing a write of a few hundred bytes to the pool costs two cross-thread
   * wake-ups, which on a busy machine measured 15-25% more CPU per replicated
   * write. The caller's event loop waits for the disk meanwhile: a Raft
   * follower waits for the write anyway, and other work (HTTP, gossip) is
   * held up by one small synced write; a disk that stalls stalls the
   * follower with it, as etcd's raft loop does. Larger writes (snapshot
   * catch-up, big values) go through the pool. Only with O_DSYNC (no custom
   * `sync`).
   */
  inlineWriteBytes?: number;
  /** Called with one-line warnings, e.g. a torn tail truncated. Default: ignore. */
  warn?: (msg: string) => void;
  /**
   * For tests: replaces the syncs of segments and of the directory. By
   * default segments are opened with O_DSYNC, so a write returns once its
   * data (and the file size, if it grew) is durable: one system call instead
   * of a write and an fdatasync. A custom `sync` turns that off and is called
   * where the WAL needs durability instead.
   */
  sync?: (fh: FileHandle) => Promise<void>;
}

interface Segment extends SegmentInfo {
  /** Highest entry index written into this segment; 0 when none. */
  maxIndex: number;
}

const noop = (): void => undefined;

/**
 * The Raft write-ahead log: a directory of segment files holding entry,
 * hard-state and snapshot-marker records (see record.ts, segment.ts), replayed
 * on open with etcd's semantics (see replay.ts).
 *
 * Invariants:
 * - Operations run one at a time in call order (a promise queue), so callers
 *   may fire saves without awaiting them.
 * - A save is one write, durable when it returns (O_DSYNC; with a custom
 *   sync, one sync when asked). Starting a new segment first trims the old
 *   one to its records and syncs it (only the last segment can be torn), and
 *   fsyncs the directory; a record never spans two segments.
 * - The current segment may be zero-filled past its last record (see
 *   preallocateBytes); replay reads zeros to the end of the last segment as
 *   its end. Zero-filling is skipped while the disk is full.
 * - Entries appended must not leave a gap after the last index known (the last
 *   entry or the snapshot marker, whichever is higher) and must lie after the
 *   snapshot marker; an entry at or below the last index overwrites the suffix.
 * - releaseTo deletes only a prefix of segments and only behind the snapshot
 *   marker, after re-recording the marker and the hard state in the current
 *   segment, so recovery never needs a deleted segment.
 * - After an I/O error the WAL refuses all further calls (its tail is unknown).
 */
export class Wal {
  private tail: Promise<void> = Promise.resolve();
  private failed: unknown;
  private closed = false;
  private dirty = false;
  /** Operations queued or in flight. */
  private running = 0;
  /** Preallocation failed on this segment for lack of space: append without it until the next segment. */
  private noRoom = false;
  /** A zero-fill of the current segment in flight (see fill); it never rejects. */
  private extending: Promise<void> | undefined;
  /** Why a zero-fill failed (other than for space): the next append reports it. */
  private fillFailed: unknown;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly sync: Sync,
    private readonly dirSync: Sync,
    private readonly segments: Segment[],
    private readonly dsync: boolean,
    private readonly preallocate: number,
    private readonly inlineWrite: number,
    private readonly warn: (msg: string) => void,
    private fh: FileHandle,
    private size: number,
    /** The current segment file's length: at least `size`, more when zero-filled ahead. */
    private allocated: number,
    private lastIndex: number | undefined,
    private marker: Marker | undefined,
    private hardState: HardState,
  ) {}

  /** Opens (creating it when missing) and recovers the WAL in `dir`. Rejects with WalCorruptError on corruption. */
  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; recovered: Recovered }> {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const warn = opts.warn ?? noop;
    const sync = opts.sync ?? fdatasync;
    const dirSync = opts.sync ?? fsync;
    const dsync = opts.sync === undefined;
    const preallocate = opts.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES;
    const inlineWrite = dsync ? opts.inlineWriteBytes ?? DEFAULT_INLINE_WRITE_BYTES : 0;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new TypeError(`wal: segmentBytes must be a positive integer, got ${segmentBytes}`);
    if (!Number.isSafeInteger(preallocate) || preallocate < 0) throw new TypeError(`wal: preallocateBytes must be a non-negative integer, got ${preallocate}`);
    if (!Number.isSafeInteger(inlineWrite) || inlineWrite < 0) throw new TypeError(`wal: inlineWriteBytes must be a non-negative integer, got ${inlineWrite}`);

    if (!(await exists(dir))) {
      await mkdir(dir, { recursive: true });
      await syncDir(dirname(dir), dirSync);
    }
    const infos = await listSegments(dir, warn);
    const replayer = new Replayer();
    const segments: Segment[] = [];
    let size = 0;
    let allocated = 0;
    for (const [i, info] of infos.entries()) {
      const path = join(dir, info.name);
      const read = await readSegment(path, i === infos.length - 1, { warn, sync });
      let maxIndex = 0;
      for (const rec of read.records) maxIndex = Math.max(maxIndex, replayer.apply(path, rec));
      segments.push({ ...info, maxIndex });
      size = read.size;
      allocated = read.length;
    }
    const recovered = replayer.finish();
    const marker = recovered.snapshot;
    const lastEntry = replayer.lastEntryIndex();
    const lastIndex = lastEntry === undefined && marker === undefined ? undefined : Math.max(lastEntry ?? 0, marker?.index ?? 0);

    let fh: FileHandle;
    const current = segments.at(-1);
    if (current) {
      fh = await open(join(dir, current.name), openFlags(dsync, false));
    } else {
      const seg = { seq: 1, firstIndex: 1, name: segmentName(1, 1), maxIndex: 0 };
      fh = await open(join(dir, seg.name), openFlags(dsync, true));
      await syncDir(dir, dirSync);
      segments.push(seg);
    }
    const wal = new Wal(dir, segmentBytes, sync, dirSync, segments, dsync, preallocate, inlineWrite, warn, fh, size, allocated, lastIndex, marker, { ...recovered.hardState });
    return { wal, recovered };
  }

  /**
   * Appends `entries` (in order, contiguous) then `hardState` in one write, durable when it
   * resolves (with a custom sync: when `sync`). With `pooled` the write goes through the thread
   * pool whatever its size, so the caller's event loop runs on meanwhile.
   */
  save(hardState: HardState | undefined, entries: Entry[], sync: boolean, pooled = false): Promise<void> {
    const first = entries[0];
    for (let i = 1; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (e.index !== (first as Entry).index + i) return Promise.reject(new Error(`wal: entries are not contiguous (index ${e.index} at position ${i})`));
    }
    let batch: Buffer;
    try {
      batch = encodeBatch(entries, hardState); // now, so later changes to the caller's objects do not matter
    } catch (err) {
      return Promise.reject(err);
    }
    const hs = hardState && { ...hardState };
    const last = entries.at(-1)?.index;
    return this.enqueue(async () => {
      if (first !== undefined) {
        if (this.marker && first.index <= this.marker.index) throw new Error(`wal: entry ${first.index} is at or before the snapshot marker ${this.marker.index}`);
        if (this.lastIndex !== undefined && first.index > this.lastIndex + 1) throw new Error(`wal: entry ${first.index} leaves a gap after ${this.lastIndex}`);
      }
      if (batch.length === 0) {
        if (sync && this.dirty) await this.io(() => this.syncCurrent());
        return;
      }
      await this.io(() => this.append(batch, first?.index ?? (this.lastIndex ?? 0) + 1, sync, pooled));
      if (last !== undefined) {
        this.lastIndex = last;
        const seg = this.current();
        seg.maxIndex = Math.max(seg.maxIndex, last);
      }
      if (hs) this.hardState = hs;
    });
  }

  /** Records that the log now starts after the snapshot at (index, term); fsynced. The marker never moves back. */
  saveSnapshotMarker(index: number, term: number): Promise<void> {
    let rec: Buffer;
    try {
      rec = encodeMarker({ index, term });
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(async () => {
      if (this.marker && index < this.marker.index) throw new Error(`wal: snapshot marker ${index} is behind the current one (${this.marker.index})`);
      await this.io(() => this.append(rec, (this.lastIndex ?? 0) + 1, true));
      this.marker = { index, term };
      this.lastIndex = Math.max(this.lastIndex ?? 0, index);
    });
  }

  /**
   * Deletes the oldest segments whose entries are all <= index (never the
   * current one, so the one holding index+1 stays). `index` is capped at the
   * snapshot marker: without a marker nothing is released.
   */
  releaseTo(index: number): Promise<void> {
    return this.enqueue(async () => {
      const limit = Math.min(index, this.marker?.index ?? 0);
      let n = 0;
      while (n < this.segments.length - 1 && (this.segments[n] as Segment).maxIndex <= limit) n++;
      if (n === 0 || !this.marker) return;
      const marker = this.marker;
      await this.io(async () => {
        // What recovery needs from the segments going away: the marker and the hard state.
        const hs = isEmpty(this.hardState) ? undefined : this.hardState;
        await this.append(Buffer.concat([encodeMarker(marker), encodeBatch([], hs)]), undefined, true);
        for (const seg of this.segments.slice(0, n)) await unlink(join(this.dir, seg.name));
        this.segments.splice(0, n);
        await syncDir(this.dir, this.dirSync);
      });
    });
  }

  /** Waits for queued operations, fsyncs what is unsynced and closes the current segment. */
  close(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.extending;
      try {
        if (this.dirty && this.failed === undefined) await this.syncCurrent();
      } finally {
        await this.fh.close();
      }
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    return this.serialize(() => {
      if (this.closed) throw new Error(`wal: ${this.dir} is closed`);
      if (this.failed !== undefined) throw new Error(`wal: ${this.dir} is unusable after an earlier I/O error`, { cause: this.failed });
      return op();
    });
  }

  /** Runs `start` after everything before it, or at once (synchronously up to its first await) when nothing is. */
  private serialize(start: () => Promise<void>): Promise<void> {
    let run: Promise<void>;
    if (this.running === 0) {
      // idle: start now, so a write is on its way to the disk before the caller goes on (Raft sends its messages next)
      try {
        run = start();
      } catch (err) {
        run = Promise.reject(err);
      }
    } else {
      run = this.tail.then(start);
    }
    this.running++;
    // registered before the caller's own reaction to `run`, so a caller that awaited it finds the WAL idle
    const settled = (): void => { this.running--; };
    this.tail = run.then(settled, settled);
    return run;
  }

  /** Runs I/O; a failure makes the WAL refuse further calls, as its tail on disk is then unknown. */
  private async io(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }

  private current(): Segment {
    return this.segments.at(-1) as Segment;
  }

  /** Writes `buf` at the end of the current segment, first starting a new one if it is full (unless nextIndex is undefined). */
  private async append(buf: Buffer, nextIndex: number | undefined, sync: boolean, pooled = false): Promise<void> {
    if (nextIndex !== undefined && this.size >= this.segmentBytes) await this.cut(nextIndex);
    if (this.fillFailed !== undefined) throw this.fillFailed;
    if (this.preallocate > 0 && !this.noRoom && this.size + buf.length > this.allocated) await this.reserve(buf.length);
    const inline = !pooled && buf.length <= this.inlineWrite;
    let done = 0;
    while (done < buf.length) {
      const n = inline
        ? writeSync(this.fh.fd, buf, done, buf.length - done, this.size + done)
        : await writeAt(this.fh.fd, buf, done, buf.length - done, this.size + done);
      if (n <= 0) throw new Error(`wal: write to ${this.current().name} made no progress`);
      done += n;
    }
    this.size += buf.length;
    this.allocated = Math.max(this.allocated, this.size);
    this.maybeFillAhead();
    if (this.dsync) return; // durable already
    this.dirty = true;
    if (sync) await this.syncCurrent();
  }

  /** Less than half a step left: the next one is filled in the background, off the writes' path. */
  private maybeFillAhead(): void {
    if (this.preallocate === 0 || this.noRoom || this.extending || this.allocated >= this.segmentBytes) return;
    if (this.allocated - this.size < this.preallocate / 2) void this.fill(0);
  }

  /** Waits until the next `bytes` fit in zero-filled space, or it is clear they will not (segment end, disk full). */
  private async reserve(bytes: number): Promise<void> {
    while (this.size + bytes > this.allocated && !this.noRoom) {
      const before = this.allocated;
      await (this.extending ?? this.fill(bytes));
      if (this.fillFailed !== undefined) throw this.fillFailed;
      if (this.allocated === before && !this.extending) return; // the segment's end: plain appends
    }
  }

  /**
   * Zero-fills the current segment past `allocated`, so that `bytes` more
   * than the records fit, in whole steps of `preallocate`, never past the
   * segment size (the last records of a segment are plain appends). The step
   * is small and constant: its sync flushes the whole step to the disk, and
   * synced appends (this server's, and any other's on the disk) wait behind
   * it; steps that grew to 16 MiB held them for 100+ ms (bench/cluster, c=64). The zeros go
   * through a second handle without O_DSYNC and are synced once, and only
   * then is the space used: a record written into it changes no metadata.
   * Records keep being written below `allocated` meanwhile. Out of space, the
   * partial fill is cut off again and the segment goes on without
   * preallocation: appends may still fit, and a write that does not fails as
   * it would have anyway. Another failure is kept for the next append.
   */
  private fill(bytes: number): Promise<void> {
    const step = this.preallocate;
    const from = this.allocated;
    const target = Math.min(from + step * Math.max(1, Math.ceil((this.size + bytes - from) / step)), this.segmentBytes);
    if (target <= from || target < this.size + bytes) return Promise.resolve();
    const name = this.current().name;
    const run = (async () => {
      let zfh: FileHandle | undefined;
      try {
        zfh = await open(join(this.dir, name), 'r+');
        for (let pos = from; pos < target;) {
          const { bytesWritten } = await zfh.write(ZEROS, 0, Math.min(ZEROS.length, target - pos), pos);
          if (bytesWritten <= 0) throw new Error(`wal: write to ${name} made no progress`);
          pos += bytesWritten;
        }
        await this.sync(zfh);
        this.allocated = target;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC' || zfh === undefined) {
          this.fillFailed = err;
        } else {
          try {
            await zfh.truncate(from);
            await this.sync(zfh);
            this.noRoom = true;
            this.warn(`wal: no space to preallocate ${target - from} bytes in ${name}; appending without preallocation`);
          } catch (again) {
            this.fillFailed = again;
          }
        }
      } finally {
        await zfh?.close().catch(noop);
        this.extending = undefined;
      }
    })();
    this.extending = run;
    return run;
  }

  /** Seals the current segment (trimmed to its records, synced) and starts the next one (directory fsynced). */
  private async cut(firstIndex: number): Promise<void> {
    await this.extending;
    if (this.allocated > this.size) {
      await this.fh.truncate(this.size);
      await this.syncCurrent();
    } else if (this.dirty) {
      await this.syncCurrent();
    }
    await this.fh.close();
    const seq = this.current().seq + 1;
    const seg: Segment = { seq, firstIndex, name: segmentName(seq, firstIndex), maxIndex: 0 };
    this.fh = await open(join(this.dir, seg.name), openFlags(this.dsync, true));
    this.segments.push(seg);
    this.size = 0;
    this.allocated = 0;
    this.noRoom = false;
    await syncDir(this.dir, this.dirSync);
  }

  private async syncCurrent(): Promise<void> {
    await this.sync(this.fh);
    this.dirty = false;
  }
}

/** Read-write; O_DSYNC unless a custom sync is used; a new segment must not exist yet. */
function openFlags(dsync: boolean, create: boolean): number {
  return constants.O_RDWR | (dsync ? constants.O_DSYNC : 0) | (create ? constants.O_CREAT | constants.O_EXCL : 0);
}

function isEmpty(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === '' && hs.commit === 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * fs.write through the thread pool, as one promise: FileHandle.write's own
 * promise machinery allocated about 1.5 KB per call on the leader's path.
 * (The handle is only closed after every queued write settled.)
 */
function writeAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, buf, offset, length, position, (err, n) => { if (err) reject(err); else resolve(n); });
  });
}
