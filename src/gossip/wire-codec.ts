import type { DropReason } from './stats.js';

/**
 * Big-endian byte reader and writer for wire.ts. The reader never reads past
 * its end: every read checks the remaining length and throws a WireError,
 * which the decoders in wire.ts turn into a drop reason (never out of them).
 */
export class WireError extends Error {
  readonly reason: DropReason;
  constructor(reason: DropReason, message: string) {
    super(message);
    this.name = 'WireError';
    this.reason = reason;
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export class WireReader {
  private pos: number;
  constructor(private readonly buf: Uint8Array, start = 0, private readonly end = buf.length) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw new WireError('truncated', `${what} needs ${n} bytes, ${this.end - this.pos} left`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = ((this.buf[this.pos] as number) << 8) | (this.buf[this.pos + 1] as number);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    const v = (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
    this.pos += 4;
    return v;
  }

  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A UTF-8 string with a one-byte length. */
  str8(what = 'string'): string {
    return this.text(this.u8(what), what);
  }

  /** A UTF-8 string with a two-byte length. */
  str16(what = 'string'): string {
    return this.text(this.u16(what), what);
  }

  private text(n: number, what: string): string {
    const raw = this.bytes(n, what);
    // ASCII fast path (names, addresses and most tags): no decoder call.
    let ascii = '';
    let i = 0;
    for (; i < raw.length && i < 64; i++) {
      const c = raw[i] as number;
      if (c >= 0x80) break;
      ascii += String.fromCharCode(c);
    }
    if (i === raw.length) return ascii;
    try {
      return utf8Strict.decode(raw);
    } catch {
      throw new WireError('malformed', `${what} is not valid UTF-8`);
    }
  }

  /** Asserts the reader consumed exactly its range. */
  done(what: string): void {
    if (this.pos !== this.end) throw new WireError('malformed', `${this.end - this.pos} trailing bytes after ${what}`);
  }
}

export class WireWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** Overwrites a u16 written earlier (a length filled in after its body). */
  patchU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  str8(s: string): this {
    if (s.length <= 0xff && this.ascii(s, 1)) return this;
    const b = utf8.encode(s);
    if (b.length > 0xff) throw new RangeError(`string of ${b.length} bytes does not fit a one-byte length`);
    return this.u8(b.length).bytes(b);
  }

  /** Writes an ASCII string with its length prefix; false (nothing written) if it is not ASCII. */
  private ascii(s: string, lengthBytes: 1 | 2): boolean {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
    if (lengthBytes === 1) this.u8(s.length);
    else this.u16(s.length);
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
    return true;
  }

  str16(s: string): this {
    if (s.length <= 0xffff && this.ascii(s, 2)) return this;
    const b = utf8.encode(s);
    if (b.length > 0xffff) throw new RangeError(`string of ${b.length} bytes does not fit a two-byte length`);
    return this.u16(b.length).bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export function utf8Length(s: string): number {
  return utf8.encode(s).length;
}
