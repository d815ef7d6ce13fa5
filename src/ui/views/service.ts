import { watch } from '../api.js';
import { badge, el, fragment, link, metaList, notice, table, tags } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import { worstStatus, type Check, type ServiceEntry } from '../wire.js';

/** One service's instances: node, address, port, tags, meta and checks (`/v1/health/service/:name`). */
export function serviceView(ctx: ViewContext, name: string): void {
  const count = el('span', { class: 'muted', testid: 'instance-count' }, 'loading…');
  const body = el('tbody');
  const empty = el('div');
  ctx.main.replaceChildren(
    el('p', { class: 'crumbs' }, link(href.services(), 'Services'), el('span', {}, '/')),
    el('h1', { testid: 'service-name' }, name),
    el('div', { class: 'toolbar' }, count),
    empty,
    table(['Instance', 'Node', 'Address', 'Port', 'Tags', 'Meta', 'Checks'], body, 'instances'),
  );

  watch<ServiceEntry[]>(`/v1/health/service/${encodeURIComponent(name)}`, ctx.signal, {
    data: (list = []) => {
      ctx.connection.ok();
      count.textContent = `${list.length} ${list.length === 1 ? 'instance' : 'instances'}`;
      empty.replaceChildren(list.length === 0 ? notice('info', `No instances of ${name} are registered.`) : '');
      body.replaceChildren(fragment(list.map(row)));
    },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}

function row(e: ServiceEntry): HTMLTableRowElement {
  const s = e.Service;
  return el('tr', { 'data-instance': s.ID },
    el('td', {}, s.ID, ' ', badge(worstStatus(e.Checks.map((c) => c.Status)))),
    el('td', {}, link(href.node(e.Node.Node), e.Node.Node)),
    el('td', {}, s.Address || e.Node.Address),
    el('td', {}, String(s.Port)),
    el('td', {}, tags(s.Tags)),
    el('td', {}, metaList(s.Meta)),
    el('td', {}, checkList(e.Checks)),
  );
}

/** Checks with their status, name and output (used by the node view too). */
export function checkList(checks: Check[]): HTMLElement {
  if (checks.length === 0) return el('span', { class: 'muted' }, 'no checks');
  return el('div', {}, ...checks.map((c) => el('div', { class: 'check', 'data-check': c.CheckID },
    badge(c.Status), el('strong', {}, c.Name || c.CheckID),
    c.Output ? el('pre', { class: 'output' }, c.Output) : null,
  )));
}
