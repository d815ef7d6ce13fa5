import axios, { type AxiosInstance, isAxiosError } from 'axios';
import type { HealthStatus } from '../agent/definition.js';
import type { Registration } from '../docker/types.js';
import { MusterError } from '../errors.js';
import type { Backend, RegisteredService } from './types.js';
import { serviceRegistrationJson } from './consul-json.js';

export interface ConsulBackendOptions {
  /** `http://host:port`, `https://host:port`, or `unix:///path/to.sock`. */
  address: string;
  token?: string;
  timeoutMs?: number;
}

/** A Consul agent (or a Muster agent) over its HTTP API, as registrator's consul adapter. */
export class ConsulBackend implements Backend {
  readonly name: string;
  private readonly http: AxiosInstance;

  constructor(opts: ConsulBackendOptions) {
    this.name = opts.address;
    const unix = opts.address.startsWith('unix://') ? opts.address.slice('unix://'.length) : undefined;
    this.http = axios.create({
      baseURL: unix ? 'http://localhost' : opts.address,
      ...(unix ? { socketPath: unix } : {}),
      timeout: opts.timeoutMs ?? 10_000,
      headers: opts.token ? { 'X-Consul-Token': opts.token } : {},
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call('get', '/v1/status/leader', undefined, signal);
  }

  async register(reg: Registration): Promise<void> {
    await this.call('put', '/v1/agent/service/register?replace-existing-checks=true', serviceRegistrationJson(reg.service));
  }

  async deregister(serviceId: string): Promise<void> {
    await this.call('put', `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`, undefined, undefined, [404]);
  }

  async services(): Promise<RegisteredService[]> {
    const body = await this.call('get', '/v1/agent/services');
    if (typeof body !== 'object' || body === null) return [];
    return Object.values(body as Record<string, Record<string, unknown>>).map((s) => ({
      id: String(s.ID ?? ''), name: String(s.Service ?? ''), address: String(s.Address ?? ''),
      port: Number(s.Port ?? 0), tags: Array.isArray(s.Tags) ? (s.Tags as string[]) : [],
      meta: (s.Meta && typeof s.Meta === 'object' ? s.Meta : {}) as Record<string, string>,
    }));
  }

  async updateCheck(checkId: string, status: HealthStatus, output: string): Promise<void> {
    await this.call('put', `/v1/agent/check/update/${encodeURIComponent(checkId)}`, { Status: status, Output: output });
  }

  private async call(method: 'get' | 'put', url: string, data?: unknown, signal?: AbortSignal, okStatuses: number[] = []): Promise<unknown> {
    try {
      const res = await this.http.request({ method, url, data, ...(signal ? { signal } : {}) });
      if (res.status === 200 || okStatuses.includes(res.status)) return res.data as unknown;
      const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
      throw new MusterError('ERR_BACKEND', `${this.name} answered ${res.status} to ${method.toUpperCase()} ${url}: ${text.trim().split('\n')[0]}`, { status: res.status });
    } catch (err) {
      if (err instanceof MusterError) throw err;
      const why = isAxiosError(err) ? (err.code ?? err.message) : String(err);
      throw new MusterError('ERR_BACKEND', `${this.name} unreachable: ${why}`, { cause: err, status: 503 });
    }
  }
}

/**
 * The registry URI of `muster sidecar`, registrator's forms: `consul://host:port`
 * (no host: CONSUL_HTTP_ADDR or 127.0.0.1:8500), `consul-tls://host:port`,
 * `consul-unix:///path/to.sock`.
 */
export function consulAddressFromUri(uri: URL, env: NodeJS.ProcessEnv): string {
  switch (uri.protocol) {
    case 'consul:': {
      if (uri.host) return `http://${uri.host}`;
      const fromEnv = env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500';
      return /^https?:\/\//.test(fromEnv) ? fromEnv : `http://${fromEnv}`;
    }
    case 'consul-tls:':
      return `https://${uri.host}`;
    case 'consul-unix:':
      return `unix://${uri.pathname}`;
    default:
      throw new MusterError('ERR_CONFIG', `unrecognized adapter: ${uri.href}`);
  }
}
