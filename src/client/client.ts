import http from 'node:http';
import https from 'node:https';
import { MusterError, errorMessage } from '../errors.js';
import { Kv } from './kv.js';
import { Sessions } from './session.js';
import { Catalog } from './catalog.js';
import { Health } from './health.js';
import { AgentApi } from './agent.js';

/** Where the client goes when neither the options nor the environment say. */
export const DEFAULT_ADDRESS = '127.0.0.1:8500';
/** The server's wait when a blocking query names none (Consul: 5 min); the request timeout allows for it. */
export const DEFAULT_BLOCKING_WAIT_MS = 5 * 60_000;
/** Per-request timeout of calls that do not block. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface MusterClientOptions {
  /**
   * `host:port`, `http://host:port`, `https://host:port` or `unix:///path/to.sock`.
   * Default: MUSTER_HTTP_ADDR, then CONSUL_HTTP_ADDR, then 127.0.0.1:8500. Without a
   * scheme it is http, or https when CONSUL_HTTP_SSL is true (as Consul's CLI).
   */
  address?: string;
  /** Sent as X-Consul-Token. Default: CONSUL_HTTP_TOKEN. */
  token?: string;
  /** Sent as `?dc=` on every request when set. */
  datacenter?: string;
  /**
   * Milliseconds before a request that does not block is abandoned (default 30 000;
   * 0 = never). A blocking read gets its wait plus wait/16 (the server's jitter) on top.
   */
  timeoutMs?: number;
  /** Read instead of process.env (tests). */
  env?: NodeJS.ProcessEnv;
}

/** Options of a read. `index` > 0 makes it a blocking query. */
export interface QueryOptions {
  signal?: AbortSignal;
  /** Block until the result's index passes this one (or the wait ends). */
  index?: number;
  /** How long the server may hold a blocking query; default: the server's (5 min). */
  waitMs?: number;
  /** Linearisable read (`?consistent`). */
  consistent?: boolean;
  /** Any server may answer (`?stale`). */
  stale?: boolean;
  dc?: string;
}

export interface WriteOptions {
  signal?: AbortSignal;
  dc?: string;
}

/** What the X-Consul-* headers of a read say. */
export interface QueryMeta {
  /** X-Consul-Index: pass it back as `index` to block until the result changes. */
  index: number;
  knownLeader: boolean;
  lastContactMs: number;
}

/** A read's value with its meta. */
export interface Indexed<T> {
  value: T;
  meta: QueryMeta;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Query values: `true` sends the key with no value (`?recurse=`), false/undefined leave it out. */
export type QueryParams = Record<string, string | number | bigint | boolean | undefined>;

export interface RequestOptions {
  query?: QueryParams;
  /** The raw request body. */
  body?: Buffer | string;
  /** A body serialised as JSON (when `body` is not given). */
  json?: unknown;
  signal?: AbortSignal;
  /** How long the server may hold this request (blocking reads); added to the timeout. */
  holdMs?: number;
}

/**
 * A client of the Consul HTTP API (Muster's or Consul's). HTTP goes through
 * Node's own `http`/`https` modules, not axios or fetch: bodies arrive as raw
 * bytes (KV values, and JSON whose uint64 `Flags` must not go through
 * JSON.parse's doubles), a request takes an AbortSignal, a unix socket is
 * reachable, nothing cuts a 5-10 minute blocking query (fetch's undici has a
 * fixed 300 s headers timeout), and nothing is loaded at start (importing
 * axios alone costs ~300 ms, which every `muster kv` run would pay).
 */
export class MusterClient {
  /** Base URL requests go to (`http://127.0.0.1:8500`, or `http://localhost` for a unix socket). */
  readonly address: string;
  readonly kv: Kv;
  readonly session: Sessions;
  readonly catalog: Catalog;
  readonly health: Health;
  readonly agent: AgentApi;
  private readonly target: { url: URL; socketPath?: string };
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly datacenter: string | undefined;

