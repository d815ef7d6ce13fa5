import { MusterError } from '../errors.js';
import type { Router } from './router.js';
import { checkDatacenter, indexHeaders, writeName, type RouteDeps } from './context.js';
import { rawJson } from './response.js';
import { fieldsOf, str, type Fields } from '../agent/definition-json.js';
import { dirEntryJson, parseJsonExactIntegers, parseUint64 } from './kv-wire.js';
import { MAX_TXN_OPS, type TxnResult } from '../state/store.js';
import type { KvOp } from '../state/commands.js';
import type { ApiRequest } from './types.js';

const VERBS = new Set(['set', 'cas', 'lock', 'unlock', 'get', 'get-tree', 'check-index', 'check-session', 'check-not-exists', 'delete', 'delete-tree', 'delete-cas']);

/** `PUT /v1/txn`: KV operations applied atomically, all or nothing. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent, store } = deps;
  router.add(['PUT', 'POST'], '/v1/txn', async (req) => {
    checkDatacenter(req, agent.config.datacenter);
    const body = txnBody(req);
    if (!Array.isArray(body)) throw new MusterError('ERR_DECODE', 'Request decode failed: the body must be a JSON array of operations');
    if (body.length > MAX_TXN_OPS) {
      throw new MusterError('ERR_TXN_TOO_MANY', `Transaction contains too many operations (${body.length} > ${MAX_TXN_OPS})`);
    }
    const ops = body.map((raw, i) => decodeOp(raw, i));
    const result = (await agent.writer.write({ type: 'txn', ops }, writeName(req))) as TxnResult;
    const headers = indexHeaders(store.index);
    if (result.errors.length > 0) {
      const errors = result.errors.map((e) => `{"OpIndex":${e.opIndex},"What":${JSON.stringify(e.what)}}`).join(',');
      return rawJson(`{"Results":null,"Errors":[${errors}]}`, headers, 409);
    }
    const results = result.results.map((r) => `{"KV":${dirEntryJson(r.entry, r.read)}}`).join(',');
    return rawJson(`{"Results":[${results}],"Errors":null}`, headers);
  });
}

/** The body as JSON, with uint64 `Flags` kept exact (JSON.parse would round them). */
function txnBody(req: ApiRequest): unknown {
  const text = req.body.toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return parseJsonExactIntegers(text);
  } catch (err) {
    throw new MusterError('ERR_DECODE', `Request decode failed: ${(err as Error).message}`);
  }
}

function decodeOp(raw: unknown, i: number): KvOp {
  const outer = fieldsOf(raw, `operation ${i}`);
  const kv = outer.get('kv');
  if (kv === undefined || kv === null) {
    throw new MusterError('ERR_BAD_REQUEST', `operation ${i}: only KV operations are supported`);
  }
  const f: Fields = fieldsOf(kv, `operation ${i} KV`);
  const verb = str(f, 'verb');
  if (!VERBS.has(verb)) throw new MusterError('ERR_BAD_REQUEST', `operation ${i}: unknown KV verb "${verb}"`);
  const op: KvOp = { verb: verb as KvOp['verb'], key: str(f, 'key') };
  const value = f.get('value');
  if (value !== undefined && value !== null) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
      throw new MusterError('ERR_DECODE', `Request decode failed: operation ${i}: Value must be base64`);
    }
    op.value = value;
  }
  const flags = f.get('flags');
  if (flags !== undefined && flags !== null) {
    const parsed = parseUint64(String(flags));
    if (parsed === undefined) throw new MusterError('ERR_DECODE', `Request decode failed: operation ${i}: Flags must be an unsigned 64-bit integer`);
    op.flags = parsed.toString();
  }
  const index = f.get('index');
  if (index !== undefined && index !== null) {
    if (!Number.isSafeInteger(index) || (index as number) < 0) throw new MusterError('ERR_DECODE', `Request decode failed: operation ${i}: Index must be an unsigned integer`);
    op.index = index as number;
  }
  const session = str(f, 'session');
  if (session) op.session = session;
  return op;
}
