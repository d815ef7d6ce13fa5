import type { ConfState, Entry, EntryType, HardState, Message, MessageType, SnapshotMeta } from './types.js';
import { MESSAGE_TYPES } from './types.js';

/**
 * The binary encoding of the Raft data: log entries and hard state (in the
 * WAL), snapshot metadata (in snapshot files) and messages (on the wire).
 *
 * Primitives (no framing, no version byte: the WAL record type and the
 * transport frame say what a buffer holds):
 * - uint: an unsigned LEB128 varint, 7 bits per byte, low group first, at
 *   most 8 bytes (8 × 7 = 56 ≥ 53 bits). Every index, term, count and length
 *   is a non-negative safe integer (< 2^53). Decoding rejects values above
 *   Number.MAX_SAFE_INTEGER and non-minimal encodings (a last byte of 0 after
 *   a continuation), so every value has exactly one encoding.
 * - str: uint byte length + UTF-8 bytes (decoding rejects invalid UTF-8).
 * - bytes: uint length + raw bytes (decoded bytes never alias the input: they
 *   are views into one private copy of it).
 *
 * Layouts:
 * - Entry:        index uint | term uint | type u8 (0 normal, 1 conf) | data bytes
 * - HardState:    term uint | vote str | commit uint
 * - ConfState:    voter count uint | voters str… | learner count uint | learners str…
 * - SnapshotMeta: index uint | term uint | ConfState
 * - Message:      type u8 (index in MESSAGE_TYPES) | from str | to str | term uint |
 *                 logTerm uint | index uint | commit uint | rejectHint uint |
 *                 flags u8 (bit 0 reject, bit 1 snapshot present; other bits 0) |
 *                 context str | entry count uint | Entry… | [SnapshotMeta | data bytes]
 *
 * Decoders throw CodecError, and only CodecError, on truncated input,
 * garbage, unknown type numbers and trailing bytes. Encoders throw CodecError
 * on values that cannot be encoded (negative, fractional or unsafe numbers).
 */

export class CodecError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(`raft codec: ${message}`, options);
    this.name = 'CodecError';
  }
}

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'conf'];
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---- sizes (each also validates what it measures, so writers need no checks)

function uint(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`${what} must be a non-negative safe integer, got ${n}`);
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  if (n < 2 ** 35) return 5;
  if (n < 2 ** 42) return 6;
  if (n < 2 ** 49) return 7;
  return 8;
}

/** UTF-8 length of `s`; short ASCII strings (node IDs, contexts) are measured without calling into C++. */
function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function str(s: string): number {
  const n = utf8Length(s);
  return uint(n, 'string length') + n;
}

/** Bytes that encodeEntry / writeEntry produce for `e`. */
export function entryEncodedSize(e: Entry): number {
  if (ENTRY_TYPES.indexOf(e.type) < 0) throw new CodecError(`unknown entry type ${String(e.type)}`);
  return uint(e.index, 'entry index') + uint(e.term, 'entry term') + 1 + uint(e.data.length, 'data length') + e.data.length;
}

function hardStateSize(hs: HardState): number {
  return uint(hs.term, 'term') + str(hs.vote) + uint(hs.commit, 'commit');
}

function confSize(c: ConfState): number {
  let n = uint(c.voters.length, 'voter count') + uint(c.learners.length, 'learner count');
  for (const v of c.voters) n += str(v);
  for (const l of c.learners) n += str(l);
  return n;
}

function metaSize(m: SnapshotMeta): number {
  return uint(m.index, 'snapshot index') + uint(m.term, 'snapshot term') + confSize(m.conf);
}

// ---- writers: each takes the next free position and returns the one after

function putUint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80; // `&` keeps the low 32 bits, so the low 7 are exact
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function putStr(buf: Buffer, pos: number, s: string): number {
  const n = utf8Length(s);
  pos = putUint(buf, pos, n);
  if (n !== s.length || n > 64) return pos + buf.write(s, pos, n, 'utf8');
  for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + n;
}

