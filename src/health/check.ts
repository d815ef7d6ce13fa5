import type { HealthStatus } from '../agent/definition.js';

/** What one run of a check produces: the status and Consul-style output text. */
export interface CheckResult {
  status: HealthStatus;
  output: string;
}

/**
 * Limits Consul applies to checks, written once here (they are behaviour, not
 * configuration: Consul has no flag for them either, except the output size).
 */
export const CheckLimits = {
  /** Intervals below this are raised to it, as Consul does (1 s). */
  minIntervalMs: 1000,
  /** HTTP/TCP timeout when a definition gives none: Consul's 10 s. */
  defaultTimeoutMs: 10_000,
  /** Bytes of output kept from an HTTP body or a TTL update: Consul's check_output_max_size (4 KiB). */
  outputMaxBytes: 4096,
  /**
   * Upper bound of the random delay before an interval check's first run.
   * Consul staggers over the whole interval; a short spread still avoids a
   * burst when an agent restarts with many checks, yet a new check turns
   * passing within a fraction of a second. The delay is min(interval, this).
   */
  firstRunStaggerMaxMs: 250,
} as const;

/** `s` cut to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
