import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { MusterError } from '../errors.js';

export interface EtcdGatewayOptions {
  /** `http://host:port`. */
  endpoint: string;
  /** For error messages: `etcd://host:port/prefix`. */
  name: string;
  /** Deadline of every request, connect to last byte. */
  timeoutMs: number;
}

/** One key as etcd holds it. */
export interface EtcdKeyValue {
  key: string;
  value: string;
  /** Lease ID (int64 as a decimal string); `'0'` when the key has no lease. */
  lease: string;
}

export interface EtcdLeaseGrant {
  id: string;
  /** Seconds, as granted (etcd raises a TTL below its minimum). */
  ttl: number;
}

/**
 * etcd v3 over its JSON gateway (`POST /v3/...`, keys and values in base64,
 * int64s as decimal strings): just the calls a registration needs. Every call
 * has a deadline and fails with a one-line MusterError; none retries.
 */
export class EtcdGateway {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: EtcdGatewayOptions) {
    this.http = axios.create({
      baseURL: opts.endpoint,
      timeout: opts.timeoutMs,
      headers: { 'Content-Type': 'application/json' },
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
  }

  /** Resolves when the member answers and knows a leader. */
  async status(signal?: AbortSignal): Promise<void> {
    const body = await this.call('/v3/maintenance/status', {}, { signal });
    if (!body.leader || body.leader === '0') {
      throw new MusterError('ERR_BACKEND', `${this.opts.name} has no leader`, { status: 503 });
    }
  }

  async put(key: string, value: string, lease: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value), lease });
  }

  async delete(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(key) });
  }

  /** Every key starting with `prefix`. */
  async range(prefix: string): Promise<EtcdKeyValue[]> {
    const body = await this.call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix).toString('base64') });
    const kvs = Array.isArray(body.kvs) ? (body.kvs as Array<Record<string, unknown>>) : [];
    return kvs.map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value), lease: typeof kv.lease === 'string' ? kv.lease : '0' }));
  }

  async grant(ttlSeconds: number): Promise<EtcdLeaseGrant> {
    const body = await this.call('/v3/lease/grant', { TTL: ttlSeconds });
    if (typeof body.ID !== 'string' || body.ID === '0') {
      throw new MusterError('ERR_BACKEND', `${this.opts.name} granted no lease: ${String(body.error ?? 'no ID in the answer')}`, { status: 503 });
    }
    return { id: body.ID, ttl: Number(body.TTL ?? ttlSeconds) };
  }

  /** Renews the lease; resolves with its TTL in seconds, 0 when etcd no longer knows it. */
  async keepAlive(id: string, timeoutMs?: number): Promise<number> {
    // The gateway maps the keepalive stream to one answer per request body: {"result": {...}}.
    const body = await this.call('/v3/lease/keepalive', { ID: id }, timeoutMs === undefined ? {} : { timeoutMs });
    if (body.error) throw this.refused('/v3/lease/keepalive', 503, body.error);
    const result = (body.result ?? {}) as Record<string, unknown>;
    const ttl = Number(result.TTL ?? 0);
    return Number.isFinite(ttl) && ttl > 0 ? ttl : 0;
  }

  private async call(path: string, data: unknown, opts: { signal?: AbortSignal | undefined; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    let res;
    try {
      res = await this.http.request({ method: 'post', url: path, data, signal, timeout: timeoutMs });
    } catch (err) {
      if (deadline.aborted || (isAxiosError(err) && err.code === 'ETIMEDOUT')) {
        throw new MusterError('ERR_BACKEND', `${this.opts.name} did not answer ${path} within ${timeoutMs} ms`, { cause: err, status: 503 });
      }
      if (opts.signal?.aborted) throw new MusterError('ERR_ABORTED', `${path} to ${this.opts.name} aborted`, { cause: err, status: 503 });
      const why = isAxiosError(err) ? (err.code ?? err.message) : String(err);
      throw new MusterError('ERR_BACKEND', `${this.opts.name} unreachable: ${why}`, { cause: err, status: 503 });
    }
    const body = parseBody(res.data);
    if (res.status === 200) return body ?? {};
    throw this.refused(path, res.status, body?.message ?? body?.error ?? res.data);
  }

  private refused(path: string, status: number, why: unknown): MusterError {
    const message = typeof why === 'object' && why !== null ? (why as { message?: unknown }).message : undefined;
    const raw = typeof message === 'string' ? message : typeof why === 'string' ? why : JSON.stringify(why);
    const text = raw.trim().split('\n')[0] ?? '';
    return new MusterError('ERR_BACKEND', `${this.opts.name} answered ${status} to ${path}: ${text}`, { status });
  }
}

/** A lease that etcd does not know (expired, revoked, or etcd lost its data). */
export function isLeaseNotFound(err: unknown): boolean {
  return err instanceof MusterError && err.message.includes('requested lease not found');
}

function parseBody(data: unknown): Record<string, unknown> | undefined {
  if (typeof data === 'object' && data !== null) return data as Record<string, unknown>;
  if (typeof data !== 'string' || data === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unb64(value: unknown): string {
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '';
}

/** The `range_end` that selects every key starting with `prefix` (etcd's rule: add one to the last byte below 0xff). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  return Buffer.from([0]); // every key
}
