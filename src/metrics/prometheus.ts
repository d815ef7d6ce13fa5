import { prometheusName, type Labels, type MetricFamily } from './registry.js';

/** The Content-Type of the text exposition format this renders. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Prometheus text exposition format 0.0.4: per metric a HELP and a TYPE line,
 * then one line per series; histograms as cumulative `_bucket{le=...}` lines
 * ending with `le="+Inf"`, then `_sum` and `_count`.
 */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    const name = prometheusName(f.name);
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
    switch (f.type) {
      case 'counter':
      case 'gauge':
        for (const s of f.series) out.push(`${name}${labelSet(s.labels)} ${formatValue(s.value)}`);
        break;
      case 'histogram':
        for (const s of f.series) {
          let cumulative = 0;
          f.buckets.forEach((le, i) => {
            cumulative += s.bucketCounts[i] ?? 0;
            out.push(`${name}_bucket${labelSet(s.labels, formatValue(le))} ${cumulative}`);
          });
          out.push(`${name}_bucket${labelSet(s.labels, '+Inf')} ${s.stats.count}`);
          out.push(`${name}_sum${labelSet(s.labels)} ${formatValue(s.stats.sum)}`);
          out.push(`${name}_count${labelSet(s.labels)} ${s.stats.count}`);
        }
        break;
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** `{a="x",le="0.5"}`, or nothing for no labels. */
function labelSet(labels: Labels, le?: string): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  if (le !== undefined) pairs.push(`le="${le}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed (quotes stay as they are). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's float text as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
