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
