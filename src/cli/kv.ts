import { readFileSync } from 'node:fs';
import { parseFlags, formatFlagHelp, type FlagSpec, type FlagValue } from '../config/flags.js';
import { MusterError, UsageError, errorMessage } from '../errors.js';
import type { KvPair } from '../client/kv.js';
import { decodeBase64Strict, goJsonString, parseJsonExact, toUint64 } from '../client/wire.js';
import { HTTP_FLAGS, STALE_FLAG, clientFromFlags } from './http-flags.js';

const USAGE = `Usage: muster kv <subcommand> [options] [args]

Subcommands (as \`consul kv\`):
  put       Sets or updates data in the KV store: put [options] KEY [DATA|-|@file]
  get       Retrieves or lists data from the KV store: get [options] [KEY_OR_PREFIX]
  delete    Removes data from the KV store: delete [options] KEY_OR_PREFIX
  export    Exports a tree from the KV store as JSON: export [PREFIX]
  import    Imports a tree stored as JSON to the KV store: import [DATA|-|@file]

Run "muster kv <subcommand> -help" for its flags.`;

/** `muster kv put|get|delete|export|import`, with `consul kv`'s flags, output and messages. */
export async function runKv(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'put': return kvPut(rest);
    case 'get': return kvGet(rest);
    case 'delete': return kvDelete(rest);
    case 'export': return kvExport(rest);
    case 'import': return kvImport(rest);
    case undefined: case 'help': case '-h': case '-help': case '--help':
      process.stdout.write(`${USAGE}\n`);
      return sub === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown kv subcommand: ${sub}`);
  }
}

const PUT_FLAGS: readonly FlagSpec[] = [
  { name: 'acquire', kind: 'bool', help: 'obtain a lock on the key for -session (creates the key if missing)' },
  { name: 'base64', kind: 'bool', help: 'treat the data as base 64 encoded' },
  { name: 'cas', kind: 'bool', help: 'check-and-set: write only if the key\'s ModifyIndex is -modify-index' },
  { name: 'flags', kind: 'string', help: 'unsigned 64-bit integer stored with the value', default: '0' },
  { name: 'modify-index', kind: 'string', help: 'the ModifyIndex a -cas write expects' },
  { name: 'release', kind: 'bool', help: 'give up -session\'s lock on the key' },
  { name: 'session', kind: 'string', help: 'session for -acquire and -release' },
  ...HTTP_FLAGS,
];

async function kvPut(argv: string[]): Promise<number> {
  const p = parseFlags(argv, PUT_FLAGS);
  if (p.help) return help('put [options] KEY [DATA]', PUT_FLAGS);
  const v = p.values;
  if (p.args.length === 0) throw new UsageError('Missing KEY argument');
  if (p.args.length > 2) throw new UsageError(`Too many arguments (expected 1 or 2, got ${p.args.length})`);
  const key = p.args[0] as string;
  let data = readData(p.args[1] ?? '');
  if (v.get('base64') === true) {
    const decoded = decodeBase64Strict(data.toString('utf8'));
    if (!decoded) throw new MusterError('ERR_BAD_REQUEST', 'Cannot base 64 decode data: illegal base64 data');
    data = decoded;
  }
  const flags = uint64Flag(v, 'flags') ?? 0n;
  const modifyIndex = Number(uint64Flag(v, 'modify-index') ?? 0n);
  const session = (v.get('session') as string | undefined) ?? '';
  const acquire = v.get('acquire') === true;
  const release = v.get('release') === true;
  const cas = v.get('cas') === true;
  if ((acquire || release) && session === '') throw new UsageError('Missing -session (required with -acquire and -release)');
  if (cas && modifyIndex === 0) throw new UsageError('Must specify -modify-index with -cas!');

  const kv = clientFromFlags(v).kv;
  if (cas) {
    const ok = await kv.put(key, data, { flags, cas: modifyIndex }).catch((err: unknown) => fail(`Did not write to ${key}: ${errorMessage(err)}`, err));
    if (!ok) throw new MusterError('ERR_KV_CAS_CONFLICT', `Did not write to ${key}: CAS failed`);
    return info(`Success! Data written to: ${key}`);
  }
  if (acquire) {
    const ok = await kv.put(key, data, { flags, acquire: session }).catch((err: unknown) => fail(`Failed writing data: ${errorMessage(err)}`, err));
    if (!ok) throw new MusterError('ERR_LOCK', 'Did not acquire lock');
    return info(`Success! Lock acquired on: ${key}`);
  }
  if (release) {
    const ok = await kv.put(key, data, { flags, release: session }).catch((err: unknown) => fail(`Failed writing data: ${errorMessage(err)}`, err));
    if (!ok) throw new MusterError('ERR_LOCK', 'Did not release lock');
    return info(`Success! Lock released on: ${key}`);
  }
  await kv.put(key, data, { flags }).catch((err: unknown) => fail(`Failed writing data: ${errorMessage(err)}`, err));
  return info(`Success! Data written to: ${key}`);
}

const GET_FLAGS: readonly FlagSpec[] = [
  { name: 'base64', kind: 'bool', help: 'base64-encode the value' },
  { name: 'detailed', kind: 'bool', help: 'print the key\'s metadata (indexes, flags, session) with its value' },
  { name: 'keys', kind: 'bool', help: 'list the keys under the prefix, not their values' },
  { name: 'recurse', kind: 'bool', help: 'every key under the prefix' },
  { name: 'separator', kind: 'string', help: 'with -keys: list only up to the first separator after the prefix', default: '/' },
  STALE_FLAG,
  ...HTTP_FLAGS,
];

async function kvGet(argv: string[]): Promise<number> {
  const p = parseFlags(argv, GET_FLAGS);
  if (p.help) return help('get [options] [KEY_OR_PREFIX]', GET_FLAGS);
  const v = p.values;
  if (p.args.length > 1) throw new UsageError(`Too many arguments (expected 1, got ${p.args.length})`);
  const key = stripSlash(p.args[0] ?? '');
  const recurse = v.get('recurse') === true;
  const keys = v.get('keys') === true;
  const detailed = v.get('detailed') === true;
  const b64 = v.get('base64') === true;
  if (key === '' && !(recurse || keys)) throw new UsageError('Missing KEY argument');
  const q = v.get('stale') === true ? { stale: true } : {};
  const kv = clientFromFlags(v).kv;
  const query = <T>(pr: Promise<T>) => pr.catch((err: unknown) => fail(`Error querying Consul agent: ${errorMessage(err)}`, err));

  if (keys && recurse) {
    // every key under the prefix, not cut at a separator; -detailed without the values (Consul 1.13+)
    const pairs = await query(kv.list(key, q));
    pairs.forEach((pair, i) => {
      if (!detailed) { out(pair.key, '\n'); return; }
      out(prettyPair(pair, false, true), '\n');
      if (i < pairs.length - 1) out('\n');
    });
    return 0;
  }
  if (keys) {
    const separator = (v.get('separator') as string | undefined) ?? '/';
    for (const k of await query(kv.keys(key, { ...q, separator }))) process.stdout.write(`${k}\n`);
    return 0;
  }
  if (recurse) {
    const pairs = await query(kv.list(key, q));
    pairs.forEach((pair, i) => {
      if (detailed) {
        out(prettyPair(pair, b64), '\n');
        if (i < pairs.length - 1) out('\n');
      } else {
        out(`${pair.key}:`, b64 ? pair.value.toString('base64') : pair.value, '\n');
      }
    });
    return 0;
  }
  const pair = await query(kv.get(key, q));
  if (!pair) throw new MusterError('ERR_NOT_FOUND', `No key exists at: ${key}`);
  if (detailed) out(prettyPair(pair, b64), '\n');
  else out(b64 ? pair.value.toString('base64') : pair.value, '\n');
  return 0;
}

const DELETE_FLAGS: readonly FlagSpec[] = [
  { name: 'cas', kind: 'bool', help: 'check-and-set: delete only if the key\'s ModifyIndex is -modify-index' },
  { name: 'modify-index', kind: 'string', help: 'the ModifyIndex a -cas delete expects' },
  { name: 'recurse', kind: 'bool', help: 'delete every key under the prefix' },
  ...HTTP_FLAGS,
];

async function kvDelete(argv: string[]): Promise<number> {
  const p = parseFlags(argv, DELETE_FLAGS);
  if (p.help) return help('delete [options] KEY_OR_PREFIX', DELETE_FLAGS);
  const v = p.values;
  if (p.args.length > 1) throw new UsageError(`Too many arguments (expected 1, got ${p.args.length})`);
  const key = stripSlash(p.args[0] ?? '');
  const recurse = v.get('recurse') === true;
  const cas = v.get('cas') === true;
  const modifyIndex = Number(uint64Flag(v, 'modify-index') ?? 0n);
  if (key === '' && !recurse) throw new UsageError('Missing KEY argument');
  if (cas && modifyIndex === 0) throw new UsageError('Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.');
  if (modifyIndex !== 0 && !cas) throw new UsageError('Cannot specify -modify-index without -cas!');
  if (recurse && cas) throw new UsageError('Cannot specify both -cas and -recurse!');

  const kv = clientFromFlags(v).kv;
  if (recurse) {
    await kv.delete(key, { recurse: true }).catch((err: unknown) => fail(`Did not delete prefix ${key}: ${errorMessage(err)}`, err));
    return info(`Success! Deleted keys with prefix: ${key}`);
  }
  if (cas) {
    const ok = await kv.delete(key, { cas: modifyIndex }).catch((err: unknown) => fail(`Did not delete key ${key}: ${errorMessage(err)}`, err));
    if (!ok) throw new MusterError('ERR_KV_CAS_CONFLICT', `Did not delete key ${key}: CAS failed`);
    return info(`Success! Deleted key: ${key}`);
  }
  await kv.delete(key).catch((err: unknown) => fail(`Error deleting key ${key}: ${errorMessage(err)}`, err));
  return info(`Success! Deleted key: ${key}`);
}

const EXPORT_FLAGS: readonly FlagSpec[] = [STALE_FLAG, ...HTTP_FLAGS];

async function kvExport(argv: string[]): Promise<number> {
  const p = parseFlags(argv, EXPORT_FLAGS);
  if (p.help) return help('export [KEY_OR_PREFIX]', EXPORT_FLAGS);
  if (p.args.length > 1) throw new UsageError(`Too many arguments (expected 1, got ${p.args.length})`);
  const prefix = stripSlash(p.args[0] ?? '');
  const kv = clientFromFlags(p.values).kv;
  const pairs = await kv.list(prefix, p.values.get('stale') === true ? { stale: true } : {})
    .catch((err: unknown) => fail(`Error querying Consul agent: ${errorMessage(err)}`, err));
  process.stdout.write(`${exportJson(pairs)}\n`);
  return 0;
}

/** `consul kv export`'s JSON: Go's MarshalIndent with tabs, flags written exactly. */
export function exportJson(pairs: readonly KvPair[]): string {
  if (pairs.length === 0) return '[]';
  const items = pairs.map((p) => [
    '\t{',
    `\t\t"key": ${goJsonString(p.key)},`,
    `\t\t"flags": ${p.flags.toString()},`,
    `\t\t"value": ${goJsonString(p.value.toString('base64'))}`,
    '\t}',
  ].join('\n'));
  return `[\n${items.join(',\n')}\n]`;
}

const IMPORT_FLAGS: readonly FlagSpec[] = [
  { name: 'prefix', kind: 'string', help: 'key prefix for the imported data (default: the root)' },
  ...HTTP_FLAGS,
];

async function kvImport(argv: string[]): Promise<number> {
  const p = parseFlags(argv, IMPORT_FLAGS);
  if (p.help) return help('import [options] [DATA|-|@file]', IMPORT_FLAGS);
  if (p.args.length === 0) throw new UsageError('Missing DATA argument');
  if (p.args.length > 1) throw new UsageError(`Too many arguments (expected 1, got ${p.args.length})`);
  if (p.args[0] === '') throw new UsageError('Empty DATA argument');
  const entries = parseImport(readData(p.args[0] as string).toString('utf8'));
  const prefix = (p.values.get('prefix') as string | undefined) ?? '';
  const kv = clientFromFlags(p.values).kv;
  for (const e of entries) {
    const key = prefix + e.key;
    await kv.put(key, e.value, { flags: e.flags }).catch((err: unknown) => fail(`Failed writing data for key ${key}: ${errorMessage(err)}`, err));
    info(`Imported: ${key}`);
  }
  return 0;
}

/** The export format back: `[{"key","flags","value"(base64)}]`, field names matched case-insensitively as Go does. */
export function parseImport(text: string): Array<{ key: string; flags: bigint; value: Buffer }> {
  let raw: unknown;
  try {
    raw = parseJsonExact(text, new Set(['flags', 'Flags', 'FLAGS']));
  } catch (err) {
    throw new MusterError('ERR_DECODE', `Cannot unmarshal data: ${errorMessage(err)}`, { cause: err });
  }
  if (!Array.isArray(raw)) throw new MusterError('ERR_DECODE', 'Cannot unmarshal data: expected a JSON array of entries');
  return raw.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new MusterError('ERR_DECODE', `Cannot unmarshal data: entry ${i} is not an object`);
    const f = new Map(Object.entries(item).map(([k, val]) => [k.toLowerCase(), val as unknown]));
    const key = f.get('key');
    if (typeof key !== 'string') throw new MusterError('ERR_DECODE', `Cannot unmarshal data: entry ${i} has no string "key"`);
    const rawFlags = f.get('flags') ?? 0;
    const flags = toUint64(rawFlags);
    if (flags === undefined) throw new MusterError('ERR_DECODE', `Cannot unmarshal data: entry ${i}: "flags" must be an unsigned 64-bit integer`);
    const rawValue = f.get('value') ?? '';
    const value = typeof rawValue === 'string' ? decodeBase64Strict(rawValue) : undefined;
    if (!value) throw new MusterError('ERR_DECODE', `Error base 64 decoding value for key ${key}: illegal base64 data`);
    return { key, flags, value };
  });
}

/** DATA as `consul kv` reads it: `@file`, `-` for stdin, or the argument itself (`-x` is literal). */
function readData(arg: string): Buffer {
  if (arg === '') return Buffer.alloc(0);
  if (arg.startsWith('@')) {
    try {
      return readFileSync(arg.slice(1));
    } catch (err) {
      throw new MusterError('ERR_BAD_REQUEST', `Failed to read file: ${errorMessage(err)}`, { cause: err });
    }
  }
  if (arg === '-') {
    try {
      return readFileSync(0);
    } catch (err) {
      throw new MusterError('ERR_BAD_REQUEST', `Failed to read stdin: ${errorMessage(err)}`, { cause: err });
    }
  }
  return Buffer.from(arg, 'utf8');
}

/** `consul kv get -detailed`: Go's tabwriter (padding 6) over the field list; no Value with -keys. */
export function prettyPair(pair: KvPair, base64: boolean, keysOnly = false): Buffer {
  const rows: Array<[string, string | Buffer]> = [
    ['CreateIndex', String(pair.createIndex)],
    ['Flags', pair.flags.toString()],
    ['Key', pair.key],
    ['LockIndex', String(pair.lockIndex)],
    ['ModifyIndex', String(pair.modifyIndex)],
    ['Session', pair.session ?? '-'],
    ...(keysOnly ? [] : [['Value', base64 ? pair.value.toString('base64') : pair.value] as [string, string | Buffer]]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 6;
  // Go prints no newline after the value (the caller adds one)
  return Buffer.concat(rows.map(([label, value]) => Buffer.concat([
    Buffer.from(label.padEnd(width)), typeof value === 'string' ? Buffer.from(value) : value, Buffer.from(label === 'Value' ? '' : '\n'),
  ])));
}

/** A uint64 flag as Go's flag.Uint64Var reads it (decimal or 0x hex). */
function uint64Flag(values: ReadonlyMap<string, FlagValue>, name: string): bigint | undefined {
  const raw = values.get(name);
  if (raw === undefined) return undefined;
  const s = String(raw).trim();
  const v = /^0x[0-9a-f]+$/i.test(s) ? toUint64(BigInt(s).toString()) : toUint64(s);
  if (v === undefined) throw new UsageError(`invalid value "${String(raw)}" for flag -${name}: parse error`);
  return v;
}

function stripSlash(key: string): string {
  return key.startsWith('/') ? key.slice(1) : key;
}

function out(...parts: Array<string | Buffer>): void {
  process.stdout.write(Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : x))));
}

function info(line: string): number {
  process.stdout.write(`${line}\n`);
  return 0;
}

function help(usage: string, flags: readonly FlagSpec[]): number {
  process.stdout.write(`Usage: muster kv ${usage}\n\n${formatFlagHelp(flags)}\n`);
  return 0;
}

/** Rewords a failed call (the CLI prints `muster: <message>` and exits 1). */
function fail(message: string, cause: unknown): never {
  const code = cause instanceof MusterError ? cause.code : 'ERR_API';
  throw new MusterError(code, message, { cause });
}
