import type { Handler } from './types.js';

interface Route {
  methods: ReadonlySet<string>;
  pattern: string;
  segments: string[];
  handler: Handler;
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string>; pattern: string }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

/**
 * Path patterns: literal segments, `:name` for one segment, and a final
 * `*name` for the rest of the path (may be empty, may hold slashes, as KV
 * keys do). Literal routes win over parameters by registration order.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(methods: string | string[], pattern: string, handler: Handler): void {
    const list = Array.isArray(methods) ? methods : [methods];
    this.routes.push({ methods: new Set(list), pattern, segments: pattern.split('/').slice(1), handler });
  }

  match(method: string, path: string): RouteMatch {
    const parts = path.split('/').slice(1);
    const allow = new Set<string>();
    for (const r of this.routes) {
      const params = matchSegments(r.segments, parts);
      if (!params) continue;
      if (r.methods.has(method)) return { kind: 'found', handler: r.handler, params, pattern: r.pattern };
      for (const m of r.methods) allow.add(m);
    }
    return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'not-found' };
  }
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
