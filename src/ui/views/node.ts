import { watch } from '../api.js';
import { el, fragment, link, metaList, notice, table, tags } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import type { NodeDump } from '../wire.js';
import { gossipBadge, membersByName } from './nodes.js';
import { checkList } from './service.js';

/** One node: address, gossip status, meta, its checks and its services. */
export function nodeView(ctx: ViewContext, name: string): void {
  const facts = el('div');
  const checks = el('div', { testid: 'node-checks' });
  const services = el('tbody');
  ctx.main.replaceChildren(
    el('p', { class: 'crumbs' }, link(href.nodes(), 'Nodes'), el('span', {}, '/')),
    el('h1', { testid: 'node-name' }, name),
    facts,
    el('h2', {}, 'Checks'), checks,
    el('h2', {}, 'Services'),
    table(['Service', 'ID', 'Address', 'Port', 'Tags'], services, 'node-services'),
  );
  let latest = 0; // as in the nodes view: only the newest answer is drawn
  watch<NodeDump>(`/v1/internal/ui/node/${encodeURIComponent(name)}`, ctx.signal, {
    data: (n) => {
      ctx.connection.ok();
      const seq = ++latest;
      void membersByName(ctx.signal).then((members) => {
        if (ctx.signal.aborted || seq !== latest) return;
        if (!n) {
          facts.replaceChildren(notice('info', `Node ${name} is not in the catalog.`));
          checks.replaceChildren();
          services.replaceChildren();
          return;
        }
        facts.replaceChildren(el('dl', { class: 'meta' },
          el('dt', {}, 'Address'), el('dd', {}, n.Address),
          el('dt', {}, 'Datacenter'), el('dd', {}, n.Datacenter),
          el('dt', {}, 'ID'), el('dd', {}, n.ID),
          el('dt', {}, 'Gossip'), el('dd', { testid: 'node-gossip' }, gossipBadge(members.get(n.Node))),
          el('dt', {}, 'Meta'), el('dd', {}, metaList(n.Meta)),
        ));
        checks.replaceChildren(checkList(n.Checks));
        services.replaceChildren(fragment(n.Services.map((s) => el('tr', {},
          el('td', {}, link(href.service(s.Service), s.Service)), el('td', {}, s.ID),
          el('td', {}, s.Address || n.Address), el('td', {}, String(s.Port)), el('td', {}, tags(s.Tags)),
        ))));
      });
    },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}
