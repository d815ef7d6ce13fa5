import { parseRoute, sectionOf, type Route } from './routes.js';
import type { ViewContext } from './view.js';
import { servicesView } from './views/services.js';
import { serviceView } from './views/service.js';
import { nodesView } from './views/nodes.js';
import { nodeView } from './views/node.js';
import { membersView } from './views/members.js';
import { kvFolderView } from './views/kv-folder.js';
import { kvKeyView } from './views/kv-key.js';

/**
 * The page's router: on each change of the URL fragment the current view is
 * aborted (its blocking query with it) and the new one drawn into <main>.
 */
function start(): void {
  const main = document.getElementById('main');
  const connection = document.getElementById('connection');
  if (!main || !connection) return;
  let current: AbortController | undefined;

  const status = {
    failed(err: Error, retryInMs: number): void {
      connection.className = 'error';
      connection.textContent = `${err.message}; retrying in ${Math.round(retryInMs / 1000)} s`;
    },
    ok(): void {
      connection.className = '';
      connection.textContent = '';
    },
  };

  const show = () => {
    current?.abort();
    current = new AbortController();
    const route = parseRoute(location.hash);
    for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
      a.classList.toggle('active', a.dataset['section'] === sectionOf(route));
    }
    const ctx: ViewContext = { main, signal: current.signal, connection: status, navigate: (hash) => { location.hash = hash; } };
    draw(ctx, route);
    document.title = `${titleOf(route)} · Muster`;
  };
  window.addEventListener('hashchange', show);
  if (location.hash === '') history.replaceState(null, '', '#/services');
  show();
}

function draw(ctx: ViewContext, r: Route): void {
  switch (r.view) {
    case 'services': servicesView(ctx); return;
    case 'service': serviceView(ctx, r.name); return;
    case 'nodes': nodesView(ctx); return;
    case 'node': nodeView(ctx, r.name); return;
    case 'members': membersView(ctx); return;
    case 'kv-folder': kvFolderView(ctx, r.prefix); return;
    case 'kv-key': kvKeyView(ctx, r.key); return;
  }
}

function titleOf(r: Route): string {
  switch (r.view) {
    case 'services': return 'Services';
    case 'service': return r.name;
    case 'nodes': return 'Nodes';
    case 'node': return r.name;
    case 'members': return 'Members';
    case 'kv-folder': return r.prefix || 'Key/Value';
    case 'kv-key': return r.key;
  }
}

start();
