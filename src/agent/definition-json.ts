import { MusterError } from '../errors.js';
import { durationFromJson } from '../config/duration.js';
import type { CheckDefinition, HealthStatus, ServiceDefinition } from './definition.js';

/**
 * Decodes Consul's JSON service and check definitions (HTTP bodies and config
 * files) into Muster's definitions. Keys match case-insensitively and
 * ignoring `_` (python-consul sends `name`, `docker_container_id`; Go sends
 * PascalCase), unknown keys are ignored, and a wrongly typed field is a 400
 * naming the field.
 */
export type Fields = Map<string, unknown>;

export function fieldsOf(value: unknown, what: string): Fields {
  if (value === null || value === undefined) return new Map();
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(`${what} must be a JSON object`);
  const out: Fields = new Map();
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out.set(normaliseKey(k), v);
  return out;
}

export function normaliseKey(k: string): string {
  return k.replace(/_/g, '').toLowerCase();
}

function bad(message: string): MusterError {
  return new MusterError('ERR_DECODE', `Request decode failed: ${message}`);
}

export function str(f: Fields, key: string, fallback = ''): string {
  const v = f.get(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw bad(`${key} must be a string`);
  return v;
}

export function optStr(f: Fields, key: string): string | undefined {
  const v = f.get(key);
  return v === undefined || v === null ? undefined : str(f, key);
}

export function num(f: Fields, key: string, fallback = 0): number {
  const v = f.get(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw bad(`${key} must be a number`);
}

export function bool(f: Fields, key: string, fallback = false): boolean {
  const v = f.get(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  throw bad(`${key} must be a boolean`);
}

export function strList(f: Fields, key: string): string[] {
  const v = f.get(key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${key} must be a list of strings`);
  return [...(v as string[])];
}

export function strMap(f: Fields, key: string): Record<string, string> {
  const v = f.get(key);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${key} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw bad(`${key}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

/** A duration field: a Go duration string or integer nanoseconds. Returns ms. */
export function duration(f: Fields, key: string): number | undefined {
  const v = f.get(key);
  if (v === undefined || v === null || v === '') return undefined;
  const ms = durationFromJson(v);
  if (ms === undefined || ms < 0) throw bad(`${key} is not a valid duration: ${JSON.stringify(v)}`);
  return ms;
}

const STATUSES = new Set<string>(['passing', 'warning', 'critical']);

export function decodeCheck(value: unknown): CheckDefinition {
  const f = fieldsOf(value, 'check');
  const def: CheckDefinition = {};
  const id = optStr(f, 'checkid') ?? optStr(f, 'id');
  if (id) def.checkId = id;
  const set = <K extends keyof CheckDefinition>(k: K, v: CheckDefinition[K] | undefined) => { if (v !== undefined) def[k] = v; };
  set('name', optStr(f, 'name'));
  set('notes', optStr(f, 'notes'));
  set('serviceId', optStr(f, 'serviceid'));
  const status = optStr(f, 'status');
  if (status !== undefined && status !== '') {
    if (!STATUSES.has(status)) throw new MusterError('ERR_INVALID_CHECK_STATUS', "Status for checks must 'passing', 'warning', 'critical'");
    def.status = status as HealthStatus;
  }
  set('http', optStr(f, 'http') || undefined);
  set('method', optStr(f, 'method') || undefined);
  set('body', optStr(f, 'body') || undefined);
  if (f.has('header') && f.get('header') !== null) {
    const h = f.get('header');
    if (typeof h !== 'object' || Array.isArray(h)) throw bad('Header must be an object of string lists');
    const header: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`Header.${k} must be a list of strings`);
      header[k] = v as string[];
    }
    def.header = header;
  }
  if (f.has('tlsskipverify')) def.tlsSkipVerify = bool(f, 'tlsskipverify');
  set('tcp', optStr(f, 'tcp') || undefined);
  set('ttlMs', duration(f, 'ttl'));
  set('intervalMs', duration(f, 'interval'));
  set('timeoutMs', duration(f, 'timeout'));
  set('deregisterCriticalServiceAfterMs', duration(f, 'deregistercriticalserviceafter'));
  const args = [...strList(f, 'args'), ...strList(f, 'scriptargs')];
  const script = optStr(f, 'script');
  if (script) args.push(script);
  if (args.length > 0) def.args = args;
  set('grpc', optStr(f, 'grpc') || undefined);
  if (f.has('grpcusetls')) def.grpcUseTls = bool(f, 'grpcusetls');
  set('dockerContainerId', optStr(f, 'dockercontainerid') || undefined);
  return def;
}

export function decodeService(value: unknown): ServiceDefinition {
  const f = fieldsOf(value, 'service');
  const name = str(f, 'name') || str(f, 'service');
  const checks: CheckDefinition[] = [];
  if (f.get('check') !== undefined && f.get('check') !== null) {
    const c = decodeCheck(f.get('check'));
    if (Object.keys(c).length > 0) checks.push(c);
  }
  const list = f.get('checks');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw bad('Checks must be a list');
    for (const c of list) checks.push(decodeCheck(c));
  }
  const w = fieldsOf(f.get('weights'), 'Weights');
  return {
    id: str(f, 'id') || name,
    name,
    tags: strList(f, 'tags'),
    address: str(f, 'address'),
    port: num(f, 'port'),
    meta: strMap(f, 'meta'),
    enableTagOverride: bool(f, 'enabletagoverride'),
    weights: { passing: num(w, 'passing', 1), warning: num(w, 'warning', 1) },
    checks,
  };
}
