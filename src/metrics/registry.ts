import { MusterError } from '../errors.js';

/** Label name → value. Every series of a metric carries exactly the metric's label names. */
export type Labels = Readonly<Record<string, string>>;

export interface MetricOptions {
  /** Consul's dotted form (`consul.raft.apply`); Prometheus output turns dots into underscores. */
  name: string;
  /** One line saying what is counted and in which unit. */
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds (inclusive), strictly increasing and finite; `+Inf` is implied. */
  buckets: readonly number[];
}

/** What was observed of one series: count, sum, extremes and the sum of squares (for Consul's Stddev). */
export interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
  sumSq: number;
}

export interface CounterSeries { labels: Labels; value: number; stats: Stats }
export interface GaugeSeries { labels: Labels; value: number }
export interface HistogramSeries {
  labels: Labels;
  /** Observations per bucket, not cumulative; one more entry than `buckets`: the `+Inf` bucket. */
  bucketCounts: number[];
  stats: Stats;
}

/** A copy of one metric at collection time; later recording does not change it. */
export type MetricFamily =
  | { type: 'counter'; name: string; help: string; labelNames: readonly string[]; series: CounterSeries[] }
  | { type: 'gauge'; name: string; help: string; labelNames: readonly string[]; series: GaugeSeries[] }
  | { type: 'histogram'; name: string; help: string; labelNames: readonly string[]; buckets: readonly number[]; series: HistogramSeries[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:.]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function emptyStats(): Stats {
  return { count: 0, sum: 0, min: 0, max: 0, sumSq: 0 };
}

function record(s: Stats, v: number): void {
  s.min = s.count === 0 ? v : Math.min(s.min, v);
  s.max = s.count === 0 ? v : Math.max(s.max, v);
  s.count++;
  s.sum += v;
  s.sumSq += v * v;
}

function invalid(message: string): MusterError {
  return new MusterError('ERR_INTERNAL', message);
}

/** The series of one metric by label values; validates that labels match the metric's label names. */
class SeriesTable<S extends { labels: Labels }> {
  private readonly rows = new Map<string, S>();

  constructor(private readonly name: string, readonly labelNames: readonly string[], private readonly create: (labels: Labels) => S) {}

  /** The series for these label values, created on first use. */
  get(labels: Labels): S {
    return this.lookup(labels, true) as S;
  }

  /** The series for these label values, if it was ever recorded. */
  find(labels: Labels): S | undefined {
    return this.lookup(labels, false);
  }

  /**
   * Runs on every recording (each HTTP request records two): the key is built without arrays
   * or JSON, each value prefixed by its length so that no two label sets share one.
   */
  private lookup(labels: Labels, create: boolean): S | undefined {
    let given = 0;
    for (const _ in labels) given++;
    let key = '';
    for (const n of this.labelNames) {
      const v = labels[n];
      if (typeof v !== 'string') given = -1;
      else key += `${v.length}:${v}`;
    }
    if (given !== this.labelNames.length) {
      throw invalid(`metric ${this.name} takes labels [${this.labelNames.join(', ')}], got [${Object.keys(labels).join(', ')}]`);
    }
    let row = this.rows.get(key);
    if (!row && create) {
      const copy: Record<string, string> = {};
      for (const n of this.labelNames) copy[n] = labels[n] as string;
      row = this.create(Object.freeze(copy));
      this.rows.set(key, row);
    }
    return row;
  }

  all(): S[] {
    return [...this.rows.values()];
  }
}

/** Only goes up; each `add` is also one observation in the series' stats (Consul's Counters). */
export class Counter {
  private readonly table: SeriesTable<CounterSeries>;

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[]) {
    this.table = new SeriesTable(name, labelNames, (labels) => ({ labels, value: 0, stats: emptyStats() }));
    if (labelNames.length === 0) this.table.get({});
  }

  inc(labels: Labels = {}): void {
    this.add(1, labels);
  }

  add(by: number, labels: Labels = {}): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw invalid(`counter ${this.name} can only go up by a finite amount, not ${by}`);
    const row = this.table.get(labels);
    row.value += by;
    record(row.stats, by);
  }

  /** The current total of one series (0 when it was never counted). */
  value(labels: Labels = {}): number {
    return this.table.find(labels)?.value ?? 0;
  }

  snapshot(): MetricFamily {
    return {
      type: 'counter', name: this.name, help: this.help, labelNames: this.table.labelNames,
      series: this.table.all().map((r) => ({ labels: r.labels, value: r.value, stats: { ...r.stats } })),
    };
  }
}

