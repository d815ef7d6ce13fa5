import type { Labels, MetricFamily, Stats } from './registry.js';

export interface ConsulGauge { Name: string; Value: number; Labels: Labels }
export interface ConsulSampled {
  Name: string;
  Count: number;
  /** Sum per second over the interval: here, since the registry's start. */
  Rate: number;
  Sum: number;
  Min: number;
  Max: number;
  Mean: number;
  Stddev: number;
  Labels: Labels;
}

/** Consul's `/v1/agent/metrics` body. */
export interface ConsulMetrics {
  Timestamp: string;
  Gauges: ConsulGauge[];
  Points: unknown[];
  Counters: ConsulSampled[];
  Samples: ConsulSampled[];
}

/**
 * Consul's JSON shape. Consul reports the last 10-second interval; Muster's
 * counters and samples are totals since the agent started (`Rate` divides by
 * that time), which is what a Prometheus scrape expects as well.
 */
export function renderConsulJson(families: readonly MetricFamily[], opts: { nowMs: number; startedAtMs: number }): ConsulMetrics {
  const seconds = Math.max((opts.nowMs - opts.startedAtMs) / 1000, 1e-3);
  const out: ConsulMetrics = { Timestamp: goTimestamp(opts.nowMs), Gauges: [], Points: [], Counters: [], Samples: [] };
  for (const f of families) {
    switch (f.type) {
      case 'gauge':
        for (const s of f.series) out.Gauges.push({ Name: f.name, Value: s.value, Labels: s.labels });
        break;
      case 'counter':
        for (const s of f.series) out.Counters.push(sampled(f.name, s.labels, s.stats, seconds));
        break;
      case 'histogram':
        for (const s of f.series) out.Samples.push(sampled(f.name, s.labels, s.stats, seconds));
        break;
    }
  }
  return out;
}

function sampled(name: string, labels: Labels, s: Stats, seconds: number): ConsulSampled {
  const mean = s.count === 0 ? 0 : s.sum / s.count;
  // sample standard deviation, as go-metrics computes it
  const variance = s.count < 2 ? 0 : Math.max(0, (s.sumSq - (s.sum * s.sum) / s.count) / (s.count - 1));
  return { Name: name, Count: s.count, Rate: s.sum / seconds, Sum: s.sum, Min: s.min, Max: s.max, Mean: mean, Stddev: Math.sqrt(variance), Labels: labels };
}

/** Go's default time format in UTC, as Consul writes `Timestamp`: `2026-12-02 07:10:00 +0000 UTC`. */
export function goTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-02T07:10:00.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}
