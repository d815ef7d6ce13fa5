/**
 * The TTL of a service's answers, in whole seconds, from Consul's
 * `dns_config.service_ttl`: an exact name wins; otherwise the longest
 * `prefix*` that matches (`*` alone matches every name); otherwise 0.
 */
export function serviceTtlSeconds(ttlMs: Readonly<Record<string, number>>, service: string): number {
  const exact = ttlMs[service];
  if (exact !== undefined) return seconds(exact);
  let best: { len: number; ms: number } | undefined;
  for (const [key, ms] of Object.entries(ttlMs)) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (service.startsWith(prefix) && (best === undefined || prefix.length > best.len)) best = { len: prefix.length, ms };
  }
  return best ? seconds(best.ms) : 0;
}

/** DNS TTLs are whole seconds. */
export function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
