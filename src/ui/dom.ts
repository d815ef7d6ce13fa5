/**
 * Building DOM without HTML strings: every piece of user data (keys, values,
 * service names, tags, check output) becomes a text node or a property, so
 * nothing it contains is ever parsed as markup.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  class?: string;
  href?: string;
  title?: string;
  type?: string;
  placeholder?: string;
  role?: string;
  /** `data-testid`: stable handles for the browser tests. */
  testid?: string;
  [attr: `data-${string}`]: string;
  [attr: `aria-${string}`]: string;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    e.setAttribute(name === 'testid' ? 'data-testid' : name, String(value));
  }
  append(e, children);
  return e;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** A fragment of children, to swap a whole list in one DOM update. */
export function fragment(children: Child[]): DocumentFragment {
  const f = document.createDocumentFragment();
  append(f, children);
  return f;
}

/** A link to a view of this page (`#/...`). */
export function link(hash: string, ...children: Child[]): HTMLAnchorElement {
  return el('a', { href: hash }, ...children);
}

export function badge(status: string, label: string = status): HTMLSpanElement {
  return el('span', { class: `badge ${status}` }, label);
}

export function tags(list: readonly string[]): DocumentFragment {
  return fragment(list.map((t) => el('span', { class: 'tag' }, t)));
}

export function metaList(meta: Readonly<Record<string, string>>): HTMLElement | string {
  const entries = Object.entries(meta).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (entries.length === 0) return '';
  return el('dl', { class: 'meta' }, ...entries.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

export function table(headings: string[], body: HTMLTableSectionElement, testid?: string): HTMLTableElement {
  const t = el('table', testid ? { testid } : {});
  t.append(el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', {}, h)))), body);
  return t;
}

export function notice(kind: 'error' | 'conflict' | 'ok' | 'info', ...children: Child[]): HTMLDivElement {
  return el('div', { class: `notice ${kind}`, role: kind === 'error' || kind === 'conflict' ? 'alert' : 'status' }, ...children);
}
