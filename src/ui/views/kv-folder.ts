import { encodePath, request, watch } from '../api.js';
import { el, fragment, link, notice, table } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import { crumbs, errorText } from './kv-common.js';

/**
 * A folder of the key/value store: its keys and sub-folders (`?keys&separator=/`,
 * a blocking query), a form that creates a key (or a folder key ending in '/')
 * only if it does not exist yet (`?cas=0`), and a confirmed recursive delete.
 */
export function kvFolderView(ctx: ViewContext, prefix: string): void {
  const body = el('tbody');
  const count = el('span', { class: 'muted', testid: 'kv-count' }, 'loading…');
  const message = el('div', { testid: 'kv-message' });
  const name = el('input', { type: 'text', placeholder: 'key name, or folder/ to make a folder', testid: 'kv-new-key', 'aria-label': 'New key name' });
  const value = el('textarea', { placeholder: 'value', testid: 'kv-new-value', 'aria-label': 'New value' });
  const create = el('button', { type: 'submit', class: 'primary', testid: 'kv-create' }, 'Create');
  const form = el('form', { class: 'inline' }, el('span', { class: 'muted' }, prefix), name, value, create);
  const tools = el('div', { class: 'actions' });
  ctx.main.replaceChildren(
    crumbs(prefix),
    el('h1', {}, prefix === '' ? 'Key/Value' : prefix),
    form, message,
    el('div', { class: 'toolbar' }, count),
    table(['Key', ''], body, 'kv-keys'),
    tools,
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const rel = name.value.trim();
    if (rel === '' || rel === '/') { message.replaceChildren(notice('error', 'Give the key a name.')); return; }
    const key = prefix + rel;
    const isFolder = key.endsWith('/');
    create.disabled = true;
    request<boolean>('PUT', `/v1/kv/${encodePath(key)}?cas=0`, { body: isFolder ? '' : value.value })
      .then((a) => {
        if (a.body === true) {
          name.value = '';
          value.value = '';
          if (isFolder) message.replaceChildren(notice('ok', `Created folder ${key}`));
          else ctx.navigate(href.kv(key));
        } else {
          message.replaceChildren(notice('conflict', `${key} already exists: `, link(href.kv(key), 'open it'), ' to edit it.'));
        }
      })
      .catch((err: unknown) => { message.replaceChildren(notice('error', `Could not create ${key}: ${errorText(err)}`)); })
      .finally(() => { create.disabled = false; });
  });

  if (prefix !== '') {
    const del = el('button', { type: 'button', class: 'danger', testid: 'kv-delete-folder' }, 'Delete folder…');
    del.addEventListener('click', () => {
      const yes = el('button', { type: 'button', class: 'danger', testid: 'kv-confirm-delete' }, 'Delete');
      const no = el('button', { type: 'button' }, 'Cancel');
      tools.replaceChildren(notice('conflict', `Delete ${prefix} and every key under it?`, ' ', yes, ' ', no));
      no.addEventListener('click', () => tools.replaceChildren(del));
      yes.addEventListener('click', () => {
        request<boolean>('DELETE', `/v1/kv/${encodePath(prefix)}?recurse`)
          .then(() => ctx.navigate(href.kv(parentOf(prefix))))
          .catch((err: unknown) => { tools.replaceChildren(notice('error', `Could not delete: ${errorText(err)}`), del); });
      });
    });
    tools.replaceChildren(del);
  }

  watch<string[]>(`/v1/kv/${encodePath(prefix)}?keys&separator=/`, ctx.signal, {
    data: (keys = []) => {
      ctx.connection.ok();
      const children = keys.filter((k) => k !== prefix);
      count.textContent = `${children.length} ${children.length === 1 ? 'entry' : 'entries'}`;
      body.replaceChildren(fragment(children.map((k) => el('tr', { 'data-key': k },
        el('td', {}, link(href.kv(k), k.slice(prefix.length))),
        el('td', { class: 'muted' }, k.endsWith('/') ? 'folder' : ''),
      ))));
    },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}

/** 'a/b/' → 'a/', 'a/b' → 'a/', 'a' → ''. */
export function parentOf(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}
