import type { Handler } from './types.js';

export interface RouteOptions {
  /**
   * The handler reads no state: it checks the request and submits commands
   * through the agent's writer, which hands them to the leader. Any server
   * may then run it, and a follower forwards the command rather than the
   * whole HTTP request (as Consul's agents forward RPCs, not HTTP).
   */
  anyServer?: boolean;
}

interface Route {
  methods: ReadonlySet<string>;
  pattern: string;
  segments: string[];
  handler: Handler;
  anyServer: boolean;
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string>; pattern: string; anyServer: boolean }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

/**
 * Path patterns: literal segments, `:name` for one segment, and a final
 * `*name` for the rest of the path (may be empty, may hold slashes, as KV
 * keys do). Literal routes win over parameters by registration order.
 */
export class Router {
  /** Routes whose first two segments are not both literal, in registration order. */
  private readonly generic: Route[] = [];
  /**
   * For each literal first-two-segments key (`v1/kv`): the routes that may
   * match a path starting so, in registration order (the generic ones too).
   */
  private readonly buckets = new Map<string, Route[]>();

  add(methods: string | string[], pattern: string, handler: Handler, opts: RouteOptions = {}): void {
    const list = Array.isArray(methods) ? methods : [methods];
    const segments = pattern.split('/').slice(1);
    const route: Route = { methods: new Set(list), pattern, segments, handler, anyServer: opts.anyServer === true };
    const key = literalKey(segments);
    if (key === undefined) {
      this.generic.push(route);
      for (const bucket of this.buckets.values()) bucket.push(route);
      return;
    }
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = [...this.generic];
      this.buckets.set(key, bucket);
    }
    bucket.push(route);
  }

  match(method: string, path: string): RouteMatch {
    const parts = path.split('/').slice(1);
    const allow = new Set<string>();
    const candidates = this.buckets.get(`${parts[0] ?? ''}/${parts[1] ?? ''}`) ?? this.generic;
    for (const r of candidates) {
      if (!fits(r.segments, parts)) continue;
      const params = matchSegments(r.segments, parts);
      if (!params) continue;
      if (r.methods.has(method)) return { kind: 'found', handler: r.handler, params, pattern: r.pattern, anyServer: r.anyServer };
      for (const m of r.methods) allow.add(m);
    }
    return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'not-found' };
  }
}

/** `a/b` when a pattern's first two segments are literal, else undefined. */
function literalKey(segments: string[]): string | undefined {
  const [a, b] = segments;
  if (a === undefined || b === undefined) return undefined;
  if (/^[:*]/.test(a) || /^[:*]/.test(b)) return undefined;
  return `${a}/${b}`;
}

/** A cheap first look, without allocating: the literal segments and the length agree. */
function fits(pattern: string[], parts: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const c = p.charCodeAt(0);
    if (c === 42 /* * */) return true;
    if (i >= parts.length) return false;
    if (c !== 58 /* : */ && p !== parts[i]) return false;
  }
  return pattern.length === parts.length;
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    if (p.startsWith('*')) {
      params[p.slice(1)] = parts.slice(i).map(decode).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (p.startsWith(':')) {
      if (part === '') return undefined;
      params[p.slice(1)] = decode(part);
    } else if (p !== part) {
      return undefined;
    }
  }
  return pattern.length === parts.length ? params : undefined;
}

function decode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}
