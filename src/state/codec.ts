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

export function encodeValue(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v ?? null, replacer), 'utf8');
}

export function decodeValue(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), reviver) as unknown;
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
