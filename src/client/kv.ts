import { MusterError } from '../errors.js';
import type { Indexed, MusterClient, QueryOptions, WriteOptions, ApiResponse } from './client.js';
import { apiError, encodePath, queryMeta } from './client.js';
import { checkFlags, parseJsonExact, toUint64 } from './wire.js';

/** A KV entry (Consul's DirEntry), decoded: the value as bytes, the uint64 flags exactly. */
export interface KvPair {
  key: string;
  /** uint64, exact: the Lock's 3304740253564472344 stays what it is. */
  flags: bigint;
  /** The raw bytes; empty when the key has no value. */
  value: Buffer;
  /** The session holding the key's lock, when one does. */
  session?: string;
  /** How many times the key has been acquired. */
  lockIndex: number;
  createIndex: number;
  modifyIndex: number;
}

export type KvValue = Buffer | Uint8Array | string;

export interface KvPutOptions extends WriteOptions {
  /** uint64 stored with the value (0 when not given, as Consul). */
  flags?: bigint | number;
  /** Check-and-set: write only if the key's ModifyIndex is this (0: only if the key does not exist). */
  cas?: number;
  /** Take the key's lock for this session (the write fails, `false`, if another holds it or a lock-delay runs). */
  acquire?: string;
  /** Give up this session's lock on the key. */
  release?: string;
}

export interface KvDeleteOptions extends WriteOptions {
  /** Delete every key starting with this string. */
  recurse?: boolean;
  /** Delete only if the key's ModifyIndex is this. */
  cas?: number;
}

export interface KvKeysOptions extends QueryOptions {
  /** Cut each name at the first separator after the prefix (`web/sub/`). */
  separator?: string;
}

export type KvTxnVerb =
  | 'set' | 'cas' | 'lock' | 'unlock' | 'get' | 'get-tree' | 'check-index' | 'check-session'
  | 'check-not-exists' | 'delete' | 'delete-tree' | 'delete-cas';

export interface KvTxnOp {
  verb: KvTxnVerb;
  key: string;
  value?: KvValue;
  flags?: bigint | number;
  index?: number;
  session?: string;
}

export type KvTxnResult =
  | { ok: true; results: KvPair[] }
  | { ok: false; errors: Array<{ opIndex: number; what: string }> };

const FLAG_FIELDS: ReadonlySet<string> = new Set(['Flags']);

/** `/v1/kv`: values are bytes, flags are bigints, a missing key is `undefined` (not an error). */
export class Kv {
  constructor(private readonly client: MusterClient) {}

  /** The entry at `key`, or undefined when there is none. */
  async get(key: string, q: QueryOptions = {}): Promise<KvPair | undefined> {
    return (await this.getWithMeta(key, q)).value;
  }

  /** `get` with the index to block on (a missing key has one too). */
  async getWithMeta(key: string, q: QueryOptions = {}): Promise<Indexed<KvPair | undefined>> {
    const res = await this.client.query(kvPath(key), q, {}, true);
    const list = res.status === 404 ? [] : decodeEntries(res);
    return { value: list[0], meta: queryMeta(res) };
  }

  /** Every entry whose key starts with `prefix`, sorted by key (`?recurse`); [] when none. */
  async list(prefix: string, q: QueryOptions = {}): Promise<KvPair[]> {
    return (await this.listWithMeta(prefix, q)).value;
  }

  async listWithMeta(prefix: string, q: QueryOptions = {}): Promise<Indexed<KvPair[]>> {
    const res = await this.client.query(kvPath(prefix), q, { recurse: true }, true);
    return { value: res.status === 404 ? [] : decodeEntries(res), meta: queryMeta(res) };
  }

  /** The key names under `prefix` (`?keys`, with `?separator`); [] when none. */
  async keys(prefix: string, q: KvKeysOptions = {}): Promise<string[]> {
    return (await this.keysWithMeta(prefix, q)).value;
  }

  async keysWithMeta(prefix: string, q: KvKeysOptions = {}): Promise<Indexed<string[]>> {
    const { separator, ...rest } = q;
    const res = await this.client.query(kvPath(prefix), rest, { keys: true, ...(separator ? { separator } : {}) }, true);
    if (res.status === 404) return { value: [], meta: queryMeta(res) };
    const body = parseJsonExact(res.body.toString('utf8'), FLAG_FIELDS);
    if (!Array.isArray(body)) throw new MusterError('ERR_DECODE', 'kv keys: expected a JSON array');
    return { value: body.map(String), meta: queryMeta(res) };
  }

