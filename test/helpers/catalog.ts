// Reading an agent's catalog over its HTTP API, and waiting (with a deadline)
// for it to reach a state. Every wait that times out says what it saw last.
import { randomBytes } from 'node:crypto';
import { api } from './agent.js';
import { waitFor } from './wait.js';

/** A service as `/v1/catalog/node/:node` lists it (Consul's field names). */
export interface CatalogService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A check as `/v1/health/node/:node` lists it. */
export interface CatalogCheck {
  CheckID: string;
  Name: string;
  Status: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
  Definition: Record<string, unknown>;
}

/** A host name for `-hostname`, unique per call, so that service IDs are predictable and private to one test. */
export function uniqueHostname(prefix = 'it'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** The services the catalog holds on `node`, by service ID. */
export async function nodeServices(base: string, node: string): Promise<Record<string, CatalogService>> {
  const r = await api(base, 'GET', `/v1/catalog/node/${encodeURIComponent(node)}`);
  if (r.status !== 200) throw new Error(`GET /v1/catalog/node/${node} answered ${r.status}: ${r.text}`);
  const body = r.body as { Services?: Record<string, CatalogService> } | null;
  return body?.Services ?? {};
}

/** The checks the catalog holds on `node`. */
export async function nodeChecks(base: string, node: string): Promise<CatalogCheck[]> {
  const r = await api(base, 'GET', `/v1/health/node/${encodeURIComponent(node)}`);
  if (r.status !== 200) throw new Error(`GET /v1/health/node/${node} answered ${r.status}: ${r.text}`);
  return r.body as CatalogCheck[];
}

export interface WaitOptions {
  timeoutMs?: number;
}

/** Polls `read` until `done(value)`; on timeout the error shows the last value read. */
async function pollUntil<T, R>(
  read: () => Promise<T>, done: (value: T) => R | undefined | false, what: string, opts: WaitOptions,
): Promise<R> {
  let last: T | undefined;
  try {
    return await waitFor(async () => {
      last = await read();
      return done(last);
    }, { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 100, message: what });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}`);
  }
}

/** Waits until the catalog has service `id` on `node` (and it satisfies `until`, when given). */
export function waitForService(
  base: string, node: string, id: string, opts: WaitOptions & { until?: (s: CatalogService) => boolean } = {},
): Promise<CatalogService> {
  return pollUntil(
    () => nodeServices(base, node),
    (all) => { const s = all[id]; return s !== undefined && (opts.until?.(s) ?? true) ? s : undefined; },
    `service ${id} in the catalog of ${node}`, opts,
  );
}

/** Waits until the catalog no longer has service `id` on `node`. */
export async function waitForServiceGone(base: string, node: string, id: string, opts: WaitOptions = {}): Promise<void> {
  await pollUntil(
    () => nodeServices(base, node),
    (all) => !(id in all),
    `service ${id} gone from the catalog of ${node}`, opts,
  );
}

/** Waits until check `checkId` on `node` has `status`; resolves with the check. */
export function waitForCheck(
  base: string, node: string, checkId: string, status: string, opts: WaitOptions = {},
): Promise<CatalogCheck> {
  return pollUntil(
    async () => (await nodeChecks(base, node)).find((c) => c.CheckID === checkId),
    (c) => (c?.Status === status ? c : undefined),
    `check ${checkId} ${status}`, opts,
  );
}
