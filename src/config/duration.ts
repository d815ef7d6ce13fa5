/**
 * Go's time.ParseDuration / Duration.String, the way Consul writes durations
 * ("500ms", "30s", "1m30s", "15000ms"). Inside Muster durations are numbers of
 * milliseconds; these two functions are the edges.
 */
const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

/** Parses a Go duration into nanoseconds; undefined when it is not one. */
export function parseDurationNs(input: string): number | undefined {
  let s = input.trim();
  if (s === '') return undefined;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') { if (s[0] === '-') sign = -1; s = s.slice(1); }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return undefined;
    const unit = UNIT_NS[m[2] as string];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** Parses a Go duration into milliseconds (fractions kept); undefined when invalid. */
export function parseDurationMs(input: string): number | undefined {
  const ns = parseDurationNs(input);
  return ns === undefined ? undefined : ns / 1e6;
}

/**
 * A duration from a JSON body: Consul accepts a Go duration string or a number
 * of nanoseconds. Returns milliseconds; undefined when absent or invalid.
 */
export function durationFromJson(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value / 1e6;
  if (typeof value === 'string') return parseDurationMs(value);
  return undefined;
}

/** Formats milliseconds the way Go prints a Duration ("1m30s", "500ms", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out = '';
  if (rest < 1) {
    // Go switches unit below a millisecond: "500µs", "1.5µs", "10ns".
    const ns = Math.round(rest * 1e6);
    out = ns < 1000 ? `${ns}ns` : `${trimFloat(ns / 1000)}µs`;
  } else if (rest < 1000) {
    out = `${trimFloat(rest)}ms`;
  } else {
    const h = Math.floor(rest / 3_600_000); rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000); rest -= m * 60_000;
    const s = rest / 1000;
    if (h > 0) out += `${h}h`;
    if (h > 0 || m > 0) out += `${m}m`;
    out += `${trimFloat(s)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFloat(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(9)));
}
