import { isUtf8 } from 'node:buffer';
import type { RememberedOutcome } from './requests.js';
import { MusterError } from '../errors.js';
import type { CheckType, HealthStatus } from '../agent/definition.js';
import type { StateStore } from './store.js';
import type { KvEntry } from './kv.js';
import type { SessionRow } from './sessions.js';
import type { CheckRow, CheckRowDefinition, NodeRow, ServiceRow } from './types.js';

/**
 * Snapshot and restore of the whole state machine, for Raft to compact its
 * log and to bring a lagging follower up to date.
 *
 * The format is JSON in UTF-8:
 *
 * ```
 * { version, index,
 *   catalog: { indexes: [[table, index]], nodes: [NodeRow], services: [ServiceRow], checks: [CheckRow] },
 *   kv: { index, entries: [{ key, value (base64), flags (decimal), lockIndex, session, createIndex, modifyIndex }],
 *         tombstones: [[key, index]], lockDelays: [[key, untilMs]] },
 *   sessions: { index, sessions: [SessionRow] } }
 * ```
 *
 * Every table is written in key order, except that a node's services and
 * checks keep the order the log created them in (a deregister reports the
 * checks it removes in that order); every row has its fields in one fixed
 * order (records such as `meta` keep their own order, which the API shows).
 * So servers that applied the same log write the same bytes, and a restored
 * store answers every query and every further command exactly as one that
 * replayed the log. What is derived — key orders, the keys each session holds, the per-node
 * row maps — is rebuilt on restore. A snapshot is checked completely before
 * the store is touched, and `snapshotStore` checks its own output the same
 * way, so a snapshot that was written can always be installed.
 */
export const SNAPSHOT_VERSION = 1;

/** The store's content as the snapshot holds it (what restore installs). */
interface StoreImage {
  index: number;
  catalog: { indexes: Array<[string, number]>; nodes: NodeRow[]; services: ServiceRow[]; checks: CheckRow[] };
  kv: { index: number; entries: KvEntry[]; tombstones: Array<[string, number]>; lockDelays: Array<[string, number]> };
  sessions: { index: number; sessions: SessionRow[] };
  requests: Array<[string, RememberedOutcome]>;
}

/**
 * The store at one index, taken at once (captureStore) and written out later
 * in pieces (snapshotPieces), while the store goes on applying commands. What
 * it holds cannot change after the capture: the catalog and the sessions,
 * whose rows are changed in place, are encoded at once (they are small: a
 * row per node, service, check and session); KV rows and request-log rows are
 * replaced, never changed, so it keeps the rows themselves, which are most of
 * a large state.
 */
export interface StoreCapture {
  /** The JSON up to the KV entries' opening bracket. */
  readonly head: string;
  readonly entries: readonly KvEntry[];
  /** From the KV entries' closing bracket to the request log's opening one. */
  readonly middle: string;
  readonly requests: ReadonlyArray<[string, RememberedOutcome]>;
  /** What the KV rows are checked against as they are written: the snapshot's index and sessions. */
  readonly index: number;
  readonly sessionIds: ReadonlySet<string>;
}

/** Rows encoded into one piece: about 0.5 MB of JSON with 256-byte values, a few ms of work. */
const ROWS_PER_PIECE = 1000;

/**
 * Takes the image of `store` now: the catalog, sessions, tombstones and
 * lock-delays checked as restore would check them and encoded, the KV rows
 * and request-log rows kept (a reference per row; the KV rows are checked as
 * they are written). Throws ERR_INTERNAL when the store could not be restored
 * from what it would write.
 */