  constructor(opts: MusterClientOptions = {}) {
    const env = opts.env ?? process.env;
    const target = resolveAddress(opts.address, env);
    this.address = target.baseURL;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs < 0) {
      throw new MusterError('ERR_CONFIG', `timeoutMs must be a non-negative number, not ${String(opts.timeoutMs)}`);
    }
    this.datacenter = opts.datacenter || undefined;
    const token = opts.token ?? env.CONSUL_HTTP_TOKEN;
    this.headers = token ? { 'X-Consul-Token': token } : {};
    this.target = { url: new URL(target.baseURL), ...(target.socketPath ? { socketPath: target.socketPath } : {}) };
    this.kv = new Kv(this);
    this.session = new Sessions(this);
    this.catalog = new Catalog(this);
    this.health = new Health(this);
    this.agent = new AgentApi(this);
  }

  /**
   * One HTTP exchange. Rejects with ERR_UNREACHABLE when no answer came, and
   * with the signal's reason when it was aborted; any status resolves.
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    opts.signal?.throwIfAborted();
    const url = path + queryString({ ...(this.datacenter ? { dc: this.datacenter } : {}), ...opts.query });
    let data: Buffer | string | undefined = opts.body;
    const headers: Record<string, string> = {};
    if (data === undefined && opts.json !== undefined) {
      data = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    } else if (data !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
    }
    const timeout = this.timeoutMs === 0 ? 0 : this.timeoutMs + (opts.holdMs ?? 0);
    try {
      return await this.exchange(method, url, { ...this.headers, ...headers }, data, timeout, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const code = err instanceof MusterError ? undefined : (err as { code?: unknown }).code;
      const why = typeof code === 'string' && !errorMessage(err).includes(code) ? `${code}: ${errorMessage(err)}` : errorMessage(err);
      throw new MusterError('ERR_UNREACHABLE', `${method} ${this.address}${path}: ${why}`, { cause: err });
    }
  }

  /** The bytes of one request and its answer; `timeoutMs` bounds the time the socket sits idle. */
  private async exchange(method: string, path: string, headers: Record<string, string>, body: Buffer | string | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<ApiResponse> {
    try {
      return await this.exchangeOnce(method, path, headers, body, timeoutMs, signal);
    } catch (err) {
      // A kept-alive connection the server closed as we reused it: the request never reached
      // it, so once more on a fresh connection (Node's documented pattern for reusedSocket).
      if (!(err instanceof StaleSocketError) || signal?.aborted) throw err instanceof StaleSocketError ? err.cause : err;
      return this.exchangeOnce(method, path, headers, body, timeoutMs, signal);
    }
  }

  private exchangeOnce(method: string, path: string, headers: Record<string, string>, body: Buffer | string | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<ApiResponse> {
    const { url, socketPath } = this.target;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<ApiResponse>((resolve, reject) => {
      const req = mod.request({
        method, path, headers: body !== undefined ? { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } : headers,
        ...(socketPath ? { socketPath } : { hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (url.protocol === 'https:' ? 443 : 80) }),
        ...(signal ? { signal } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', reject);
        res.once('close', () => {
          // a connection cut mid-answer; after 'end' this does nothing (the promise is settled)
          if (!res.complete) reject(new MusterError('ERR_UNREACHABLE', 'the connection closed before the answer was complete'));
        });
        res.once('end', () => {
          const flat: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks) });
        });
      });
      req.once('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(stale ? new StaleSocketError(err) : err);
      });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new MusterError('ERR_UNREACHABLE', `no answer within ${timeoutMs} ms`)));
      }
      req.end(body);
    });
  }

  /** A request whose status must be one of `ok` (default 200); otherwise ERR_API, worded as Consul's Go client. */
  async call(method: string, path: string, opts: RequestOptions = {}, ok: readonly number[] = [200]): Promise<ApiResponse> {
    const res = await this.request(method, path, opts);
    if (!ok.includes(res.status)) throw apiError(res);
    return res;
  }

  /**
   * A read with Consul's query options: blocking (`index`, `wait`), consistency,
   * dc. A 404 resolves when `allow404` (a missing KV key still carries its index).
   */
  async query(path: string, q: QueryOptions = {}, extra: QueryParams = {}, allow404 = false): Promise<ApiResponse> {
    const blocking = q.index !== undefined && q.index > 0;
    const query: QueryParams = {
      ...extra,
      ...(blocking ? { index: q.index } : {}),
      ...(blocking && q.waitMs !== undefined ? { wait: `${Math.max(0, Math.round(q.waitMs))}ms` } : {}),
      ...(q.consistent ? { consistent: true } : {}),
      ...(q.stale ? { stale: true } : {}),
      ...(q.dc ? { dc: q.dc } : {}),
    };
    const holdMs = blocking ? Math.ceil(((q.waitMs ?? DEFAULT_BLOCKING_WAIT_MS) * 17) / 16) : 0;
    return this.call('GET', path, { query, holdMs, ...(q.signal ? { signal: q.signal } : {}) }, allow404 ? [200, 404] : [200]);
  }

  /** A read decoded as JSON, with its meta. */
  async read<T>(path: string, q: QueryOptions = {}, extra: QueryParams = {}, decode: (body: unknown) => T = (b) => b as T): Promise<Indexed<T>> {
    const res = await this.query(path, q, extra);
    return { value: decode(parseJson(res)), meta: queryMeta(res) };
  }

  /** A write: PUT (by default) answered with 200. */
  async write(path: string, opts: RequestOptions & WriteOptions = {}, method = 'PUT'): Promise<ApiResponse> {
    const { dc, ...rest } = opts;
    return this.call(method, path, { ...rest, query: { ...rest.query, ...(dc ? { dc } : {}) } });
  }
}

