import { hostname as osHostname } from 'node:os';
import { MusterError } from '../errors.js';
import type { FlagValue } from './flags.js';
import { DEFAULTS } from './defaults.js';
import type { SidecarConfig } from './types.js';

/** Builds the sidecar's config from parsed flags; every problem is collected. */
export function sidecarConfigFrom(values: ReadonlyMap<string, FlagValue>, problems: string[]): SidecarConfig {
  const str = (k: string) => values.get(k) as string | undefined;
  const int = (k: string, d: number) => (values.get(k) as number | undefined) ?? d;
  const bool = (k: string, d: boolean) => (values.get(k) as boolean | undefined) ?? d;
  const d = DEFAULTS.sidecar;
  const cfg: SidecarConfig = {
    hostname: str('hostname') || osHostname(),
    ip: str('ip') || undefined,
    internal: bool('internal', d.internal),
    explicit: bool('explicit', d.explicit),
    tags: str('tags') ?? d.tags,
    ttl: int('ttl', d.ttl),
    ttlRefresh: int('ttl-refresh', d.ttlRefresh),
    resync: int('resync', d.resync),
    deregister: d.deregister,
    cleanup: bool('cleanup', d.cleanup),
    retryAttempts: int('retry-attempts', d.retryAttempts),
    retryInterval: int('retry-interval', d.retryInterval),
    useIpFromLabel: str('useIpFromLabel') || undefined,
    requireLabel: str('require-label') || undefined,
  };
  const dereg = str('deregister') ?? d.deregister;
  if (dereg === 'always' || dereg === 'on-success') cfg.deregister = dereg;
  else problems.push(`-deregister must be "always" or "on-success", not "${dereg}"`);
  // registrator's cross-flag rules, in its order
  if ((cfg.ttl > 0) !== (cfg.ttlRefresh > 0)) problems.push('-ttl and -ttl-refresh must be specified together or not at all');
  else if (cfg.ttl > 0 && cfg.ttl <= cfg.ttlRefresh) problems.push('-ttl must be greater than -ttl-refresh');
  if (cfg.retryInterval <= 0) problems.push('-retry-interval must be greater than 0');
  if (cfg.ttl < 0 || cfg.ttlRefresh < 0 || cfg.resync < 0) problems.push('-ttl, -ttl-refresh and -resync must not be negative');
  if (cfg.retryAttempts < -1) problems.push('-retry-attempts must be -1 (forever) or more');
  return cfg;
}

export function configError(problems: string[]): MusterError {
  return new MusterError('ERR_CONFIG', problems.length === 1 ? (problems[0] as string) : `invalid configuration: ${problems.join('; ')}`);
}
