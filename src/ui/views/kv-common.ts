import { ApiError } from '../api.js';
import { el, link } from '../dom.js';
import { href } from '../routes.js';

/** A KV value as the UI shows it: UTF-8 text, or binary (shown as base64, not editable). */
export type ShownValue = { kind: 'text'; text: string } | { kind: 'binary'; base64: string; bytes: number };

/** Decodes a KV entry's base64 `Value`: valid UTF-8 without NUL bytes is text. */
export function showValue(base64: string | null): ShownValue {
  if (base64 === null || base64 === '') return { kind: 'text', text: '' };
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (!text.includes('\u0000')) return { kind: 'text', text };
  } catch { /* not UTF-8: binary */ }
  return { kind: 'binary', base64, bytes: bytes.length };
}

/** Links to the key's folders: Key/Value / a / b / */
export function crumbs(key: string): HTMLElement {
  const p = el('p', { class: 'crumbs' }, link(href.kv(''), 'Key/Value'), el('span', {}, '/'));
  const parts = key.split('/');
  let prefix = '';
  for (let i = 0; i < parts.length - 1; i++) {
    prefix += `${parts[i] ?? ''}/`;
    p.append(link(href.kv(prefix), parts[i] ?? ''), el('span', {}, '/'));
  }
  return p;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.status ? `${err.message} (HTTP ${err.status})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