function putBytes(buf: Buffer, pos: number, b: Uint8Array): number {
  pos = putUint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

/** Writes `e` at `pos` (the caller sized `buf` with entryEncodedSize) and returns the end position. */
export function writeEntry(buf: Buffer, pos: number, e: Entry): number {
  pos = putUint(buf, pos, e.index);
  pos = putUint(buf, pos, e.term);
  buf[pos++] = ENTRY_TYPES.indexOf(e.type);
  return putBytes(buf, pos, e.data);
}

function putHardState(buf: Buffer, pos: number, hs: HardState): number {
  pos = putUint(buf, pos, hs.term);
  pos = putStr(buf, pos, hs.vote);
  return putUint(buf, pos, hs.commit);
}

function putMeta(buf: Buffer, pos: number, m: SnapshotMeta): number {
  pos = putUint(buf, pos, m.index);
  pos = putUint(buf, pos, m.term);
  pos = putUint(buf, pos, m.conf.voters.length);
  for (const v of m.conf.voters) pos = putStr(buf, pos, v);
  pos = putUint(buf, pos, m.conf.learners.length);
  for (const l of m.conf.learners) pos = putStr(buf, pos, l);
  return pos;
}

function encodeSized<T>(size: number, value: T, put: (buf: Buffer, pos: number, v: T) => number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  const end = put(buf, 0, value);
  if (end !== size) throw new CodecError(`internal: wrote ${end} bytes, sized ${size}`);
  return buf;
}

export function encodeEntry(e: Entry): Buffer {
  return encodeSized(entryEncodedSize(e), e, writeEntry);
}

export function encodeHardState(hs: HardState): Buffer {
  return encodeSized(hardStateSize(hs), hs, putHardState);
}

export function encodeSnapshotMeta(m: SnapshotMeta): Buffer {
  return encodeSized(metaSize(m), m, putMeta);
}

/** One size pass (validating every field), one allocation, one write pass. */
export function encodeMessage(m: Message): Buffer {
  const type = MESSAGE_TYPES.indexOf(m.type);
  if (type < 0) throw new CodecError(`unknown message type ${String(m.type)}`);
  let size = 2 + str(m.from) + str(m.to) + str(m.context) + uint(m.term, 'term') + uint(m.logTerm, 'logTerm')
    + uint(m.index, 'index') + uint(m.commit, 'commit') + uint(m.rejectHint, 'rejectHint')
    + uint(m.entries.length, 'entry count');
  for (const e of m.entries) size += entryEncodedSize(e);
  const snap = m.snapshot;
  if (snap) size += metaSize(snap.meta) + uint(snap.data.length, 'snapshot length') + snap.data.length;

  const buf = Buffer.allocUnsafe(size);
  buf[0] = type;
  let pos = putStr(buf, 1, m.from);
  pos = putStr(buf, pos, m.to);
  pos = putUint(buf, pos, m.term);
  pos = putUint(buf, pos, m.logTerm);
  pos = putUint(buf, pos, m.index);
  pos = putUint(buf, pos, m.commit);
  pos = putUint(buf, pos, m.rejectHint);
  buf[pos++] = (m.reject ? FLAG_REJECT : 0) | (snap ? FLAG_SNAPSHOT : 0);
  pos = putStr(buf, pos, m.context);
  pos = putUint(buf, pos, m.entries.length);
  for (const e of m.entries) pos = writeEntry(buf, pos, e);
  if (snap) {
    pos = putMeta(buf, pos, snap.meta);
    pos = putBytes(buf, pos, snap.data);
  }
  if (pos !== size) throw new CodecError(`internal: wrote ${pos} bytes, sized ${size}`);
  return buf;
}

// ---- reading

/** A bounds-checked cursor: every read checks what is left before touching the input. */
class Reader {
  pos = 0;
  /** A private copy of the input, made on the first bytes(); decoded bytes are views into it. */
  private owned: Buffer | undefined;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}

  fail(msg: string): never {
    throw new CodecError(`${this.what}: ${msg} at byte ${this.pos} of ${this.buf.length}`);
  }

  u8(): number {
    const b = this.buf[this.pos];
    if (b === undefined) this.fail('truncated');
    this.pos++;
    return b;
  }

  uint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail('non-minimal varint');
        if (result > Number.MAX_SAFE_INTEGER) this.fail('integer above 2^53-1');
        return result;
      }
      scale *= 128;
    }
    return this.fail('varint longer than 8 bytes');
  }

  /** A length or count, no larger than what is left divided by the least bytes one item takes. */
  count(minItemBytes: number): number {
    const n = this.uint();
    if (n * minItemBytes > this.buf.length - this.pos) this.fail(`length ${n} exceeds the input`);
    return n;
  }

  /**
   * Bytes that do not alias the caller's input (which may be a reused network
   * buffer): one copy of the whole input serves every field, as allocating
   * many small typed arrays costs far more than one memcpy.
   */
  bytes(): Uint8Array {
    const n = this.count(1);
    const owned = (this.owned ??= Buffer.from(this.buf));
    const out = new Uint8Array(owned.buffer, owned.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }

  str(): string {
    const n = this.count(1);
    const start = this.pos;
    this.pos += n;
    if (n <= 32) { // short ASCII (node IDs, contexts): cheaper in JS than a TextDecoder call
      let s = '';
      for (let i = start; i < this.pos; i++) {
        const c = this.buf[i] as number;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (s.length === n) return s;
    }
    try {
      return utf8.decode(this.buf.subarray(start, this.pos));
    } catch {
      this.pos = start;
      return this.fail('invalid UTF-8 string');
    }
  }

  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function readEntry(r: Reader): Entry {
  const index = r.uint();
  const term = r.uint();
  const t = r.u8();
  const type = ENTRY_TYPES[t];
  if (type === undefined) r.fail(`unknown entry type ${t}`);
  return { index, term, type, data: r.bytes() };
}

function readMeta(r: Reader): SnapshotMeta {
  const index = r.uint();
  const term = r.uint();
  const voters: string[] = [];
  for (let n = r.count(1); n > 0; n--) voters.push(r.str());
  const learners: string[] = [];
  for (let n = r.count(1); n > 0; n--) learners.push(r.str());
  return { index, term, conf: { voters, learners } };
}

function readMessage(r: Reader): Message {
  const t = r.u8();
  const type: MessageType | undefined = MESSAGE_TYPES[t];
  if (type === undefined) r.fail(`unknown message type ${t}`);
  const from = r.str();
  const to = r.str();
  const term = r.uint();
  const logTerm = r.uint();
  const index = r.uint();
  const commit = r.uint();
  const rejectHint = r.uint();
  const flags = r.u8();
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) r.fail(`unknown flags 0x${flags.toString(16)}`);
  const context = r.str();
  const entries: Entry[] = [];
  for (let n = r.count(4); n > 0; n--) entries.push(readEntry(r));
  const m: Message = { type, from, to, term, logTerm, index, entries, commit, reject: (flags & FLAG_REJECT) !== 0, rejectHint, context };
  if (flags & FLAG_SNAPSHOT) m.snapshot = { meta: readMeta(r), data: r.bytes() };
  return m;
}

/** Runs one top-level decoder over the whole input; anything but a CodecError is wrapped into one. */
function decodeAll<T>(buf: Uint8Array, what: string, read: (r: Reader) => T): T {
  if (!(buf instanceof Uint8Array)) throw new CodecError(`${what}: input is not a Uint8Array`);
  try {
    const r = new Reader(buf, what);
    const value = read(r);
    r.end();
    return value;
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function decodeEntry(buf: Uint8Array): Entry {
  return decodeAll(buf, 'entry', readEntry);
}

export function decodeHardState(buf: Uint8Array): HardState {
  return decodeAll(buf, 'hard state', (r) => ({ term: r.uint(), vote: r.str(), commit: r.uint() }));
}

export function decodeSnapshotMeta(buf: Uint8Array): SnapshotMeta {
  return decodeAll(buf, 'snapshot meta', readMeta);
}

export function decodeMessage(buf: Uint8Array): Message {
  return decodeAll(buf, 'message', readMessage);
}
