import { encodePath } from './api.js';

/**
 * Views live in the URL fragment (`/ui/#/services/web`), so the page is one
 * file the agent serves for any path, and a reload shows the same view.
 */
export type Route =
  | { view: 'services' }
  | { view: 'service'; name: string }
  | { view: 'nodes' }
  | { view: 'node'; name: string }
  | { view: 'members' }
  /** A folder: '' (the root) or a prefix ending in '/'. */
  | { view: 'kv-folder'; prefix: string }
  | { view: 'kv-key'; key: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const slash = path.indexOf('/');
  const section = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '' : path.slice(slash + 1);
  switch (section) {
    case 'services': return rest ? { view: 'service', name: decode(rest) } : { view: 'services' };
    case 'nodes': return rest ? { view: 'node', name: decode(rest) } : { view: 'nodes' };
    case 'members': return { view: 'members' };
    case 'kv': {
      const key = rest.split('/').map(decode).join('/');
      return key === '' || key.endsWith('/') ? { view: 'kv-folder', prefix: key } : { view: 'kv-key', key };
    }
    default: return { view: 'services' };
  }
}

/** The section a route belongs to, for the navigation bar. */
export function sectionOf(r: Route): string {
  switch (r.view) {
    case 'services': case 'service': return 'services';
    case 'nodes': case 'node': return 'nodes';
    case 'members': return 'members';
    case 'kv-folder': case 'kv-key': return 'kv';
  }
}

export const href = {
  services: (): string => '#/services',
  service: (name: string): string => `#/services/${encodeURIComponent(name)}`,
  nodes: (): string => '#/nodes',
  node: (name: string): string => `#/nodes/${encodeURIComponent(name)}`,
  members: (): string => '#/members',
  /** A key, or a folder when it is '' or ends in '/'. */
  kv: (key: string): string => `#/kv/${encodePath(key)}`,
};

function decode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}