/** Internal: the request failed on a reused keep-alive socket before any answer. */
class StaleSocketError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/** The X-Consul-* headers; the index is never below 1 once the server answered (Consul's rule). */
export function queryMeta(res: ApiResponse): QueryMeta {
  const index = Number(res.headers['x-consul-index'] ?? '0');
  const lastContact = Number(res.headers['x-consul-lastcontact'] ?? '0');
  return {
    index: Number.isFinite(index) && index > 0 ? index : 0,
    knownLeader: res.headers['x-consul-knownleader'] === 'true',
    lastContactMs: Number.isFinite(lastContact) ? lastContact : 0,
  };
}

/** JSON from a response body (null for an empty one). */
export function parseJson(res: ApiResponse): unknown {
  const text = res.body.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MusterError('ERR_DECODE', `cannot decode the agent's answer: ${errorMessage(err)}`, { cause: err });
  }
}

/** The error for an unexpected status: Go's `Unexpected response code: 500 (body)`; `status` is the HTTP status. */
export function apiError(res: ApiResponse): MusterError {
  const text = res.body.toString('utf8').trim().split('\n')[0] ?? '';
  const msg = text ? `Unexpected response code: ${res.status} (${text})` : `Unexpected response code: ${res.status}`;
  return new MusterError('ERR_API', msg, { status: res.status });
}

/** A 5xx answer: what lock monitors ride out with retries (Go's IsServerError). */
export function isServerError(err: unknown): boolean {
  return err instanceof MusterError && err.code === 'ERR_API' && err.status >= 500 && err.status <= 599;
}

/** A KV key (or any path tail) as URL path segments; `/` stays a separator. */
export function encodePath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function queryString(q: QueryParams): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === false) continue;
    parts.push(v === true ? `${encodeURIComponent(k)}=` : `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Where to connect: the option, MUSTER_HTTP_ADDR, CONSUL_HTTP_ADDR, or 127.0.0.1:8500. */
export function resolveAddress(address: string | undefined, env: NodeJS.ProcessEnv): { baseURL: string; socketPath?: string } {
  const raw = (address || env.MUSTER_HTTP_ADDR || env.CONSUL_HTTP_ADDR || DEFAULT_ADDRESS).trim();
  if (raw.startsWith('unix://')) return { baseURL: 'http://localhost', socketPath: raw.slice('unix://'.length) };
  const ssl = /^(1|t|true)$/i.test(env.CONSUL_HTTP_SSL ?? '');
  const withScheme = /^https?:\/\//i.test(raw) ? raw : `${ssl ? 'https' : 'http'}://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new MusterError('ERR_CONFIG', `bad agent address: ${raw}`);
  }
  return { baseURL: `${url.protocol}//${url.host}` };
}