  /**
   * Writes `value` at `key`. Resolves true, or false when a `cas`, `acquire` or
   * `release` condition did not hold (as Consul's `true`/`false` body).
   */
  async put(key: string, value: KvValue = Buffer.alloc(0), opts: KvPutOptions = {}): Promise<boolean> {
    const modes = [opts.cas !== undefined, opts.acquire !== undefined, opts.release !== undefined].filter(Boolean);
    if (modes.length > 1) throw new MusterError('ERR_CONFLICTING_FLAGS', 'only one of cas, acquire and release may be given');
    const res = await this.client.write(kvPath(key), {
      body: toBuffer(value),
      query: {
        flags: opts.flags !== undefined ? checkFlags(opts.flags) : undefined,
        cas: opts.cas, acquire: opts.acquire, release: opts.release,
      },
      ...writeOpts(opts),
    });
    return parseBool(res);
  }

  /** Deletes `key` (or every key under it with `recurse`); false when a `cas` did not hold. */
  async delete(key: string, opts: KvDeleteOptions = {}): Promise<boolean> {
    if (opts.recurse && opts.cas !== undefined) throw new MusterError('ERR_CONFLICTING_FLAGS', 'recurse and cas cannot be combined');
    const res = await this.client.write(kvPath(key), {
      query: { recurse: opts.recurse === true, cas: opts.cas },
      ...writeOpts(opts),
    }, 'DELETE');
    return parseBool(res);
  }

  /** `PUT /v1/txn` with KV operations, all or nothing. A rollback (409) resolves with its errors. */
  async txn(ops: readonly KvTxnOp[], opts: WriteOptions = {}): Promise<KvTxnResult> {
    const body = `[${ops.map(txnOpJson).join(',')}]`;
    const res = await this.client.request('PUT', '/v1/txn', {
      body, query: opts.dc ? { dc: opts.dc } : {}, ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status !== 200 && res.status !== 409) throw apiError(res);
    const parsed = parseJsonExact(res.body.toString('utf8'), FLAG_FIELDS) as { Results?: unknown; Errors?: unknown } | null;
    if (res.status === 409) {
      const errors = Array.isArray(parsed?.Errors) ? parsed.Errors : [];
      return {
        ok: false,
        errors: errors.map((e) => {
          const r = (e ?? {}) as { OpIndex?: unknown; What?: unknown };
          return { opIndex: Number(r.OpIndex ?? 0), what: String(r.What ?? '') };
        }),
      };
    }
    const results = Array.isArray(parsed?.Results) ? parsed.Results : [];
    return { ok: true, results: results.map((r) => decodeEntry((r as { KV?: unknown } | null)?.KV)) };
  }
}

export function kvPath(key: string): string {
  return `/v1/kv/${encodePath(key)}`;
}

/** DirEntry JSON (an array of them) decoded with exact flags. */
export function decodeEntries(res: ApiResponse): KvPair[] {
  const body = parseJsonExact(res.body.toString('utf8'), FLAG_FIELDS);
  if (body === null) return [];
  if (!Array.isArray(body)) throw new MusterError('ERR_DECODE', 'kv: expected a JSON array of entries');
  return body.map(decodeEntry);
}

export function decodeEntry(raw: unknown): KvPair {
  if (typeof raw !== 'object' || raw === null) throw new MusterError('ERR_DECODE', 'kv: an entry is not an object');
  const e = raw as Record<string, unknown>;
  const flags = e.Flags === undefined || e.Flags === null ? 0n : toUint64(e.Flags);
  if (flags === undefined) throw new MusterError('ERR_DECODE', `kv: bad Flags ${String(e.Flags)}`);
  const pair: KvPair = {
    key: String(e.Key ?? ''),
    flags,
    value: typeof e.Value === 'string' ? Buffer.from(e.Value, 'base64') : Buffer.alloc(0),
    lockIndex: Number(e.LockIndex ?? 0),
    createIndex: Number(e.CreateIndex ?? 0),
    modifyIndex: Number(e.ModifyIndex ?? 0),
  };
  if (typeof e.Session === 'string' && e.Session !== '') pair.session = e.Session;
  return pair;
}

function txnOpJson(op: KvTxnOp): string {
  const parts = [`"Verb":${JSON.stringify(op.verb)}`, `"Key":${JSON.stringify(op.key)}`];
  if (op.value !== undefined) parts.push(`"Value":${JSON.stringify(toBuffer(op.value).toString('base64'))}`);
  // written by hand: JSON.stringify cannot print a uint64 exactly
  if (op.flags !== undefined) parts.push(`"Flags":${checkFlags(op.flags).toString()}`);
  if (op.index !== undefined) parts.push(`"Index":${Math.trunc(op.index)}`);
  if (op.session !== undefined) parts.push(`"Session":${JSON.stringify(op.session)}`);
  return `{"KV":{${parts.join(',')}}}`;
}

function toBuffer(v: KvValue): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function writeOpts(o: WriteOptions): WriteOptions {
  return { ...(o.signal ? { signal: o.signal } : {}), ...(o.dc ? { dc: o.dc } : {}) };
}

function parseBool(res: ApiResponse): boolean {
  return res.body.toString('utf8').trim() === 'true';
}
