import { encodePath, get, request, watch } from '../api.js';
import { el, link, notice } from '../dom.js';
import { href } from '../routes.js';
import type { ViewContext } from '../view.js';
import type { KvEntry } from '../wire.js';
import { crumbs, errorText, showValue } from './kv-common.js';
import { parentOf } from './kv-folder.js';

/**
 * One key: its value in an editor. Saving and deleting send `?cas=` with the
 * ModifyIndex of the value the user loaded, so a change made meanwhile by
 * someone else is reported as a conflict (with the current value) instead of
 * being overwritten. The key is watched: a change made elsewhere replaces an
 * untouched editor, and only warns while the user has edits of their own.
 */
export function kvKeyView(ctx: ViewContext, key: string): void {
  const path = `/v1/kv/${encodePath(key)}`;
  const facts = el('span', { class: 'muted', testid: 'kv-index' });
  const message = el('div', { testid: 'kv-message' });
  const editor = el('textarea', { testid: 'kv-value', 'aria-label': 'Value' });
  const save = el('button', { type: 'button', class: 'primary', testid: 'kv-save' }, 'Save');
  const del = el('button', { type: 'button', class: 'danger', testid: 'kv-delete' }, 'Delete…');
  const actions = el('div', { class: 'actions' }, save, del);
  ctx.main.replaceChildren(crumbs(key), el('h1', { testid: 'kv-key' }, key), facts, message, editor, actions);

  /** The entry the editor was loaded from: its ModifyIndex is what a save or delete must still match. */
  let loaded: KvEntry | undefined;
  let loadedText = '';
  /**
   * The ModifyIndex (0: deleted) that the conflict notice on screen reports: the watch, which
   * often hears of the same change just after the refused save, must not replace that notice
   * and its "Load the current value" button with its vaguer warning.
   */
  let conflictShown: number | undefined;

  const load = (entry: KvEntry | undefined) => {
    loaded = entry;
    conflictShown = undefined;
    if (!entry) {
      editor.value = '';
      editor.readOnly = true;
      save.disabled = true;
      del.disabled = true;
      facts.textContent = '';
      message.replaceChildren(notice('info', `${key} does not exist (any more). `, link(href.kv(parentOf(key)), 'Back to the folder'), ' to create it.'));
      return;
    }
    const v = showValue(entry.Value);
    facts.textContent = `ModifyIndex ${entry.ModifyIndex} · flags ${entry.Flags}${entry.Session ? ` · locked by session ${entry.Session}` : ''}`;
    del.disabled = false;
    if (v.kind === 'text') {
      loadedText = v.text;
      editor.value = v.text;
      editor.readOnly = false;
      save.disabled = false;
    } else {
      loadedText = v.base64;
      editor.value = v.base64;
      editor.readOnly = true;
      save.disabled = true;
      message.replaceChildren(notice('info', `Binary value (${v.bytes} bytes), shown as base64: it can be deleted but not edited here.`));
    }
  };

  const conflict = async (what: 'saved' | 'deleted') => {
    const current = (await get<KvEntry[]>(path)).body?.[0];
    const reload = el('button', { type: 'button', testid: 'kv-reload' }, 'Load the current value');
    reload.addEventListener('click', () => { message.replaceChildren(); load(current); });
    const since = loaded ? ` (you loaded ModifyIndex ${loaded.ModifyIndex}` : ' (';
    conflictShown = current?.ModifyIndex ?? 0;
    if (!current) {
      message.replaceChildren(notice('conflict', `Conflict: not ${what}. ${key} was deleted by someone else since you loaded it${since}).`));
      return;
    }
    const v = showValue(current.Value);
    message.replaceChildren(notice('conflict',
      el('strong', {}, `Conflict: not ${what}. `),
      `${key} was changed by someone else since you loaded it${since}, it is now ${current.ModifyIndex}). Its current value:`,
      el('pre', { testid: 'kv-current-value' }, v.kind === 'text' ? v.text : `(binary, ${v.bytes} bytes) ${v.base64}`),
      'Your edit is still in the editor. ', reload,
    ));
  };

  save.addEventListener('click', () => {
    if (!loaded) return;
    const flags = loaded.Flags ? `&flags=${loaded.Flags}` : ''; // a PUT without ?flags would reset them to 0
    const text = editor.value;
    save.disabled = true;
    request<boolean>('PUT', `${path}?cas=${loaded.ModifyIndex}${flags}`, { body: text })
      .then(async (a) => {
        if (a.body !== true) { await conflict('saved'); return; }
        loadedText = text;
        const now = (await get<KvEntry[]>(path)).body?.[0];
        if (now && showValue(now.Value).kind === 'text' && editor.value === text) load(now);
        message.replaceChildren(notice('ok', `Saved ${key}.`));
      })
      .catch((err: unknown) => { message.replaceChildren(notice('error', `Could not save ${key}: ${errorText(err)}`)); })
      .finally(() => { save.disabled = loaded === undefined || editor.readOnly; });
  });

  del.addEventListener('click', () => {
    const yes = el('button', { type: 'button', class: 'danger', testid: 'kv-confirm-delete' }, 'Delete');
    const no = el('button', { type: 'button', testid: 'kv-cancel-delete' }, 'Cancel');
    actions.replaceChildren(notice('conflict', `Delete ${key}?`, ' ', yes, ' ', no));
    no.addEventListener('click', () => actions.replaceChildren(save, del));
    yes.addEventListener('click', () => {
      if (!loaded) return;
      yes.disabled = true;
      request<boolean>('DELETE', `${path}?cas=${loaded.ModifyIndex}`)
        .then(async (a) => {
          if (a.body === true) { ctx.navigate(href.kv(parentOf(key))); return; }
          actions.replaceChildren(save, del);
          await conflict('deleted');
        })
        .catch((err: unknown) => {
          actions.replaceChildren(save, del);
          message.replaceChildren(notice('error', `Could not delete ${key}: ${errorText(err)}`));
        });
    });
  });

  let first = true;
  watch<KvEntry[]>(path, ctx.signal, {
    data: (list) => {
      ctx.connection.ok();
      const entry = list?.[0];
      if (first) { first = false; load(entry); return; }
      if (entry?.ModifyIndex === loaded?.ModifyIndex) return;
      if ((entry?.ModifyIndex ?? 0) === conflictShown) return; // the notice on screen already tells of it
      const v = entry ? showValue(entry.Value) : undefined;
      const untouched = editor.value === loadedText;
      const same = v?.kind === 'text' && v.text === editor.value; // our own save coming back
      if (untouched || same) { load(entry); return; }
      message.replaceChildren(notice('conflict',
        `${key} was ${entry ? 'changed' : 'deleted'} by someone else while you were editing. Saving now will report a conflict.`));
    },
    error: (err, retry) => ctx.connection.failed(err, retry),
  });
}
