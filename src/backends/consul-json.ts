import { formatDuration } from '../config/duration.js';
import type { CheckDefinition, ServiceDefinition } from '../agent/definition.js';

/** A service definition as Consul's `/v1/agent/service/register` body. */
export function serviceRegistrationJson(s: ServiceDefinition): Record<string, unknown> {
  return {
    ID: s.id, Name: s.name, Tags: s.tags, Address: s.address, Port: s.port, Meta: s.meta,
    EnableTagOverride: s.enableTagOverride, Weights: { Passing: s.weights.passing, Warning: s.weights.warning },
    Checks: s.checks.map(checkJson),
  };
}

export function checkJson(c: CheckDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => { if (v !== undefined) out[k] = v; };
  put('CheckID', c.checkId);
  put('Name', c.name);
  put('Notes', c.notes);
  put('Status', c.status);
  put('HTTP', c.http);
  put('Method', c.method);
  put('Header', c.header);
  put('Body', c.body);
  put('TLSSkipVerify', c.tlsSkipVerify);
  put('TCP', c.tcp);
  const d = (ms: number | undefined) => (ms === undefined ? undefined : formatDuration(ms));
  put('TTL', d(c.ttlMs));
  put('Interval', d(c.intervalMs));
  put('Timeout', d(c.timeoutMs));
  put('DeregisterCriticalServiceAfter', d(c.deregisterCriticalServiceAfterMs));
  return out;
}
