import { MusterError } from '../errors.js';
import { parseBool } from '../config/flags.js';

/** Consul's boolean query flags count by presence: `?recurse`, `?recurse=`, even `?recurse=false`. */
export function hasFlag(q: URLSearchParams, name: string): boolean {
  return q.has(name);
}

/** `?passing`: empty means true, otherwise Go's ParseBool; anything else is a 400. */
export function boolParam(q: URLSearchParams, name: string): boolean {
  if (!q.has(name)) return false;
  const v = q.get(name) ?? '';
  if (v === '') return true;
  const b = parseBool(v);
  if (b === undefined) throw new MusterError('ERR_BAD_REQUEST', `Invalid value for ?${name}`);
  return b;
}

/** Consistency flags: `?stale` with `?consistent` is a 400, as Consul. */
export function checkConsistency(q: URLSearchParams): void {
  if (q.has('stale') && q.has('consistent')) {
    throw new MusterError('ERR_BAD_REQUEST', 'Cannot specify ?stale with ?consistent, conflicting semantics.');
  }
}