export function captureStore(store: StateStore): StoreCapture {
  const catalog = store.catalog.dump();
  const kv = store.kv.dump();
  const sessions = store.sessions.dump();
  const wire = {
    version: SNAPSHOT_VERSION,
    index: store.index,
    catalog: {
      indexes: [...catalog.indexes].sort(byFirst),
      nodes: catalog.nodes.map(nodeRow).sort((a, b) => cmp(a.node, b.node)),
      // a stable sort: each node's rows stay in the store's order
      services: catalog.services.map(serviceRow).sort((a, b) => cmp(a.node, b.node)),
      checks: catalog.checks.map(checkRow).sort((a, b) => cmp(a.node, b.node)),
    },
    // the entries are checked below, without decoding their values again
    kv: { index: kv.index, entries: [], tombstones: [...kv.tombstones].sort(byFirst), lockDelays: [...kv.lockDelays].sort(byFirst) },
    sessions: { index: sessions.index, sessions: sessions.sessions.map(sessionRow) },
    requests: [],
  };
  let sessionIds: Set<string>;
  try {
    const image = readImage(wire);
    sessionIds = new Set(image.sessions.sessions.map((r) => r.id));
    for (const [key] of image.kv.tombstones) if (store.kv.get(key)) throw invalid('kv.tombstones', `tombstone of live key "${key}"`);
  } catch (err) {
    throw cannotSnapshot(err);
  }
  const j = JSON.stringify;
  return {
    head: `{"version":${j(wire.version)},"index":${j(wire.index)},"catalog":${j(wire.catalog)},"kv":{"index":${j(wire.kv.index)},"entries":[`,
    entries: kv.entries,
    middle: `],"tombstones":${j(wire.kv.tombstones)},"lockDelays":${j(wire.kv.lockDelays)}},"sessions":${j(wire.sessions)},"requests":[`,
    // Apply order matters (pruning walks it), so it is kept as is. The log's own rows, already
    // {at, outcome} in that order, are written as they are: a busy server holds 100,000 of them.
    requests: store.requests.dump(),
    index: wire.index,
    sessionIds,
  };
}

