import type { IncomingHttpHeaders } from 'node:http';
import { decodeValue, encodeValue } from '../state/codec.js';
import type { ApiRequest, ApiResponse } from './types.js';

/**
 * Where a request is served. A server answers locally or hands the request
 * to the leader; a client agent hands everything outside `/v1/agent/` to a
 * server. `forwarded` is true for a request that came from another agent.
 */
export interface Forwarding {
  /** `anyServer`: the route may run on any server (RouteOptions.anyServer). */
  dispatch(req: ApiRequest, local: () => Promise<ApiResponse>, forwarded: boolean, anyServer?: boolean): Promise<ApiResponse>;
}

interface WireRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Headers that mean something to the handlers; the rest stay behind. */
const KEPT_HEADERS = ['content-type', 'x-consul-token', 'authorization', 'x-muster-hops', 'x-muster-rid'];

export function encodeRequest(req: ApiRequest): Buffer {
  const headers: Record<string, string> = {};
  for (const h of KEPT_HEADERS) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const wire: WireRequest = { method: req.method, path: req.path, query: req.query.toString(), headers, body: req.body };
  return encodeValue(wire);
}

export function decodeRequest(data: Uint8Array): { method: string; path: string; query: URLSearchParams; headers: IncomingHttpHeaders; body: Buffer } {
  const w = decodeValue(data) as WireRequest;
  return { method: w.method, path: w.path, query: new URLSearchParams(w.query), headers: w.headers, body: Buffer.isBuffer(w.body) ? w.body : Buffer.alloc(0) };
}

export function encodeResponse(res: ApiResponse): Buffer {
  const body = res.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(res.body) ? res.body : Buffer.from(res.body, 'utf8');
  return encodeValue({ status: res.status, headers: res.headers ?? {}, body });
}

export function decodeResponse(data: Uint8Array): ApiResponse {
  const r = decodeValue(data) as { status: number; headers: Record<string, string>; body: Buffer };
  return { status: r.status, headers: r.headers, body: r.body };
}
