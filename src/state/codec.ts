import { MusterError } from '../errors.js';
import type { Command } from './commands.js';

/**
 * Commands and their results as bytes, for the Raft log and for RPC. JSON,
 * with two values JSON cannot carry: Buffers (KV values) and bigints (KV
 * flags) become one-key objects whose key no user data can produce.
 */
const BUF = '\u0000buf';
const BIG = '\u0000big';

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (Buffer.isBuffer(original)) return { [BUF]: original.toString('base64') };
  if (typeof value === 'bigint') return { [BIG]: value.toString() };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const b = o[BUF];
    if (typeof b === 'string') return Buffer.from(b, 'base64');
    const n = o[BIG];
    if (typeof n === 'string') return BigInt(n);
  }
  return value;
}

/** True when JSON.stringify needs the replacer: somewhere below `v` is a Buffer or a bigint. */
function needsReplacer(v: unknown, depth = 0): boolean {
  if (typeof v === 'bigint') return true;
  if (v === null || typeof v !== 'object') return false;
  if (Buffer.isBuffer(v) || depth > 32) return true; // deep values: let the replacer look
  if (Array.isArray(v)) {
    for (const x of v) if (needsReplacer(x, depth + 1)) return true;
    return false;
  }
  for (const k in v) if (needsReplacer((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** The marker keys as JSON.stringify writes them; text without either needs no reviver. */
const MARKERS = [JSON.stringify(BUF), JSON.stringify(BIG)].map((s) => s.slice(1, -1));

// JSON.stringify and JSON.parse run several times faster without a replacer or reviver
// function, and most commands (KV values travel as base64 strings) need neither.
export function encodeValue(v: unknown): Buffer {
  return Buffer.from(needsReplacer(v) ? JSON.stringify(v ?? null, replacer) : JSON.stringify(v ?? null), 'utf8');
}

export function decodeValue(data: Uint8Array): unknown {
  try {
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    return (MARKERS.some((m) => text.includes(m)) ? JSON.parse(text, reviver) : JSON.parse(text)) as unknown;
  } catch (err) {
    throw new MusterError('ERR_INTERNAL', `undecodable replicated value: ${(err as Error).message}`);
  }
}

export function encodeCommand(cmd: Command): Buffer {
  return encodeValue(cmd);
}

export function decodeCommand(data: Uint8Array): Command {
  const v = decodeValue(data);
  if (v === null || typeof v !== 'object' || typeof (v as { type?: unknown }).type !== 'string') {
    throw new MusterError('ERR_INTERNAL', 'undecodable replicated command');
  }
  return v as Command;
}
