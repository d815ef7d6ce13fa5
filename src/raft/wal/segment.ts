import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { findValidRecordAfter, scanRecords, type RawRecord } from './record.js';
import { WalCorruptError } from './replay.js';

/**
 * Segment files. A WAL directory holds segments named
 * `<seq>-<firstIndex>.wal`, both as 16 zero-padded decimal digits (enough for
 * any safe integer, and names sort in sequence order): `seq` counts from 1
 * with no holes; `firstIndex` is the index the segment's first entry was
 * expected to have when it was created (informational; overwrites may write
 * lower indexes into it later).
 *
 * Invariant: records never straddle segments, and every segment but the
 * last was fsynced before the next one was created, so only the last one can
 * end in a torn write.
 */

const NAME = /^(\d{16})-(\d{16})\.wal$/;

export interface SegmentInfo {
  seq: number;
  firstIndex: number;
  name: string;
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${String(seq).padStart(16, '0')}-${String(firstIndex).padStart(16, '0')}.wal`;
}

export function parseSegmentName(name: string): SegmentInfo | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { seq: Number(m[1]), firstIndex: Number(m[2]), name };
}

/**
 * The segments in `dir`, in sequence order. Other files are ignored (a `.wal`
 * file with another name gets a warning). A hole in the sequence is corruption.
 */
export async function listSegments(dir: string, warn: (msg: string) => void): Promise<SegmentInfo[]> {
  const segs: SegmentInfo[] = [];
  for (const name of await readdir(dir)) {
    const info = parseSegmentName(name);
    if (info) segs.push(info);
    else if (name.endsWith('.wal')) warn(`wal: ignoring ${join(dir, name)}: not a segment name`);
  }
  segs.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1] as SegmentInfo;
    const seg = segs[i] as SegmentInfo;
    if (seg.seq !== prev.seq + 1) throw new WalCorruptError(join(dir, seg.name), 0, `segment ${prev.seq + 1} is missing before it`);
  }
  return segs;
}

export type Sync = (fh: FileHandle) => Promise<void>;

export const fsync: Sync = (fh) => fh.sync();

/**
 * Flushes a file's data and the metadata needed to read it back (its size),
 * not its timestamps: what an appended log needs, one journal write cheaper
 * than fsync on ext4 (etcd's WAL uses fdatasync too).
 */
export const fdatasync: Sync = (fh) => fh.datasync();

/** Fsyncs a directory, making file creations, renames and deletions in it durable. */
export async function syncDir(dir: string, sync: Sync): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await sync(fh);
  } finally {
    await fh.close();
  }
}

/**
 * The good records of one segment, the length of the good prefix (where
 * appends go) and the file's length: longer than the prefix when the segment
 * was zero-filled ahead of its writes (preallocated).
 */
export interface ReadSegment {
  records: RawRecord[];
  size: number;
  length: number;
}

/**
 * Reads a segment. Zeros from the end of the good records to the end of the
 * last segment are space allocated ahead of writes, not damage. Any other bad
 * record in the last segment with no valid record anywhere after it is a torn
 * tail: the file is truncated to the good prefix (fsynced) and `warn` names
 * the file and offset. Anything else bad (a bad record with a valid one after
 * it, or any bad record in an earlier segment, zeros included: a segment is
 * trimmed to its records before the next one starts) rejects with
 * WalCorruptError.
 */
export async function readSegment(path: string, isLast: boolean, opts: { warn: (msg: string) => void; sync: Sync }): Promise<ReadSegment> {
  const buf = await readFile(path);
  const { records, end, bad } = scanRecords(buf);
  if (bad === undefined) return { records, size: end, length: buf.length };
  if (!isLast) throw new WalCorruptError(path, bad.offset, `${bad.reason} in a segment that is not the last`);
  if (isZero(buf, end)) return { records, size: end, length: buf.length };
  const next = findValidRecordAfter(buf, bad.offset);
  if (next >= 0) throw new WalCorruptError(path, bad.offset, `${bad.reason}, with a valid record after it at offset ${next}`);
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(end);
    await opts.sync(fh);
  } finally {
    await fh.close();
  }
  opts.warn(`wal: torn tail in ${path} at offset ${end} (${bad.reason}): truncated ${buf.length - end} bytes`);
  return { records, size: end, length: end };
}

/** A block of zeros, shared by readers and by preallocation (never written to). */
export const ZEROS = Buffer.alloc(1024 * 1024);

/** True when every byte of `buf` from `from` on is zero. */
export function isZero(buf: Buffer, from: number): boolean {
  for (let pos = from; pos < buf.length; pos += ZEROS.length) {
    const n = Math.min(ZEROS.length, buf.length - pos);
    if (buf.compare(ZEROS, 0, n, pos, pos + n) !== 0) return false;
  }
  return true;
}
