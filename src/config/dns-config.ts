import { DEFAULTS } from './defaults.js';
import { parseDurationMs } from './duration.js';
import type { DnsConfig } from './types.js';

/** One `dns_config` object as found in a config file. */
export interface DnsConfigSource {
  file: string;
  value: unknown;
}

const SOA_KEYS: Record<string, keyof DnsConfig['soa']> = { refresh: 'refresh', retry: 'retry', expire: 'expire', min_ttl: 'minTtl' };

/**
 * Merges the files' `dns_config` objects (later files win, key by key) over
 * the defaults. Consul's keys: `service_ttl` (name or `prefix*` → duration),
 * `node_ttl`, `only_passing`, `enable_truncate`, `soa` {refresh, retry,
 * expire, min_ttl}. Unknown keys and bad values are problems, reported with
 * the rest.
 */
export function dnsConfigFrom(sources: readonly DnsConfigSource[], problems: string[]): DnsConfig {
  const d = DEFAULTS.dns;
  const out: DnsConfig = {
    serviceTtlMs: {}, nodeTtlMs: d.nodeTtlMs, onlyPassing: d.onlyPassing, enableTruncate: d.enableTruncate, soa: { ...d.soa },
  };
  for (const { file, value } of sources) {
    if (!isObject(value)) { problems.push(`${file}: dns_config must be an object`); continue; }
    for (const [key, v] of Object.entries(value)) {
      switch (key) {
        case 'service_ttl':
          if (!isObject(v)) { problems.push(`${file}: dns_config.service_ttl must be an object of durations`); break; }
          for (const [name, ttl] of Object.entries(v)) {
            const ms = durationMs(ttl);
            if (ms === undefined) problems.push(`${file}: dns_config.service_ttl.${name} must be a duration such as "30s"`);
            else out.serviceTtlMs[name] = ms;
          }
          break;
        case 'node_ttl': {
          const ms = durationMs(v);
          if (ms === undefined) problems.push(`${file}: dns_config.node_ttl must be a duration such as "30s"`);
          else out.nodeTtlMs = ms;
          break;
        }
        case 'only_passing':
        case 'enable_truncate':
          if (typeof v !== 'boolean') { problems.push(`${file}: dns_config.${key} must be a boolean`); break; }
          if (key === 'only_passing') out.onlyPassing = v; else out.enableTruncate = v;
          break;
        case 'soa':
          if (!isObject(v)) { problems.push(`${file}: dns_config.soa must be an object`); break; }
          for (const [sk, sv] of Object.entries(v)) {
            const field = SOA_KEYS[sk];
            if (!field) problems.push(`${file}: unknown key dns_config.soa.${sk}`);
            else if (!Number.isSafeInteger(sv) || (sv as number) < 0 || (sv as number) > 0xffffffff) problems.push(`${file}: dns_config.soa.${sk} must be a number of seconds`);
            else out.soa[field] = sv as number;
          }
          break;
        default:
          problems.push(`${file}: unknown key dns_config.${key}`);
      }
    }
  }
  if (DEFAULTS.dns.serviceTtlMs > 0 && out.serviceTtlMs['*'] === undefined) out.serviceTtlMs['*'] = DEFAULTS.dns.serviceTtlMs;
  return out;
}

/** A TTL as a duration string; DNS TTLs are 32-bit seconds. */
function durationMs(v: unknown): number | undefined {
  const ms = typeof v === 'string' ? parseDurationMs(v) : undefined;
  return ms !== undefined && ms >= 0 && ms / 1000 <= 0xffffffff ? ms : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
