import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeSnapshotMeta, encodeSnapshotMeta } from './codec.js';
import type { Snapshot, SnapshotMeta } from './types.js';
import { fsync, syncDir as syncDirWith } from './wal/segment.js';

/**
 * Snapshots of the state machine, one file each: `snap-<term>-<index>.snap`
 * (both numbers as 16 zero-padded decimal digits). File layout, integers
 * little-endian:
 *
 *   magic "MSNP" | version u8 (1) | meta length u32 | meta (codec SnapshotMeta) |
 *   data length u64 | data crc32 u32 | header crc32 u32 (over every byte before it) | data
 *
 * Invariants:
 * - A `.snap` file is complete: it is written as `.tmp`, fsynced, renamed and
 *   the directory fsynced; leftover `.tmp` files are removed on open.
 * - At most KEEP snapshots are kept: after a save, the oldest beyond that
 *   (by index, then term) are deleted.
 * - loadNewest never deletes: a newest file that does not read or verify is
 *   skipped with a warning and the next older one is tried.
 */

export const KEEP = 2;
const MAGIC = Buffer.from('MSNP', 'latin1');
const VERSION = 1;
const NAME = /^snap-(\d{16})-(\d{16})\.snap$/;

export interface SnapshotStoreOptions {
  /** Called with one-line warnings (corrupt snapshot skipped, leftover file removed). Default: ignore. */
  warn?: (msg: string) => void;
}

interface SnapFile { name: string; term: number; index: number }

const noop = (): void => undefined;

function fileName(meta: SnapshotMeta, ext: 'snap' | 'tmp'): string {
  return `snap-${String(meta.term).padStart(16, '0')}-${String(meta.index).padStart(16, '0')}.${ext}`;
}

/** The header and data of one snapshot file. */
export function encodeSnapshotFile(meta: SnapshotMeta, data: Uint8Array): Buffer[] {
  const m = encodeSnapshotMeta(meta);
  const header = Buffer.allocUnsafe(MAGIC.length + 1 + 4 + m.length + 8 + 4 + 4);
  let pos = MAGIC.copy(header, 0);
  pos = header.writeUInt8(VERSION, pos);
  pos = header.writeUInt32LE(m.length, pos);
  pos += m.copy(header, pos);
  pos = header.writeUInt32LE(data.length % 2 ** 32, pos);
  pos = header.writeUInt32LE(Math.floor(data.length / 2 ** 32), pos);
  pos = header.writeUInt32LE(crc32(data), pos);
  header.writeUInt32LE(crc32(header.subarray(0, pos)), pos);
  return [header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

/** Parses and verifies a snapshot file; throws an Error saying what is wrong. */
export function decodeSnapshotFile(buf: Buffer): Snapshot {
  const need = (n: number): void => {
    if (buf.length < n) throw new Error(`truncated (${buf.length} bytes, header needs ${n})`);
  };
  need(MAGIC.length + 5);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a snapshot file (bad magic)');
  const version = buf.readUInt8(MAGIC.length);
  if (version !== VERSION) throw new Error(`unknown snapshot format version ${version}`);
  const metaLen = buf.readUInt32LE(MAGIC.length + 1);
  const metaAt = MAGIC.length + 5;
  const crcAt = metaAt + metaLen + 8 + 4;
  need(crcAt + 4);
  if (crc32(buf.subarray(0, crcAt)) !== buf.readUInt32LE(crcAt)) throw new Error('header CRC mismatch');
  const meta = decodeSnapshotMeta(buf.subarray(metaAt, metaAt + metaLen));
  const dataLen = buf.readUInt32LE(metaAt + metaLen) + buf.readUInt32LE(metaAt + metaLen + 4) * 2 ** 32;
  const dataAt = crcAt + 4;
  if (buf.length - dataAt !== dataLen) throw new Error(`data is ${buf.length - dataAt} bytes, header says ${dataLen}`);
  const data = buf.subarray(dataAt);
  if (crc32(data) !== buf.readUInt32LE(crcAt - 4)) throw new Error('data CRC mismatch');
  return { meta, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Snapshot files in a directory; operations run one at a time in call order. */
export class SnapshotStore {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(readonly dir: string, private readonly warn: (msg: string) => void) {}

  /** Opens (creating it when missing) the store in `dir` and removes leftover `.tmp` files. */
  static async open(dir: string, opts: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    const warn = opts.warn ?? noop;
    let created = false;
    try {
      await stat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true });
      created = true;
    }
    if (created) await syncDir(dirname(dir));
    let removed = false;
    for (const name of await readdir(dir)) {
      if (!/^snap-.*\.tmp$/.test(name)) continue;
      await unlink(join(dir, name));
      warn(`snapshot: removed leftover ${join(dir, name)} (an interrupted save)`);
      removed = true;
    }
    if (removed) await syncDir(dir);
    return new SnapshotStore(dir, warn);
  }

  /** Writes the snapshot durably (tmp, fsync, rename, fsync dir), then keeps only the newest KEEP. */
  save(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    let parts: Buffer[];
    try {
      parts = encodeSnapshotFile(meta, data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(async () => {
      const tmp = join(this.dir, fileName(meta, 'tmp'));
      const fh = await open(tmp, 'w');
      try {
        await writeAll(fh, parts);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, fileName(meta, 'snap')));
      await syncDir(this.dir);
      const old = (await this.list()).slice(KEEP);
      for (const f of old) await unlink(join(this.dir, f.name));
      if (old.length > 0) await syncDir(this.dir);
    });
  }

  /** The newest snapshot that reads and verifies, or undefined when there is none. */
  loadNewest(): Promise<Snapshot | undefined> {
    return this.enqueue(async () => {
      for (const f of await this.list()) {
        const path = join(this.dir, f.name);
        try {
          const snap = decodeSnapshotFile(await readFile(path));
          if (snap.meta.index !== f.index || snap.meta.term !== f.term) {
            throw new Error(`holds term ${snap.meta.term} index ${snap.meta.index}, not what its name says`);
          }
          return snap;
        } catch (err) {
          this.warn(`snapshot: skipping ${path}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return undefined;
    });
  }

  /** Snapshot files, newest (highest index, then term) first. */
  private async list(): Promise<SnapFile[]> {
    const files: SnapFile[] = [];
    for (const name of await readdir(this.dir)) {
      const m = NAME.exec(name);
      if (m) files.push({ name, term: Number(m[1]), index: Number(m[2]) });
    }
    return files.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op);
    this.tail = run.catch(noop);
    return run;
  }
}

async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  let pos = 0;
  for (const part of parts) {
    let done = 0;
    while (done < part.length) {
      const { bytesWritten } = await fh.write(part, done, part.length - done, pos + done);
      if (bytesWritten <= 0) throw new Error('snapshot: write made no progress');
      done += bytesWritten;
    }
    pos += part.length;
  }
}

function syncDir(dir: string): Promise<void> {
  return syncDirWith(dir, fsync);
}