/** A value that goes up and down, usually set from a collect hook just before rendering. */
export class Gauge {
  private readonly table: SeriesTable<GaugeSeries>;

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[]) {
    this.table = new SeriesTable(name, labelNames, (labels) => ({ labels, value: 0 }));
    if (labelNames.length === 0) this.table.get({});
  }

  set(value: number, labels: Labels = {}): void {
    this.table.get(labels).value = value;
  }

  value(labels: Labels = {}): number {
    return this.table.find(labels)?.value ?? 0;
  }

  snapshot(): MetricFamily {
    return {
      type: 'gauge', name: this.name, help: this.help, labelNames: this.table.labelNames,
      series: this.table.all().map((r) => ({ labels: r.labels, value: r.value })),
    };
  }
}

/** Observations counted into fixed buckets, plus count, sum and extremes (Consul's Samples). */
export class Histogram {
  private readonly table: SeriesTable<HistogramSeries>;

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    if (labelNames.includes('le')) throw invalid(`histogram ${name}: "le" is reserved for buckets`);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw invalid(`histogram ${name}: buckets must be finite and strictly increasing`);
    }
    this.table = new SeriesTable(name, labelNames, (labels) => ({ labels, bucketCounts: new Array<number>(buckets.length + 1).fill(0), stats: emptyStats() }));
    if (labelNames.length === 0) this.table.get({});
  }

  observe(value: number, labels: Labels = {}): void {
    if (Number.isNaN(value)) throw invalid(`histogram ${this.name} cannot observe NaN`);
    const row = this.table.get(labels);
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    row.bucketCounts[i] = (row.bucketCounts[i] ?? 0) + 1;
    record(row.stats, value);
  }

  /** Observations so far in one series. */
  count(labels: Labels = {}): number {
    return this.table.find(labels)?.stats.count ?? 0;
  }

  snapshot(): MetricFamily {
    return {
      type: 'histogram', name: this.name, help: this.help, labelNames: this.table.labelNames, buckets: this.buckets,
      series: this.table.all().map((r) => ({ labels: r.labels, bucketCounts: [...r.bucketCounts], stats: { ...r.stats } })),
    };
  }
}

type Metric = Counter | Gauge | Histogram;

/**
 * The metrics of one process part (an agent owns one; there is no global
 * registry). Names are unique; `onCollect` hooks run before every collection,
 * so values read from elsewhere (Raft indexes, memory) are sampled when asked for.
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly hooks: Array<() => void> = [];

  counter(opts: MetricOptions): Counter {
    return this.add(new Counter(opts.name, opts.help, this.labelNames(opts)));
  }

  gauge(opts: MetricOptions): Gauge {
    return this.add(new Gauge(opts.name, opts.help, this.labelNames(opts)));
  }

  histogram(opts: HistogramOptions): Histogram {
    return this.add(new Histogram(opts.name, opts.help, this.labelNames(opts), [...opts.buckets]));
  }

  /** Runs before every `collect()`, in the order added. */
  onCollect(hook: () => void): void {
    this.hooks.push(hook);
  }

  /** Runs the hooks, then copies every metric, sorted by name. */
  collect(): MetricFamily[] {
    for (const hook of this.hooks) hook();
    return [...this.metrics.values()].map((m) => m.snapshot()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private labelNames(opts: MetricOptions): readonly string[] {
    if (!METRIC_NAME.test(opts.name)) throw invalid(`metric name ${JSON.stringify(opts.name)} is not valid`);
    const names = opts.labelNames ?? [];
    for (const n of names) {
      if (!LABEL_NAME.test(n) || n.startsWith('__')) throw invalid(`metric ${opts.name}: label name ${JSON.stringify(n)} is not valid`);
    }
    if (new Set(names).size !== names.length) throw invalid(`metric ${opts.name}: label names repeat`);
    return Object.freeze([...names]);
  }

  private add<M extends Metric>(m: M): M {
    const prom = prometheusName(m.name);
    for (const other of this.metrics.values()) {
      if (prometheusName(other.name) === prom) throw invalid(`metric ${m.name} is registered twice`);
    }
    this.metrics.set(m.name, m);
    return m;
  }
}

/** `consul.raft.apply` → `consul_raft_apply`: Prometheus names have no dots. */
export function prometheusName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_:]/g, '_');
}
