import { MusterError, errorMessage } from '../errors.js';

const MAX_UINT64 = (1n << 64n) - 1n;

/**
 * JSON.parse, except that the numbers of the named fields come out as decimal
 * strings, exactly as written. The server writes KV `Flags` as a bare uint64
 * (`"Flags":16209093007834647008`), which a double would round. A scan that
 * skips string literals finds the field names, so a key or value that happens
 * to contain `"Flags":1` is never touched.
 */
export function parseJsonExact(text: string, fields: ReadonlySet<string>): unknown {
  let out = '';
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    if (text.charCodeAt(i) !== 0x22 /* " */) { i++; continue; }
    const start = i + 1;
    i = start;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x5c /* \ */) { i += 2; continue; }
      if (c === 0x22) break;
      i++;
    }
    const name = text.slice(start, i);
    i++; // past the closing quote
    if (!fields.has(name)) continue;
    let j = i;
    while (j < n && isSpace(text.charCodeAt(j))) j++;
    if (text[j] !== ':') continue;
    j++;
    while (j < n && isSpace(text.charCodeAt(j))) j++;
    let k = j;
    while (k < n && isDigit(text.charCodeAt(k))) k++;
    if (k === j) continue;
    out += `${text.slice(copied, j)}"${text.slice(j, k)}"`;
    copied = k;
    i = k;
  }
  out += text.slice(copied);
  try {
    return JSON.parse(out) as unknown;
  } catch (err) {
    throw new MusterError('ERR_DECODE', `cannot decode JSON: ${errorMessage(err)}`, { cause: err });
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A uint64 from a decimal string or a safe integer; undefined when it is not one. */
export function toUint64(v: unknown): bigint | undefined {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^\d+$/.test(v)) b = BigInt(v);
  else return undefined;
  return b >= 0n && b <= MAX_UINT64 ? b : undefined;
}

/** Flags given by a caller: a bigint (or a safe integer) in 0 … 2^64-1. */
export function checkFlags(flags: bigint | number): bigint {
  const b = toUint64(flags);
  if (b === undefined) throw new MusterError('ERR_BAD_REQUEST', `flags must be an unsigned 64-bit integer, not ${String(flags)}`);
  return b;
}

/**
 * Go's encoding/json string escaping (as `consul kv export` prints): JSON.stringify
 * plus `<`, `>`, `&`, U+2028 and U+2029 as \u escapes.
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Standard base64 as Go's StdEncoding accepts it (padding required; CR/LF ignored); undefined when invalid. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const s = text.replace(/[\r\n]/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}
