// A strict reader of the Prometheus text exposition format 0.0.4, written for
// the tests: every line must be a HELP, a TYPE or a sample of the grammar;
// every sample's metric has a TYPE before it; a metric's lines are together;
// histogram buckets are cumulative and end with le="+Inf" equal to _count.
// Any deviation throws, naming the line.

export interface PromSample {
  /** The sample's own name (`x_bucket`, `x_sum`, ...). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseFloatValue(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`${where}: ${JSON.stringify(text)} is not a float`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `line[i] === '{'`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without "="`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} repeats`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value of ${name} is not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`${where}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${n ?? ''} in label value`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: expected "," or "}" after label ${name}`);
  }
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape in HELP`);
  });
}

/** The family a sample name belongs to, given the families typed so far. */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parsePrometheus(text: string): Map<string, PromFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');
  const families = new Map<string, PromFamily>();
  const helps = new Map<string, string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const seenSeries = new Set<string>();
  const enter = (name: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new Error(`lines of metric ${name} are not together`);
    if (current !== undefined) closed.add(current);
    current = name;
  };
  lines.forEach((line, n) => {
    const where = `line ${n + 1} (${JSON.stringify(line)})`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      enter(name);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`${where}: second HELP for ${name}`);
        helps.set(name, unescapeHelp(rest, where));
        const f = families.get(name);
        if (f) f.help = helps.get(name);
      } else {
        if (families.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        families.set(name, { name, type: rest as PromFamily['type'], help: helps.get(name), samples: [] });
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: not a sample line`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected a value and an optional timestamp`);
    const value = parseFloatValue(parts[0] as string, where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    const family = familyOf(name, families);
    if (!family) throw new Error(`${where}: sample of ${name} has no TYPE before it`);
    enter(family.name);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(key)) throw new Error(`${where}: duplicate series`);
    seenSeries.add(key);
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets cumulative in `le` order, the last `+Inf`, equal to `_count`; `_sum` present. */
function checkHistogram(f: PromFamily): void {
  const series = new Map<string, { buckets: Array<{ le: number; v: number }>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      entry.buckets.push({ le: parseFloatValue(le, `${f.name} le`), v: s.value });
    } else if (s.name === `${f.name}_sum`) entry.sum = s.value;
    else if (s.name === `${f.name}_count`) entry.count = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`);
  }
  for (const [key, e] of series) {
    const where = `${f.name}${key}`;
    if (e.buckets.length === 0) throw new Error(`${where}: no buckets`);
    for (let i = 1; i < e.buckets.length; i++) {
      const a = e.buckets[i - 1]!, b = e.buckets[i]!;
      if (!(b.le > a.le)) throw new Error(`${where}: le not increasing`);
      if (b.v < a.v) throw new Error(`${where}: buckets not cumulative at le=${b.le}`);
    }
    const last = e.buckets[e.buckets.length - 1]!;
    if (last.le !== Infinity) throw new Error(`${where}: the last bucket is not +Inf`);
    if (e.count === undefined || e.sum === undefined) throw new Error(`${where}: _sum or _count missing`);
    if (last.v !== e.count) throw new Error(`${where}: +Inf bucket ${last.v} differs from _count ${e.count}`);
  }
}

/** The value of the sample `name` whose labels include `labels` (undefined when none). */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  const s = f?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}
