import { MusterError } from '../errors.js';
import { checkTypeOf, type CheckDefinition, type ServiceDefinition } from './definition.js';

/** A check as the agent keeps it: id, name and owning service settled. */
export interface ResolvedCheck extends CheckDefinition {
  checkId: string;
  name: string;
  serviceId: string;
}

const META_KEY = /^[a-zA-Z0-9_-]+$/;

/** Validates a service registration; throws 400s with Consul's wording. */
export function validateService(def: ServiceDefinition): void {
  if (!def.name) throw new MusterError('ERR_MISSING_SERVICE_NAME', 'Missing service name');
  if (def.address === '0.0.0.0' || def.address === '::' || def.address === '[::]') {
    throw new MusterError('ERR_INVALID_SERVICE', 'Invalid service address');
  }
  if (!Number.isInteger(def.port) || def.port < 0 || def.port > 65535) {
    throw new MusterError('ERR_INVALID_SERVICE', `Invalid service port ${def.port}`);
  }
  const keys = Object.keys(def.meta);
  if (keys.length > 64) throw new MusterError('ERR_INVALID_SERVICE', 'Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs');
  for (const k of keys) {
    if (k.length > 128 || !META_KEY.test(k) || k.startsWith('consul-')) {
      throw new MusterError('ERR_INVALID_SERVICE', `Invalid Service Meta: Key '${k}' is not a valid metadata key`);
    }
    if ((def.meta[k] ?? '').length > 512) {
      throw new MusterError('ERR_INVALID_SERVICE', `Invalid Service Meta: Value for key '${k}' is too long (limit: 512 characters)`);
    }
  }
  if (def.weights.passing < 1) throw new MusterError('ERR_INVALID_SERVICE', 'Passing must be greater than 0');
}

/** Gives a service's checks their ids and names (`service:<id>`, `service:<id>:<n>`), then validates each. */
export function resolveServiceChecks(def: ServiceDefinition, opts: { scriptChecks: boolean }): ResolvedCheck[] {
  const many = def.checks.length > 1;
  return def.checks.map((c, i) => {
    const checkId = c.checkId || (many ? `service:${def.id}:${i + 1}` : `service:${def.id}`);
    const resolved: ResolvedCheck = { ...c, checkId, name: c.name || `Service '${def.name}' check`, serviceId: def.id };
    validateCheck(resolved, opts);
    return resolved;
  });
}

/** A stand-alone check (`/v1/agent/check/register`): the name is required, the id defaults to it. */
export function resolveCheck(def: CheckDefinition, opts: { scriptChecks: boolean }): ResolvedCheck {
  if (!def.name) throw new MusterError('ERR_MISSING_CHECK_NAME', 'Missing check name');
  const resolved: ResolvedCheck = { ...def, checkId: def.checkId || def.name, name: def.name, serviceId: def.serviceId ?? '' };
  validateCheck(resolved, opts);
  return resolved;
}

export function validateCheck(c: ResolvedCheck, opts: { scriptChecks: boolean }): void {
  const type = checkTypeOf(c);
  const interval = c.intervalMs ?? 0;
  switch (type) {
    case 'http': case 'tcp':
      if (interval <= 0) throw new MusterError('ERR_INVALID_CHECK', 'Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks');
      if (c.ttlMs) throw new MusterError('ERR_INVALID_CHECK', 'Invalid check: TTL must not be set with an Interval');
      if (type === 'http' && !/^https?:\/\//i.test(c.http ?? '')) throw new MusterError('ERR_INVALID_CHECK', `Invalid check: HTTP must be an http:// or https:// URL, not "${c.http}"`);
      if (type === 'tcp' && !/^.+:\d+$/.test(c.tcp ?? '')) throw new MusterError('ERR_INVALID_CHECK', `Invalid check: TCP must be host:port, not "${c.tcp}"`);
      break;
    case 'script':
      throw new MusterError('ERR_INVALID_CHECK', opts.scriptChecks
        ? 'Invalid check: script checks are not supported by Muster'
        : "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true");
    case 'grpc':
      throw new MusterError('ERR_INVALID_CHECK', 'Invalid check: gRPC checks are not supported by Muster');
    case 'ttl':
      break;
    default:
      throw new MusterError('ERR_INVALID_CHECK', 'Invalid check: TTL must be > 0 for TTL checks');
  }
  if (c.status !== undefined && !['passing', 'warning', 'critical'].includes(c.status)) {
    throw new MusterError('ERR_INVALID_CHECK_STATUS', "Status for checks must 'passing', 'warning', 'critical'");
  }
}
