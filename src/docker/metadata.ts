import type { ContainerInspect } from './types.js';

/**
 * Registrator's `SERVICE_*` metadata of one container port, read from env and
 * labels (registrator's `serviceMetaData`):
 * - env entries in order, then labels (sorted by key here, where registrator
 *   used Go's random map order), each split on the first `=`;
 * - only keys with the case-sensitive prefix `SERVICE_`; the rest of the key is
 *   lowercased (`SERVICE_Region` and `SERVICE_REGION` are both `region`);
 * - `SERVICE_<n>_<key>` (n parses as an integer, like Go's Atoi) applies only
 *   to exposed port n (tcp and udp alike) and beats the generic `SERVICE_<key>`
 *   whatever the order; a port-like key whose rest is missing (`SERVICE_80=x`)
 *   is a generic key `80`; a non-numeric prefix (`SERVICE_WEB_NAME`) is a
 *   generic key `web_name`;
 * - at the same level the later entry wins, so labels beat env.
 */
export interface MetadataEntry {
  value: string;
  /** The env or label key as written (`SERVICE_80_CHECK_HTTP`), for warnings. */
  source: string;
}

export interface PortMetadata {
  /** Lowercased key (without `SERVICE_` and the port) → value; in first-seen order. */
  entries: Map<string, MetadataEntry>;
  /** Keys that were set by a `SERVICE_<port>_` entry. */
  fromPort: Set<string>;
}

const PREFIX = 'SERVICE_';
const GO_ATOI = /^[+-]?\d+$/;

/** The `key=value` list registrator reads: env first, then labels. */
function metadataSources(info: ContainerInspect): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const kv of info.Config.Env ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0) continue; // env entries without `=` carry no value
    out.push([kv.slice(0, eq), kv.slice(eq + 1)]);
  }
  const labels = info.Config.Labels ?? {};
  for (const key of Object.keys(labels).sort()) out.push([key, labels[key] ?? '']);
  return out;
}

export function readMetadata(info: ContainerInspect, exposedPort: string): PortMetadata {
  const entries = new Map<string, MetadataEntry>();
  const fromPort = new Set<string>();
  for (const [rawKey, value] of metadataSources(info)) {
    if (!rawKey.startsWith(PREFIX)) continue;
    const key = rawKey.slice(PREFIX.length).toLowerCase();
    // Registrator checks the full key here, so this only stops generic keys.
    if (fromPort.has(key)) continue;
    const sep = key.indexOf('_');
    const head = sep < 0 ? key : key.slice(0, sep);
    if (sep >= 0 && GO_ATOI.test(head)) {
      if (head !== exposedPort) continue;
      const rest = key.slice(sep + 1);
      entries.set(rest, { value, source: rawKey });
      fromPort.add(rest);
    } else {
      entries.set(key, { value, source: rawKey });
    }
  }
  return { entries, fromPort };
}

/** A metadata value, with "" meaning "not set" (as registrator's mapDefault). */
export function metaValue(md: PortMetadata, key: string): string | undefined {
  const v = md.entries.get(key)?.value;
  return v === undefined || v === '' ? undefined : v;
}

/** The env/label key a metadata key came from, or the canonical `SERVICE_<KEY>`. */
export function metaSource(md: PortMetadata, key: string): string {
  return md.entries.get(key)?.source ?? `${PREFIX}${key.toUpperCase()}`;
}

const FALSY = /^(false|0|no|off)$/i;

/**
 * Registrator treats any non-empty value as true (`SERVICE_IGNORE=false`
 * ignores the container). Here `false`, `0`, `no` and `off` mean false.
 */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && !FALSY.test(value.trim());
}

/**
 * Splits a tag list on commas not preceded by a backslash; `\,` is a literal
 * comma, empty parts are dropped, nothing is trimmed (as registrator). Unlike
 * registrator the parts keep the order they were written in.
 */
export function splitTags(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as string;
    if (c === '\\' && list[i + 1] === ',') { cur += ','; i++; continue; }
    if (c === ',') { if (cur !== '') out.push(cur); cur = ''; continue; }
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** Keys that configure the mapping itself and are never copied into Meta. */
const NOT_META = new Set(['id', 'name', 'tags', 'ignore', 'ip', 'network']);
const META_KEY = /^[a-zA-Z0-9_-]+$/;
/** Consul's limits on service Meta (structs.ValidateServiceMetadata). */
export const META_MAX_PAIRS = 64;
export const META_MAX_KEY_LENGTH = 128;
export const META_MAX_VALUE_LENGTH = 512;

export interface MetaProblem { key: string; message: string }

/**
 * The service Meta: every non-special attribute (registrator's Attrs) except
 * `check_*` (they configure the check) and the keys in NOT_META. Entries Consul
 * would reject (and so fail the whole registration) are dropped and reported.
 * `reserved` holds the owner marks, which always win and count against the limit.
 */
export function buildMeta(md: PortMetadata, reserved: Record<string, string>): { meta: Record<string, string>; problems: MetaProblem[] } {
  const problems: MetaProblem[] = [];
  const meta: Record<string, string> = {};
  let room = META_MAX_PAIRS - Object.keys(reserved).length;
  for (const key of [...md.entries.keys()].sort()) {
    const entry = md.entries.get(key);
    if (entry === undefined || NOT_META.has(key) || key.startsWith('check_')) continue;
    const drop = (why: string): void => { problems.push({ key: entry.source, message: `meta key "${key}" dropped: ${why}` }); };
    if (!META_KEY.test(key)) drop('only letters, digits, "_" and "-" are allowed');
    else if (key.length > META_MAX_KEY_LENGTH) drop(`longer than ${META_MAX_KEY_LENGTH} characters`);
    else if (key.startsWith('consul-')) drop('the "consul-" prefix is reserved');
    else if (Object.hasOwn(reserved, key)) drop('reserved for the sidecar');
    else if (entry.value.length > META_MAX_VALUE_LENGTH) drop(`value longer than ${META_MAX_VALUE_LENGTH} characters`);
    else if (room <= 0) drop(`more than ${META_MAX_PAIRS} meta pairs`);
    else { meta[key] = entry.value; room--; }
  }
  return { meta: { ...meta, ...reserved }, problems };
}
