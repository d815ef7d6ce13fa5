import { MusterError } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';
import type { Router } from './router.js';
import type { ApiRequest } from './types.js';
import { checkDatacenter, indexHeaders, writeName, type RouteDeps } from './context.js';
import { blockingQuery } from './blocking-query.js';
import { json, rawJson } from './response.js';
import { hasFlag } from './query.js';
import { dirEntriesJson, parseUint64 } from './kv-wire.js';
import type { KvCommand } from '../state/commands.js';

/** `/v1/kv/<key>`: Consul's key/value API, with blocking reads, CAS and locks. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store, feed, limits } = deps;
  const dc = agent.config.datacenter;
  const maxValue = DEFAULTS.http.kvMaxValueBytes;

  router.add('GET', '/v1/kv/*key', async (req) => {
    checkDatacenter(req, dc);
    const key = req.params.key ?? '';
    const q = req.query;
    if (hasFlag(q, 'keys')) {
      const sep = q.get('separator') ?? q.get('seperator') ?? '';
      const r = await blockingQuery(req, feed, limits, () => ({ index: store.kv.prefixIndex(key), value: store.kv.keys(key, sep) }));
      if (r.value.length === 0 && key !== '') return notFound(r.index);
      return json(r.value, indexHeaders(r.index));
    }
    if (hasFlag(q, 'recurse')) {
      const r = await blockingQuery(req, feed, limits, () => ({ index: store.kv.prefixIndex(key), value: store.kv.list(key) }));
      if (r.value.length === 0) return notFound(r.index);
      return rawJson(dirEntriesJson(r.value), indexHeaders(r.index));
    }
    if (key === '') throw new MusterError('ERR_MISSING_KEY', 'Missing key name');
    const r = await blockingQuery(req, feed, limits, () => ({ index: store.kv.keyIndex(key), value: store.kv.get(key) }));
    if (!r.value) return notFound(r.index);
    if (hasFlag(q, 'raw')) {
      return {
        status: 200, body: r.value.value,
        headers: {
          ...indexHeaders(r.index), 'Content-Type': 'text/plain; charset=utf-8',
          'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox',
        },
      };
    }
    return rawJson(dirEntriesJson([r.value]), indexHeaders(r.index));
  });

  router.add(['PUT', 'POST'], '/v1/kv/*key', async (req) => {
    checkDatacenter(req, dc);
    const key = requireKey(req);
    const q = req.query;
    const modes = ['cas', 'acquire', 'release'].filter((m) => q.has(m));
    if (modes.length > 1) throw new MusterError('ERR_CONFLICTING_FLAGS', `Conflicting flags: ${q.toString()}`);
    if (req.body.length > maxValue) {
      throw new MusterError('ERR_BODY_TOO_LARGE', `Request body(${req.body.length} bytes) too large, max size: ${maxValue} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.`);
    }
    const cmd: KvCommand = { type: 'kv', verb: 'set', key, value: req.body.toString('base64') };
    const flags = q.get('flags');
    if (flags !== null && flags !== '') {
      const f = parseUint64(flags);
      if (f === undefined) throw new MusterError('ERR_BAD_REQUEST', `Invalid flags "${flags}": must be an unsigned 64-bit integer`);
      cmd.flags = f.toString();
    }
    if (q.has('cas')) {
      cmd.verb = 'cas';
      cmd.index = indexParam(q.get('cas') ?? '', 'cas');
    } else if (q.has('acquire')) {
      cmd.verb = 'lock';
      cmd.session = q.get('acquire') ?? '';
    } else if (q.has('release')) {
      cmd.verb = 'unlock';
      cmd.session = q.get('release') ?? '';
      if (!cmd.session) throw new MusterError('ERR_MISSING_SESSION', 'missing session');
    }
    return json(await agent.writer.write(cmd, writeName(req)));
  }, { anyServer: true });

  router.add('DELETE', '/v1/kv/*key', async (req) => {
    checkDatacenter(req, dc);
    const q = req.query;
    const key = req.params.key ?? '';
    const recurse = hasFlag(q, 'recurse');
    if (recurse && q.has('cas')) throw new MusterError('ERR_CONFLICTING_FLAGS', `Conflicting flags: ${q.toString()}`);
    if (!recurse) requireKey(req);
    const cmd: KvCommand = recurse
      ? { type: 'kv', verb: 'delete-tree', key }
      : q.has('cas')
        ? { type: 'kv', verb: 'delete-cas', key, index: indexParam(q.get('cas') ?? '', 'cas') }
        : { type: 'kv', verb: 'delete', key };
    return json(await agent.writer.write(cmd, writeName(req)));
  }, { anyServer: true });
}

/** 404 with an empty body, but with the index headers so a blocking watch on a missing key works. */
function notFound(index: number) {
  return { status: 404, headers: indexHeaders(index), body: '' };
}

function requireKey(req: ApiRequest): string {
  const key = req.params.key ?? '';
  if (key === '') throw new MusterError('ERR_MISSING_KEY', 'Missing key name');
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new MusterError('ERR_BAD_REQUEST', 'Invalid key name: control characters are not allowed');
  return key;
}

function indexParam(raw: string, name: string): number {
  if (!/^\d+$/.test(raw)) throw new MusterError('ERR_BAD_REQUEST', `Invalid ${name} index "${raw}"`);
  return Number(raw);
}
