import { crc32 } from 'node:zlib';
import { encodeHardState, entryEncodedSize, writeEntry } from '../codec.js';
import type { Entry, HardState } from '../types.js';

/**
 * WAL records. Every record is framed as
 *
 *   length u32 LE | crc u32 LE | type u8 | payload
 *
 * where `length` counts type + payload (so it is at least 1: a zero-filled
 * tail never parses) and `crc` is zlib's CRC-32 over the same type + payload
 * bytes. Payloads use the codec (src/raft/codec.ts): an entry record holds one
 * encoded Entry, a hard-state record one encoded HardState, a snapshot marker
 * two fixed 8-byte little-endian integers (index, term).
 *
 * Record type numbers are part of the on-disk format: only append.
 */
export const RecordType = {
  entry: 1,
  hardState: 2,
  /** "The log starts after this snapshot": entries at or before its index are not recovered. */
  snapshotMarker: 3,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

export const HEADER_BYTES = 8;
const MARKER_BYTES = 16;
const MAX_TYPE = RecordType.snapshotMarker;

export interface Marker { index: number; term: number }

/** A record that parsed with a good CRC: its type, its payload and where it starts in its file. */
export interface RawRecord { type: number; payload: Buffer; offset: number }

/** Encodes a batch: the entries in order, then the hard state (if any), in one buffer ready for one write. */
export function encodeBatch(entries: readonly Entry[], hardState: HardState | undefined): Buffer {
  const hs = hardState === undefined ? undefined : encodeHardState(hardState);
  let size = hs === undefined ? 0 : HEADER_BYTES + 1 + hs.length;
  const sizes: number[] = [];
  for (const e of entries) {
    const n = entryEncodedSize(e);
    sizes.push(n);
    size += HEADER_BYTES + 1 + n;
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  entries.forEach((e, i) => {
    const n = sizes[i] as number;
    writeEntry(buf, pos + HEADER_BYTES + 1, e);
    pos = frame(buf, pos, RecordType.entry, n);
  });
  if (hs !== undefined) {
    hs.copy(buf, pos + HEADER_BYTES + 1);
    pos = frame(buf, pos, RecordType.hardState, hs.length);
  }
  return buf;
}

/** Encodes one snapshot-marker record. */
export function encodeMarker(m: Marker): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 1 + MARKER_BYTES);
  putU64(buf, HEADER_BYTES + 1, m.index);
  putU64(buf, HEADER_BYTES + 9, m.term);
  frame(buf, 0, RecordType.snapshotMarker, MARKER_BYTES);
  return buf;
}

export function decodeMarker(payload: Buffer): Marker {
  if (payload.length !== MARKER_BYTES) throw new Error(`snapshot marker of ${payload.length} bytes, want ${MARKER_BYTES}`);
  return { index: getU64(payload, 0), term: getU64(payload, 8) };
}

/** Fills in length, crc and type around a payload already written at pos+9; returns the record's end. */
function frame(buf: Buffer, pos: number, type: RecordTypeCode, payloadBytes: number): number {
  const length = payloadBytes + 1;
  buf.writeUInt32LE(length, pos);
  buf[pos + HEADER_BYTES] = type;
  buf.writeUInt32LE(crc32(buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length)), pos + 4);
  return pos + HEADER_BYTES + length;
}

function putU64(buf: Buffer, pos: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`wal: ${n} is not a non-negative safe integer`);
  buf.writeUInt32LE(n % 2 ** 32, pos);
  buf.writeUInt32LE(Math.floor(n / 2 ** 32), pos + 4);
}

function getU64(buf: Buffer, pos: number): number {
  const n = buf.readUInt32LE(pos + 4) * 2 ** 32 + buf.readUInt32LE(pos);
  if (!Number.isSafeInteger(n)) throw new Error(`integer ${n} above 2^53-1`);
  return n;
}

/** Why a record at an offset does not parse: it runs past the end, or its length or CRC is wrong. */
export type BadRecord = { offset: number; reason: string };

/** Parses the record at `pos`, or says why it cannot. */
export function readRecordAt(buf: Buffer, pos: number): RawRecord | BadRecord {
  if (buf.length - pos < HEADER_BYTES + 1) return { offset: pos, reason: `incomplete record header (${buf.length - pos} bytes left)` };
  const length = buf.readUInt32LE(pos);
  if (length === 0) return { offset: pos, reason: 'zero record length' };
  const end = pos + HEADER_BYTES + length;
  if (end > buf.length) return { offset: pos, reason: `record of ${length} bytes runs past the end of the file (${buf.length - pos - HEADER_BYTES} left)` };
  const body = buf.subarray(pos + HEADER_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(pos + 4)) return { offset: pos, reason: 'CRC mismatch' };
  return { type: body[0] as number, payload: body.subarray(1), offset: pos };
}

export function isBad(r: RawRecord | BadRecord): r is BadRecord {
  return 'reason' in r;
}

/**
 * Parses records from the start of a segment's bytes until the end or the
 * first bad record. `end` is where the good prefix stops.
 */
export function scanRecords(buf: Buffer): { records: RawRecord[]; end: number; bad: BadRecord | undefined } {
  const records: RawRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const r = readRecordAt(buf, pos);
    if (isBad(r)) return { records, end: pos, bad: r };
    records.push(r);
    pos += HEADER_BYTES + r.payload.length + 1;
  }
  return { records, end: pos, bad: undefined };
}

/**
 * The offset of the first well-formed record (plausible length, known type,
 * good CRC) starting anywhere after `from`, or -1. Used to tell a torn tail
 * (nothing valid follows) from corruption in the middle of the log.
 */
export function findValidRecordAfter(buf: Buffer, from: number): number {
  for (let pos = from + 1; pos + HEADER_BYTES + 1 <= buf.length; pos++) {
    const length = buf.readUInt32LE(pos);
    if (length === 0 || pos + HEADER_BYTES + length > buf.length) continue;
    const type = buf[pos + HEADER_BYTES] as number;
    if (type < 1 || type > MAX_TYPE) continue;
    if (!isBad(readRecordAt(buf, pos))) return pos;
  }
  return -1;
}
