import { get, poll } from '../api.js';
import { badge, el, fragment, table } from '../dom.js';
import type { ViewContext } from '../view.js';
import { memberStatus, type Member } from '../wire.js';

/** /v1/agent/members cannot block (as in Consul), so this view re-reads it every few seconds. */
const POLL_MS = 5000;

/** The gossip pool as this agent sees it. */
export function membersView(ctx: ViewContext): void {
  const count = el('span', { class: 'muted', testid: 'member-count' }, 'loading…');
  const body = el('tbody');
  ctx.main.replaceChildren(
    el('h1', {}, 'Members'),
    el('div', { class: 'toolbar' }, count),
    table(['Name', 'Address', 'Status', 'Role', 'Datacenter', 'Build'], body, 'members'),
  );
  poll(POLL_MS, ctx.signal, async () => {
    try {
      const a = await get<Member[]>('/v1/agent/members', ctx.signal);
      ctx.connection.ok();
      const list = a.body ?? [];
      count.textContent = `${list.length} ${list.length === 1 ? 'member' : 'members'}`;
      body.replaceChildren(fragment(list.map((m) => el('tr', { 'data-member': m.Name },
        el('td', {}, m.Name), el('td', {}, `${m.Addr}:${m.Port}`), el('td', {}, badge(memberStatus(m.Status))),
        el('td', {}, m.Tags['role'] === 'consul' ? 'server' : 'client'), el('td', {}, m.Tags['dc'] ?? ''),
        el('td', {}, m.Tags['build'] ?? ''),
      ))));
    } catch (err) {
      if (!ctx.signal.aborted) ctx.connection.failed(err instanceof Error ? err : new Error(String(err)), POLL_MS);
    }
  });
}