function cannotSnapshot(err: unknown): MusterError {
  return new MusterError('ERR_INTERNAL', `the store cannot be snapshotted: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * The snapshot's bytes in pieces of at most ROWS_PER_PIECE rows; joined, they
 * are the JSON of the whole image (the same bytes as one JSON.stringify of it).
 * A KV row that restore would refuse throws ERR_INTERNAL as it comes.
 */
export function* snapshotPieces(cap: StoreCapture): Generator<Buffer> {
  const rows = function* <T>(list: readonly T[], encode: (row: T, i: number) => unknown): Generator<Buffer> {
    for (let from = 0; from < list.length; from += ROWS_PER_PIECE) {
      let piece = from === 0 ? '' : ',';
      const to = Math.min(list.length, from + ROWS_PER_PIECE);
      for (let i = from; i < to; i++) piece += (i === from ? '' : ',') + JSON.stringify(encode(list[i] as T, i));
      yield Buffer.from(piece, 'utf8');
    }
  };
  const entries = cap.entries;
  const checked = (e: KvEntry, i: number) => {
    try {
      checkKvEntry(e, `kv.entries[${i}]`, cap.index, cap.sessionIds);
      const prev = entries[i - 1];
      if (prev && cmp(prev.key, e.key) >= 0) throw invalid(`kv.entries[${i}]`, `out of order or duplicate (${JSON.stringify(e.key)} after ${JSON.stringify(prev.key)})`);
    } catch (err) {
      throw cannotSnapshot(err);
    }
    return kvEntry(e);
  };
  yield Buffer.from(cap.head, 'utf8');
  yield* rows(entries, checked);
  yield Buffer.from(cap.middle, 'utf8');
  yield* rows(cap.requests, (r) => r);
  yield Buffer.from(']}', 'utf8');
}

/** Encodes every table of `store`, and its applied index, at once. Deterministic: the same state gives the same bytes. */
export function snapshotStore(store: StateStore): Uint8Array {
  return Buffer.concat([...snapshotPieces(captureStore(store))]);
}

/**
 * The same bytes as snapshotStore, of the store as it is now, written out in
 * slices of about `sliceMs` of work with a turn of the event loop between
 * them: a large state (100,000 keys: 54 MB, over 0.5 s to encode) no longer
 * holds a server's heartbeats and requests behind it.
 */
export function snapshotStoreInTurns(store: StateStore, opts: { sliceMs?: number } = {}): Promise<Uint8Array> {
  let pieces: Generator<Buffer>;
  try {
    pieces = snapshotPieces(captureStore(store));
  } catch (err) {
    return Promise.reject(err);
  }
  const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  return (async () => {
    const out: Buffer[] = [];
    let sliceStart = performance.now();
    for (const piece of pieces) {
      out.push(piece);
      if (performance.now() - sliceStart >= sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    return Buffer.concat(out);
  })();
}

const DEFAULT_SLICE_MS = 5;

/**
 * Replaces the content of `store` with the snapshot's, in place (listeners
 * stay attached and hear of the restore, at the snapshot's index). Throws
 * MusterError ERR_INTERNAL, leaving the store as it was, when `data` is not
 * a well-formed snapshot of this version.
 */
export function restoreStore(store: StateStore, data: Uint8Array): void {
  const image = decodeSnapshot(data);
  store.catalog.restore(image.catalog);
  store.kv.restore(image.kv);
  store.sessions.restore(image.sessions);
  store.requests.restore(image.requests);
  store.restoreIndex(image.index);
}

function decodeSnapshot(data: Uint8Array): StoreImage {
  if (!(data instanceof Uint8Array)) throw invalid('', 'expected bytes');
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!isUtf8(bytes)) throw invalid('', 'not UTF-8 text');
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid('', `not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return readImage(raw);
}

// ---- writing: rows with their fields in one fixed order, and nothing else ----

function nodeRow(n: NodeRow): NodeRow {
  return {
    id: n.id, node: n.node, address: n.address, datacenter: n.datacenter, taggedAddresses: n.taggedAddresses,
    meta: n.meta, createIndex: n.createIndex, modifyIndex: n.modifyIndex,
  };
}

function serviceRow(s: ServiceRow): ServiceRow {
  return {
    node: s.node, id: s.id, service: s.service, tags: s.tags, address: s.address, port: s.port, meta: s.meta,
    weights: { passing: s.weights.passing, warning: s.weights.warning }, enableTagOverride: s.enableTagOverride,
    createIndex: s.createIndex, modifyIndex: s.modifyIndex,
  };
}

function checkRow(c: CheckRow): CheckRow {
  return {
    node: c.node, checkId: c.checkId, name: c.name, status: c.status, notes: c.notes, output: c.output,
    serviceId: c.serviceId, serviceName: c.serviceName, serviceTags: c.serviceTags, type: c.type,
    definition: Object.fromEntries(Object.entries(c.definition).filter(([, v]) => v !== undefined)),
    createIndex: c.createIndex, modifyIndex: c.modifyIndex,
  };
}

/** A KV entry as written: the value in base64, the flags (a uint64) in decimal. */
function kvEntry(e: KvEntry): Omit<KvEntry, 'value' | 'flags'> & { value: string; flags: string } {
  return {
    key: e.key, value: e.value.toString('base64'), flags: e.flags.toString(), lockIndex: e.lockIndex, session: e.session,
    createIndex: e.createIndex, modifyIndex: e.modifyIndex,
  };
}

function sessionRow(s: SessionRow): SessionRow {
  return {
    id: s.id, name: s.name, node: s.node, nodeChecks: s.nodeChecks,
    serviceChecks: s.serviceChecks.map((c) => ({ id: c.id, namespace: c.namespace })),
    lockDelayMs: s.lockDelayMs, behavior: s.behavior, ttl: s.ttl, createIndex: s.createIndex, modifyIndex: s.modifyIndex,
  };
}

// ---- reading: every field checked, every row built afresh, cross-table rules checked ----

const HEALTH = { passing: true, warning: true, critical: true, maintenance: true } satisfies Record<HealthStatus, true>;
const CHECK_TYPES = {
  http: true, tcp: true, ttl: true, script: true, grpc: true, docker: true, alias: true, '': true,
} satisfies Record<CheckType, true>;
const BEHAVIORS = { release: true, delete: true } satisfies Record<SessionRow['behavior'], true>;
const DEFINITION_STRINGS = { http: true, tcp: true } satisfies Partial<Record<keyof CheckRowDefinition, true>>;

function readImage(raw: unknown): StoreImage {
  const top = obj(raw, 'snapshot', ['version', 'index', 'catalog', 'kv', 'sessions', 'requests'], { versionFirst: true });
  const index = int(top.index, 'index');
  const upTo = (v: unknown, path: string, field?: string): number => indexUpTo(v, index, path, field);
  const rowIndexes = (r: Record<string, unknown>, path: string) => rowIndexesUpTo(r, index, path);

  // catalog
  const cat = obj(top.catalog, 'catalog', ['indexes', 'nodes', 'services', 'checks']);
  const indexes = pairs(cat.indexes, 'catalog.indexes', upTo);
  const nodes = rows(cat.nodes, 'catalog.nodes', (r, path): NodeRow => {
    const o = obj(r, path, ['id', 'node', 'address', 'datacenter', 'taggedAddresses', 'meta', 'createIndex', 'modifyIndex']);
    return {
      id: str(o.id, path, 'id'), node: str(o.node, path, 'node'), address: str(o.address, path, 'address'),
      datacenter: str(o.datacenter, path, 'datacenter'), taggedAddresses: strRecord(o.taggedAddresses, path, 'taggedAddresses'),
      meta: strRecord(o.meta, path, 'meta'), ...rowIndexes(o, path),
    };
  }, (n) => [n.node], 'sorted');
  const nodeNames = new Set(nodes.map((n) => n.node));
  const services = rows(cat.services, 'catalog.services', (r, path): ServiceRow => {
    const o = obj(r, path, ['node', 'id', 'service', 'tags', 'address', 'port', 'meta', 'weights', 'enableTagOverride', 'createIndex', 'modifyIndex']);
    const w = obj(o.weights, `${path}.weights`, ['passing', 'warning']);
    const row: ServiceRow = {
      node: str(o.node, path, 'node'), id: str(o.id, path, 'id'), service: str(o.service, path, 'service'),
      tags: strList(o.tags, path, 'tags'), address: str(o.address, path, 'address'), port: num(o.port, path, 'port'),
      meta: strRecord(o.meta, path, 'meta'), weights: { passing: num(w.passing, path, 'weights.passing'), warning: num(w.warning, path, 'weights.warning') },
      enableTagOverride: bool(o.enableTagOverride, path, 'enableTagOverride'), ...rowIndexes(o, path),
    };
    if (!nodeNames.has(row.node)) throw invalid(path, `service on unknown node "${row.node}"`);
    return row;
  }, (s) => [s.node, s.id], 'grouped');
  const serviceKeys = new Set(services.map((s) => `${s.node}\0${s.id}`));
  const checks = rows(cat.checks, 'catalog.checks', (r, path): CheckRow => {
    const o = obj(r, path, ['node', 'checkId', 'name', 'status', 'notes', 'output', 'serviceId', 'serviceName', 'serviceTags', 'type', 'definition', 'createIndex', 'modifyIndex']);
    const row: CheckRow = {
      node: str(o.node, path, 'node'), checkId: str(o.checkId, path, 'checkId'), name: str(o.name, path, 'name'),
      status: oneOf(o.status, HEALTH, path, 'status'), notes: str(o.notes, path, 'notes'), output: str(o.output, path, 'output'),
      serviceId: str(o.serviceId, path, 'serviceId'), serviceName: str(o.serviceName, path, 'serviceName'),
      serviceTags: strList(o.serviceTags, path, 'serviceTags'), type: oneOf(o.type, CHECK_TYPES, path, 'type'),
      definition: definition(o.definition, path, 'definition'), ...rowIndexes(o, path),
    };
    if (!nodeNames.has(row.node)) throw invalid(path, `check on unknown node "${row.node}"`);
    if (row.serviceId && !serviceKeys.has(`${row.node}\0${row.serviceId}`)) throw invalid(path, `check of unknown service "${row.serviceId}"`);
    return row;
  }, (c) => [c.node, c.checkId], 'grouped');

  // sessions
  const ses = obj(top.sessions, 'sessions', ['index', 'sessions']);
  const sessions = rows(ses.sessions, 'sessions.sessions', (r, path): SessionRow => {
    const o = obj(r, path, ['id', 'name', 'node', 'nodeChecks', 'serviceChecks', 'lockDelayMs', 'behavior', 'ttl', 'createIndex', 'modifyIndex']);
    const row: SessionRow = {
      id: str(o.id, path, 'id'), name: str(o.name, path, 'name'), node: str(o.node, path, 'node'),
      nodeChecks: strList(o.nodeChecks, path, 'nodeChecks'),
      serviceChecks: list(o.serviceChecks, `${path}.serviceChecks`).map((c, i) => {
        const p = `${path}.serviceChecks[${i}]`;
        const sc = obj(c, p, ['id', 'namespace']);
        return { id: str(sc.id, p, 'id'), namespace: str(sc.namespace, p, 'namespace') };
      }),
      lockDelayMs: num(o.lockDelayMs, path, 'lockDelayMs'), behavior: oneOf(o.behavior, BEHAVIORS, path, 'behavior'),
      ttl: str(o.ttl, path, 'ttl'), ...rowIndexes(o, path),
    };
    if (!nodeNames.has(row.node)) throw invalid(path, `session on unknown node "${row.node}"`);
    return row;
  }, (s) => [s.id], 'sorted');
  const sessionIds = new Set(sessions.map((s) => s.id));

  // kv
  const kvo = obj(top.kv, 'kv', ['index', 'entries', 'tombstones', 'lockDelays']);
  const entries = rows(kvo.entries, 'kv.entries', (r, path): KvEntry => {
    const o = obj(r, path, ['key', 'value', 'flags', 'lockIndex', 'session', 'createIndex', 'modifyIndex']);
    const row: KvEntry = {
      key: str(o.key, path, 'key'), value: base64(o.value, path, 'value'), flags: decimal(o.flags, path, 'flags'),
      lockIndex: int(o.lockIndex, path, 'lockIndex'), session: str(o.session, path, 'session'), ...rowIndexes(o, path),
    };
    checkLockHolder(row, path, sessionIds);
    return row;
  }, (e) => [e.key], 'sorted');
  const liveKeys = new Set(entries.map((e) => e.key));
  const tombstones = pairs(kvo.tombstones, 'kv.tombstones', upTo);
  for (const [key] of tombstones) if (liveKeys.has(key)) throw invalid('kv.tombstones', `tombstone of live key "${key}"`);
  const lockDelays = pairs(kvo.lockDelays, 'kv.lockDelays', num);

  return {
    index,
    catalog: { indexes, nodes, services, checks },
    kv: { index: upTo(kvo.index, 'kv.index'), entries, tombstones, lockDelays },
    sessions: { index: upTo(ses.index, 'sessions.index'), sessions },
    requests: list(top.requests, 'requests').map((row, i) => {
      const pair = list(row, `requests[${i}]`);
      if (pair.length !== 2) throw invalid(`requests[${i}]`, 'expected [id, {at, outcome}]');
      const r = obj(pair[1], `requests[${i}][1]`, ['at', 'outcome']);
      return [str(pair[0], `requests[${i}][0]`), { at: num(r.at, `requests[${i}]`, 'at'), outcome: str(r.outcome, `requests[${i}]`, 'outcome') }] as [string, RememberedOutcome];
    }),
  };
}

/**
 * What restore requires of a KV row beyond its fields' types (the writer has
 * the row itself, whose value and flags encode canonically by construction).
 */
function checkKvEntry(e: KvEntry, path: string, index: number, sessionIds: ReadonlySet<string>): void {
  str(e.key, path, 'key');
  int(e.lockIndex, path, 'lockIndex');
  rowIndexesUpTo(e as unknown as Record<string, unknown>, index, path);
  checkLockHolder(e, path, sessionIds);
}

function checkLockHolder(e: KvEntry, path: string, sessionIds: ReadonlySet<string>): void {
  if (e.session && !sessionIds.has(e.session)) throw invalid(path, `lock held by unknown session "${e.session}"`);
}

/** A log index no later than the snapshot's `index`. */
function indexUpTo(v: unknown, index: number, path: string, field?: string): number {
  const n = int(v, path, field);
  if (n > index) throw invalid(path, `index ${n} is after the snapshot's index ${index}`, field);
  return n;
}

/** A row's createIndex and modifyIndex: both no later than `index`, in that order. */
function rowIndexesUpTo(r: Record<string, unknown>, index: number, path: string): { createIndex: number; modifyIndex: number } {
  const createIndex = indexUpTo(r.createIndex, index, path, 'createIndex');
  const modifyIndex = indexUpTo(r.modifyIndex, index, path, 'modifyIndex');
  if (createIndex > modifyIndex) throw invalid(path, `createIndex ${createIndex} is after modifyIndex ${modifyIndex}`);
  return { createIndex, modifyIndex };
}

/** `path` names the row (or table), `field` the field in it: the two are only joined for the message. */
function invalid(path: string, what: string, field?: string): MusterError {
  const where = field === undefined ? path : field.startsWith('[') ? `${path}${field}` : `${path}.${field}`;
  return new MusterError('ERR_INTERNAL', `invalid snapshot${where ? ` at ${where}` : ''}: ${what}`);
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * A plain object with exactly `keys` (no others), or with any keys (a record);
 * with `versionFirst`, a wrong version is reported before anything else.
 */
function obj(v: unknown, path: string, keys: readonly string[] | 'any', opts: { versionFirst?: boolean } = {}): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(path, `expected an object, got ${typeName(v)}`);
  const o = v as Record<string, unknown>;
  if (opts.versionFirst && o.version !== SNAPSHOT_VERSION) {
    throw invalid(path, `unsupported version ${JSON.stringify(o.version) ?? 'undefined'} (this build reads version ${SNAPSHOT_VERSION})`);
  }
  if (keys === 'any') return o;
  for (const k of keys) if (!Object.hasOwn(o, k)) throw invalid(path, `missing field "${k}"`);
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw invalid(path, `unknown field "${k}"`);
  return o;
}

function str(v: unknown, path: string, field?: string): string {
  if (typeof v !== 'string') throw invalid(path, `expected a string, got ${typeName(v)}`, field);
  return v;
}

function num(v: unknown, path: string, field?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(path, `expected a finite number, got ${typeName(v)}`, field);
  return v;
}

/** A log index, counter or similar: a non-negative safe integer. */
function int(v: unknown, path: string, field?: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(path, `expected a non-negative integer, got ${JSON.stringify(v) ?? 'undefined'}`, field);
  return v;
}

function bool(v: unknown, path: string, field?: string): boolean {
  if (typeof v !== 'boolean') throw invalid(path, `expected a boolean, got ${typeName(v)}`, field);
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: Record<T, true>, path: string, field?: string): T {
  if (typeof v !== 'string' || !Object.hasOwn(allowed, v)) throw invalid(path, `unexpected value ${JSON.stringify(v) ?? 'undefined'}`, field);
  return v as T;
}

function list(v: unknown, path: string, field?: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(path, `expected an array, got ${typeName(v)}`, field);
  return v;
}

function strList(v: unknown, path: string, field: string): string[] {
  const xs = list(v, path, field);
  xs.forEach((x, i) => { if (typeof x !== 'string') throw invalid(path, `expected a string, got ${typeName(x)}`, `${field}[${i}]`); });
  return xs as string[];
}

/** A string → string record, its own key order kept (fromEntries keeps a "__proto__" key as data). */
function strRecord(v: unknown, path: string, field: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(path, `expected an object, got ${typeName(v)}`, field);
  const entries = Object.entries(v);
  for (const [k, x] of entries) if (typeof x !== 'string') throw invalid(path, `expected a string, got ${typeName(x)}`, `${field}.${k}`);
  return Object.fromEntries(entries) as Record<string, string>;
}

function definition(v: unknown, row: string, field: string): CheckRowDefinition {
  const path = `${row}.${field}`;
  const o = obj(v, path, 'any');
  return Object.fromEntries(Object.entries(o).map(([k, x]) => {
    if (Object.hasOwn(DEFINITION_STRINGS, k)) return [k, str(x, path, k)];
    if (k === 'intervalMs' || k === 'timeoutMs' || k === 'ttlMs' || k === 'deregisterCriticalServiceAfterMs') return [k, num(x, path, k)];
    throw invalid(path, `unknown field "${k}"`);
  })) as CheckRowDefinition;
}

function base64(v: unknown, path: string, field?: string): Buffer {
  const s = str(v, path, field);
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) throw invalid(path, 'expected canonical base64', field);
  return b;
}

