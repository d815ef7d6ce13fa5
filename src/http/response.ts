import type { ApiResponse } from './types.js';

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** 200 with a JSON body. */
export function json(value: unknown, headers: Record<string, string> = {}, status = 200): ApiResponse {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** A JSON body serialised by the caller (for uint64 fields JSON.stringify would round). */
export function rawJson(body: string, headers: Record<string, string> = {}, status = 200): ApiResponse {
  return { status, headers: { ...JSON_TYPE, ...headers }, body };
}

/** Consul's agent writes answer 200 with an empty body. */
export function empty(status = 200, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers, body: '' };
}

export function text(status: number, message: string, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body: message };
}
