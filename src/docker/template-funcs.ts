/**
 * The functions a `-tags` template can call: registrator's own (master
 * `bridge.go`, same names, argument order and lenient bounds) plus Go's
 * builtins `index` and `len`. Left out: `httpGet` and `jsonParse` (network
 * I/O has no place in a pure mapping).
 *
 * Arguments are checked like Go checks them against the Go signature: a
 * string parameter takes a string (a missing value counts as ""), an int takes
 * an integer, a slice takes an array of strings (missing: empty), a map an
 * object of strings. A wrong type, a wrong count or an index Go would panic on
 * is an execution error.
 */
export class TemplateExecError extends Error {
  override readonly name = 'TemplateExecError';
}

export type TemplateFunc = (args: unknown[]) => unknown;

function fail(message: string): never {
  throw new TemplateExecError(message);
}

function arity(fn: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    fail(`wrong number of args for ${fn}: want ${min === max ? min : `${min}-${max}`} got ${args.length}`);
  }
}

function str(fn: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(`wrong type for value in ${fn}; expected string; got ${typeName(v)}`);
  return v;
}

function int(fn: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`wrong type for value in ${fn}; expected int; got ${typeName(v)}`);
  return v;
}

function strings(fn: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) fail(`wrong type for value in ${fn}; expected []string; got ${typeName(v)}`);
  return v as string[];
}

function stringMap(fn: string, v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(`wrong type for value in ${fn}; expected map[string]string; got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

export function typeName(v: unknown): string {
  if (v === undefined || v === null) return 'nil';
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v;
}

/** Go's s[i] on a slice with registrator's clamping; negative i counts from the end. */
function clampIndex(fn: string, i: number, s: readonly string[]): string {
  if (s.length === 0) fail(`${fn}: index out of range on an empty slice`);
  if (i < 0) {
    const back = -i;
    return back >= s.length ? (s[0] as string) : (s[s.length - back] as string);
  }
  return i >= s.length ? (s[s.length - 1] as string) : (s[i] as string);
}

/** Go's strings.Split: an empty separator splits into characters. */
function goSplit(s: string, sep: string): string[] {
  return sep === '' ? Array.from(s) : s.split(sep);
}

/** Go's strings.Replace(s, old, new, n): n < 0 replaces all. */
function goReplace(s: string, old: string, rep: string, n: number): string {
  if (n === 0 || old === rep) return s;
  if (old === '') {
    // Go matches an empty `old` before every character and at the end.
    const chars = Array.from(s);
    let out = '';
    let done = 0;
    for (let i = 0; i <= chars.length; i++) {
      if (n < 0 || done < n) { out += rep; done++; }
      out += chars[i] ?? '';
    }
    return out;
  }
  const parts = s.split(old);
  if (n < 0 || n >= parts.length - 1) return parts.join(rep);
  return parts.slice(0, n + 1).join(rep) + old + parts.slice(n + 1).join(old);
}

function regex(fn: string, src: string): RegExp {
  try {
    return new RegExp(src);
  } catch {
    return fail(`${fn}: invalid regular expression ${JSON.stringify(src)}`);
  }
}

export const TEMPLATE_FUNCS: Readonly<Record<string, TemplateFunc>> = Object.freeze({
  strSlice: (a) => {
    if (a.length < 1) fail('wrong number of args for strSlice: want at least 1 got 0');
    const v = str('strSlice', a[0]);
    const idx = a.slice(1).map((x) => int('strSlice', x));
    const [i, j] = idx;
    if (idx.some((x) => x < 0)) fail('strSlice: negative index');
    if (idx.length === 1 && i !== undefined) return v.length >= i ? v.slice(i) : v;
    if (idx.length === 2 && i !== undefined && j !== undefined && v.length >= i && v.length >= j) {
      if (i === 0) return v.slice(0, j);
      if (j < i) return v.slice(i);
      return v.slice(i, j);
    }
    return v;
  },
  sIndex: (a) => { arity('sIndex', a, 2); return clampIndex('sIndex', int('sIndex', a[0]), strings('sIndex', a[1])); },
  mIndex: (a) => { arity('mIndex', a, 2); return str('mIndex', stringMap('mIndex', a[1])[str('mIndex', a[0])]); },
  toUpper: (a) => { arity('toUpper', a, 1); return str('toUpper', a[0]).toUpperCase(); },
  toLower: (a) => { arity('toLower', a, 1); return str('toLower', a[0]).toLowerCase(); },
  replace: (a) => {
    arity('replace', a, 4);
    return goReplace(str('replace', a[3]), str('replace', a[1]), str('replace', a[2]), int('replace', a[0]));
  },
  join: (a) => { arity('join', a, 2); return strings('join', a[1]).join(str('join', a[0])); },
  split: (a) => { arity('split', a, 2); return goSplit(str('split', a[1]), str('split', a[0])); },
  splitIndex: (a) => {
    arity('splitIndex', a, 3);
    return clampIndex('splitIndex', int('splitIndex', a[0]), goSplit(str('splitIndex', a[2]), str('splitIndex', a[1])));
  },
  matchFirstElement: (a) => {
    arity('matchFirstElement', a, 2);
    const re = regex('matchFirstElement', str('matchFirstElement', a[0]));
    return strings('matchFirstElement', a[1]).find((e) => re.test(e)) ?? '';
  },
  matchAllElements: (a) => {
    arity('matchAllElements', a, 2);
    const re = regex('matchAllElements', str('matchAllElements', a[0]));
    return strings('matchAllElements', a[1]).filter((e) => re.test(e));
  },
  index: (a) => {
    if (a.length < 1) fail('wrong number of args for index: want at least 1 got 0');
    let cur: unknown = a[0];
    for (const key of a.slice(1)) {
      if (Array.isArray(cur)) {
        const i = int('index', key);
        if (i < 0 || i >= cur.length) fail(`index out of range: ${i}`);
        cur = cur[i];
      } else if (cur !== null && typeof cur === 'object') {
        cur = (cur as Record<string, unknown>)[str('index', key)];
      } else if (cur === undefined || cur === null) {
        fail('index of untyped nil');
      } else {
        fail(`can't index item of type ${typeName(cur)}`);
      }
    }
    return cur;
  },
  len: (a) => {
    arity('len', a, 1);
    const v = a[0];
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    return fail(`len of type ${typeName(v)}`);
  },
});