/** KV flags: an integer in canonical decimal (uint64 in practice; the state machine stores whatever BigInt read). */
function decimal(v: unknown, path: string, field?: string): bigint {
  const s = str(v, path, field);
  if (!/^-?(0|[1-9][0-9]*)$/.test(s) || s === '-0') throw invalid(path, `expected a decimal integer, got ${JSON.stringify(s)}`, field);
  return BigInt(s);
}

/**
 * Rows of a table, each with a distinct `key`: in key order (`sorted`), or in
 * the order of their group (`key[0]`, e.g. the node) and, within a group, in
 * any order (`grouped`: the store's own order of one node's rows).
 */
function rows<T>(
  v: unknown, path: string, read: (r: unknown, path: string) => T,
  key: (row: T) => [string, ...string[]], order: 'sorted' | 'grouped',
): T[] {
  let prev: string[] | undefined;
  let inGroup = new Set<string>();
  return list(v, path).map((r, i) => {
    const p = `${path}[${i}]`;
    const row = read(r, p);
    const k = key(row);
    const c = prev ? (order === 'sorted' ? cmpKeys(prev, k) : cmp(prev[0] as string, k[0])) : -1;
    if (c > 0 || (c === 0 && order === 'sorted')) {
      throw invalid(p, `out of order or duplicate (${JSON.stringify(k)} after ${JSON.stringify(prev)})`);
    }
    if (order === 'grouped') {
      if (c !== 0) inGroup = new Set();
      const id = JSON.stringify(k);
      if (inGroup.has(id)) throw invalid(p, `duplicate ${id}`);
      inGroup.add(id);
    }
    prev = k;
    return row;
  });
}

/** `[name, number]` pairs, strictly ascending by name. */
function pairs(v: unknown, path: string, value: (x: unknown, path: string, field?: string) => number): Array<[string, number]> {
  return rows(v, path, (r, p): [string, number] => {
    const pair = list(r, p);
    if (pair.length !== 2) throw invalid(p, `expected a [name, number] pair`);
    return [str(pair[0], p, '[0]'), value(pair[1], p, '[1]')];
  }, ([name]) => [name], 'sorted');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const c = cmp(a[i] ?? '', b[i] ?? '');
    if (c !== 0) return c;
  }
  return 0;
}

function byFirst(a: [string, number], b: [string, number]): number {
  return cmp(a[0], b[0]);
}
