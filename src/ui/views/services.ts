import { watch } from '../api.js';
import { badge, el, fragment, link, table, tags } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import type { ServiceSummary } from '../wire.js';

/** Rows drawn at most; a filter narrows the rest (the count always says how many match). */
const MAX_ROWS = 5000;

/**
 * Every service with its instance count and health, from one summary query
 * (`/v1/internal/ui/services`) kept open as a blocking query. Each answer or
 * filter change replaces the table body in a single DOM update.
 */
export function servicesView(ctx: ViewContext): void {
  const filter = el('input', { type: 'search', placeholder: 'Filter by name or tag', testid: 'service-filter', 'aria-label': 'Filter services' });
  const count = el('span', { class: 'muted', testid: 'service-count' }, 'loading…');
  const body = el('tbody');
  ctx.main.replaceChildren(
    el('h1', {}, 'Services'),
    el('div', { class: 'toolbar' }, filter, count),
    table(['Service', 'Instances', 'Health checks', 'Tags'], body, 'services'),
  );

  let services: ServiceSummary[] = [];
  const render = () => {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = words.length === 0 ? services : services.filter((s) => matches(s, words));
    count.textContent = shown.length === services.length
      ? `${services.length} services`
      : `${shown.length} of ${services.length} services`;
    body.replaceChildren(fragment(shown.slice(0, MAX_ROWS).map(row)));
  };
  filter.addEventListener('input', render);

  watch<ServiceSummary[]>('/v1/internal/ui/services', ctx.signal, {
    data: (list) => { ctx.connection.ok(); services = list ?? []; render(); },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}

function matches(s: ServiceSummary, words: string[]): boolean {
  const name = s.Name.toLowerCase();
  return words.every((w) => name.includes(w) || s.Tags.some((t) => t.toLowerCase().includes(w)));
}

function row(s: ServiceSummary): HTMLTableRowElement {
  const health = el('td');
  if (s.ChecksPassing) health.append(badge('passing', `${s.ChecksPassing} passing`));
  if (s.ChecksWarning) health.append(badge('warning', `${s.ChecksWarning} warning`));
  if (s.ChecksCritical) health.append(badge('critical', `${s.ChecksCritical} critical`));
  if (!s.ChecksPassing && !s.ChecksWarning && !s.ChecksCritical) health.append(el('span', { class: 'muted' }, 'no checks'));
  return el('tr', { 'data-service': s.Name },
    el('td', {}, link(href.service(s.Name), s.Name)),
    el('td', { 'data-instances': String(s.InstanceCount) }, `${s.InstanceCount} ${s.InstanceCount === 1 ? 'instance' : 'instances'}`),
    health,
    el('td', {}, tags(s.Tags)),
  );
}
