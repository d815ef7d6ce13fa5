import type { KvEntry } from '../state/kv.js';

/**
 * A KV entry as Consul's DirEntry JSON, written by hand: `Flags` is a uint64
 * and must reach clients exactly (JSON.stringify would round the lock flag
 * 3304740253564472344). `Session` is omitted when empty; `Value` is base64, or
 * null when empty (or when `withValue` is false, as txn writes report).
 */
export function dirEntryJson(e: KvEntry, withValue = true): string {
  const value = withValue && e.value.length > 0 ? JSON.stringify(e.value.toString('base64')) : 'null';
  const session = e.session ? `,"Session":${JSON.stringify(e.session)}` : '';
  return `{"LockIndex":${e.lockIndex},"Key":${JSON.stringify(e.key)},"Flags":${e.flags.toString()},"Value":${value}${session},"CreateIndex":${e.createIndex},"ModifyIndex":${e.modifyIndex}}`;
}

export function dirEntriesJson(entries: readonly KvEntry[]): string {
  return `[${entries.map((e) => dirEntryJson(e)).join(',')}]`;
}

const MAX_UINT64 = (1n << 64n) - 1n;

/** Parses a uint64 query value; undefined when it is not one. */
export function parseUint64(raw: string): bigint | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const v = BigInt(raw);
  return v <= MAX_UINT64 ? v : undefined;
}

/**
 * JSON.parse, except that integer literals beyond 2^53 come back as their
 * decimal strings, so that uint64 fields in request bodies (txn `Flags`, e.g.
 * the semaphore flag 16209093007834647008) keep every digit instead of being
 * rounded to the nearest double. Fractions, exponents and safe integers stay
 * numbers; malformed JSON still fails in JSON.parse.
 */
export function parseJsonExactIntegers(text: string): unknown {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c !== '-' && (c < '0' || c > '9')) continue;
    let end = i + 1;
    while (end < text.length && /[0-9]/.test(text[end] as string)) end++;
    const literal = text.slice(i, end);
    const next = text[end];
    if (next !== '.' && next !== 'e' && next !== 'E' && /^-?(0|[1-9]\d*)$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
      out += `${text.slice(copied, i)}"${literal}"`;
      copied = end;
    }
    i = end - 1;
  }
  return JSON.parse(out + text.slice(copied)) as unknown;
}
