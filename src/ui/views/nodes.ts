import { get, watch } from '../api.js';
import { badge, el, fragment, link, table } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import { memberStatus, type Member, type NodeDump } from '../wire.js';

/**
 * Every catalog node with its gossip status and checks. The catalog
 * (`/v1/internal/ui/nodes`) is the blocking query; a gossip change that
 * matters reaches the catalog as its serfHealth check, and each answer
 * re-reads the members for their status.
 */
export function nodesView(ctx: ViewContext): void {
  const count = el('span', { class: 'muted', testid: 'node-count' }, 'loading…');
  const body = el('tbody');
  ctx.main.replaceChildren(
    el('h1', {}, 'Nodes'),
    el('div', { class: 'toolbar' }, count),
    table(['Node', 'Address', 'Gossip', 'Checks', 'Services'], body, 'nodes'),
  );
  let latest = 0; // answers are drawn in order: an older one whose members read finishes late is dropped
  watch<NodeDump[]>('/v1/internal/ui/nodes', ctx.signal, {
    data: (nodes = []) => {
      ctx.connection.ok();
      const seq = ++latest;
      void membersByName(ctx.signal).then((members) => {
        if (ctx.signal.aborted || seq !== latest) return;
        count.textContent = `${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'}`;
        body.replaceChildren(fragment(nodes.map((n) => row(n, members.get(n.Node)))));
      });
    },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}

/** The gossip pool's members by name; empty when they cannot be read (the status then says unknown). */
export async function membersByName(signal: AbortSignal): Promise<Map<string, Member>> {
  try {
    const a = await get<Member[]>('/v1/agent/members', signal);
    return new Map((a.body ?? []).map((m) => [m.Name, m]));
  } catch {
    return new Map();
  }
}

export function gossipBadge(m: Member | undefined): HTMLElement {
  return m ? badge(memberStatus(m.Status)) : badge('none', 'not a member');
}

function row(n: NodeDump, m: Member | undefined): HTMLTableRowElement {
  const counts = new Map<string, number>();
  for (const c of n.Checks) counts.set(c.Status, (counts.get(c.Status) ?? 0) + 1);
  return el('tr', { 'data-node': n.Node },
    el('td', {}, link(href.node(n.Node), n.Node)),
    el('td', {}, n.Address),
    el('td', {}, gossipBadge(m)),
    el('td', {}, ...[...counts].map(([status, k]) => badge(status, `${k} ${status}`))),
    el('td', {}, String(n.Services.length)),
  );
}
