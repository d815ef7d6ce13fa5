import http from 'node:http';
import https from 'node:https';
import type { CheckDefinition } from '../agent/definition.js';
import { systemTimers, type Timers } from '../time.js';
import { CheckLimits, type CheckResult } from './check.js';
import { describeDialError } from './net-error.js';

/** One HTTP check, with Consul's defaults filled in. */
export interface HttpCheckConfig {
  url: string;
  /** Upper case; Consul's default GET. */
  method: string;
  header: Record<string, string[]>;
  /** Sent as the request body when not empty. */
  body: string;
  /** For https: accept any certificate. */
  tlsSkipVerify: boolean;
  /** Whole request, connect to last body byte read. */
  timeoutMs: number;
}

export function httpCheckConfig(def: CheckDefinition & { http: string }): HttpCheckConfig {
  return {
    url: def.http,
    method: (def.method ?? '').trim().toUpperCase() || 'GET',
    header: def.header ?? {},
    body: def.body ?? '',
    tlsSkipVerify: def.tlsSkipVerify ?? false,
    timeoutMs: def.timeoutMs !== undefined && def.timeoutMs > 0 ? def.timeoutMs : CheckLimits.defaultTimeoutMs,
  };
}

/** Headers Consul sends unless the definition overrides them. */
const DEFAULT_HEADERS: Readonly<Record<string, string>> = {
  'user-agent': 'Consul Health Check',
  accept: 'text/plain, text/*, */*',
};

/**
 * Runs the check once. Never rejects: every failure is a critical result whose
 * output is one line in Go's wording (`Get "http://x/y": dial tcp ...`).
 * 2xx → passing, 429 → warning, anything else → critical; the output holds the
 * first 4 KiB of the body. Aborting `signal` cancels the request (the result
 * is then critical and meant to be discarded).
 */
export function runHttpCheck(
  cfg: HttpCheckConfig,
  opts: { signal?: AbortSignal; timers?: Timers } = {},
): Promise<CheckResult> {
  // Go's url.Error prefix: method with only its first letter in upper case.
  const prefix = `${cfg.method.charAt(0)}${cfg.method.slice(1).toLowerCase()} "${cfg.url}"`;
  const critical = (why: string): CheckResult => ({ status: 'critical', output: `${prefix}: ${why}` });

  let url: URL;
  try {
    url = new URL(cfg.url);
  } catch {
    return Promise.resolve(critical('invalid URL'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.resolve(critical(`unsupported protocol scheme "${url.protocol.replace(/:$/, '')}"`));
  }
  if (opts.signal?.aborted) return Promise.resolve(critical('check stopped'));

  const timers = opts.timers ?? systemTimers;
  const outer = opts.signal;
  return new Promise<CheckResult>((resolve) => {
    const controller = new AbortController();
    let timedOut = false;
    let settled = false;
    const onOuterAbort = (): void => controller.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = timers.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, cfg.timeoutMs);

    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      controller.abort(); // releases the socket if the body was cut short
      resolve(result);
    };

    const requestOptions: https.RequestOptions = {
      method: cfg.method,
      headers: buildHeaders(cfg),
      // A fresh connection per run, closed after it (Consul disables keep-alive for checks).
      agent: false,
      signal: controller.signal,
      rejectUnauthorized: !cfg.tlsSkipVerify,
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        const code = res.statusCode ?? 0;
        const reason = res.statusMessage || http.STATUS_CODES[code] || '';
        const body = Buffer.concat(chunks).subarray(0, CheckLimits.outputMaxBytes).toString('utf8');
        const status = code >= 200 && code < 300 ? 'passing' : code === 429 ? 'warning' : 'critical';
        finish({ status, output: `HTTP ${cfg.method} ${cfg.url}: ${code} ${reason} Output: ${body}` });
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= CheckLimits.outputMaxBytes) return;
        chunks.push(chunk);
        size += chunk.length;
        // Enough output: the status is known, the rest of the body does not matter.
        if (size >= CheckLimits.outputMaxBytes) done();
      });
      res.on('end', done);
      // A body cut short (timeout, reset) still has a status code, as in Consul: report it with what arrived.
      res.on('error', done);
      res.on('close', done);
    };
    const req = url.protocol === 'https:'
      ? https.request(url, requestOptions, onResponse)
      : http.request(url, requestOptions, onResponse);
    req.on('error', (err) => {
      if (timedOut) finish(critical(`request timed out after ${cfg.timeoutMs}ms (Client.Timeout exceeded)`));
      else if (outer?.aborted) finish(critical('check stopped'));
      else finish(critical(describeRequestError(err, url)));
    });
    req.end(cfg.body === '' ? undefined : cfg.body);
  });
}

function buildHeaders(cfg: HttpCheckConfig): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { ...DEFAULT_HEADERS };
  for (const [name, values] of Object.entries(cfg.header)) {
    const key = name.toLowerCase();
    if (values.length === 0) continue;
    headers[key] = key === 'host' ? values[0] : values;
  }
  if (cfg.body !== '' && headers['content-length'] === undefined) {
    headers['content-length'] = Buffer.byteLength(cfg.body);
  }
  return headers;
}

function describeRequestError(err: unknown, url: URL): string {
  if (err instanceof Error && err.message === 'socket hang up') {
    return 'EOF (connection closed before a response)';
  }
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return describeDialError(err, `${url.hostname}:${port}`);
}
