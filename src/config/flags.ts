import { UsageError } from '../errors.js';
import { parseDurationMs } from './duration.js';

/**
 * A Go `flag`-package compatible parser: `-name value`, `-name=value`,
 * `--name`, booleans only take a value in the `=` form, parsing stops at the
 * first non-flag argument (or after `--`). Problems are UsageErrors naming the
 * flag in Go's wording, which the CLI turns into one line and exit code 2.
 */
export type FlagKind = 'string' | 'bool' | 'int' | 'duration' | 'list';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  /** Shown in -help; not applied by the parser (defaults live in config/defaults.ts). */
  default?: string;
  /** Other names for the same flag (e.g. `dc` for `datacenter`). */
  aliases?: string[];
}

export type FlagValue = string | boolean | number | string[];

export interface ParsedFlags {
  /** Only the flags that were given, by canonical name. Durations in ms. */
  values: Map<string, FlagValue>;
  /** Positional arguments after the flags. */
  args: string[];
  help: boolean;
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(a, s);
  }
  const values = new Map<string, FlagValue>();
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) throw new UsageError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (name === 'help' || name === 'h') { help = true; continue; }
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    if (spec.kind === 'bool') {
      const v = raw === undefined ? true : parseBool(raw);
      if (v === undefined) throw new UsageError(`invalid boolean value "${raw}" for -${name}`);
      values.set(spec.name, v);
      continue;
    }
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      raw = argv[++i] as string;
    }
    values.set(spec.name, convert(spec, name, raw, values.get(spec.name)));
  }
  return { values, args: argv.slice(i), help };
}

function convert(spec: FlagSpec, name: string, raw: string, prev: FlagValue | undefined): FlagValue {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'int': {
      if (!/^[-+]?\d+$/.test(raw.trim())) throw new UsageError(`invalid value "${raw}" for flag -${name}: parse error`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new UsageError(`invalid value "${raw}" for flag -${name}: value out of range`);
      return n;
    }
    case 'duration': {
      const ms = parseDurationMs(raw);
      if (ms === undefined) throw new UsageError(`invalid value "${raw}" for flag -${name}: parse error`);
      return ms;
    }
    case 'list':
      return [...(Array.isArray(prev) ? prev : []), raw];
    case 'bool':
      return parseBool(raw) ?? false;
  }
}

/** Go's strconv.ParseBool. */
export function parseBool(raw: string): boolean | undefined {
  switch (raw) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True': return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False': return false;
    default: return undefined;
  }
}

/** The -help text: one line per flag, sorted. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = [...specs].sort((a, b) => a.name.localeCompare(b.name)).map((s) => {
    const arg = s.kind === 'bool' ? '' : s.kind === 'duration' ? '=<duration>' : s.kind === 'int' ? '=<int>' : '=<value>';
    const left = `  -${s.name}${arg}`;
    const def = s.default !== undefined ? ` (default ${s.default})` : '';
    return `${left.padEnd(30)} ${s.help}${def}`;
  });
  return rows.join('\n');
}
