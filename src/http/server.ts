import { setMaxListeners } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MusterError, errorMessage } from '../errors.js';
import { LazyAbort } from '../lazy-abort.js';
import type { Logger } from '../log.js';
import type { Agent } from '../agent/agent.js';
import { DEFAULTS } from '../config/defaults.js';
import { Router } from './router.js';
import { ChangeFeed } from './blocking-query.js';
import { text } from './response.js';
import type { ApiRequest, ApiResponse, Handler } from './types.js';
import type { RouteDeps } from './context.js';
import { decodeRequest, encodeResponse, type Forwarding } from './forward.js';
import { StateStore } from '../state/store.js';
import * as agentRoutes from './agent.js';
import * as catalogRoutes from './catalog.js';
import * as healthRoutes from './health.js';
import * as statusRoutes from './status.js';
import * as kvRoutes from './kv.js';
import * as sessionRoutes from './session.js';
import * as txnRoutes from './txn.js';
import * as operatorRoutes from './operator.js';
import * as metricsRoutes from './metrics.js';
import * as uiApiRoutes from './ui-api.js';
import { registerUi, UiAssets } from './ui.js';

export interface HttpApiOptions {
  host: string;
  port: number;
  maxBodyBytes?: number;
  /** Cluster mode: decides whether a request is served here or by another agent. */
  forwarding?: Forwarding;
}

/**
 * The Consul-compatible HTTP API. Routes translate HTTP to calls on the
 * agent and back; errors become Consul's plain-text answers with their
 * status. Closing aborts every held blocking query.
 */
export class HttpApi {
  private readonly server: Server;
  private readonly router = new Router();
  /** The web UI's page and assets: always served by this agent, never forwarded. */
  private readonly pages = new Router();
  private readonly feed: ChangeFeed;
  private readonly shutdown = new AbortController();
  /** Requests being served, aborted on shutdown. */
  private readonly inFlight = new Set<LazyAbort>();
  private readonly log: Logger;
  private readonly maxBodyBytes: number;

  constructor(private readonly agent: Agent, log: Logger, private readonly opts: HttpApiOptions) {
    this.log = log.child({ component: 'http' });
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULTS.http.maxBodyBytes;
    // every forwarded request in flight listens for the shutdown (AbortSignal.any in serveForwarded):
    // hundreds at once are normal, not a leak
    setMaxListeners(0, this.shutdown.signal);
    // a client agent has no store: only its /v1/agent routes run here, the rest is forwarded to a server
    const store = agent.store ?? new StateStore();
    this.feed = new ChangeFeed(store);
    const deps: RouteDeps = {
      agent, store, feed: this.feed, log: this.log,
      limits: { defaultWaitMs: DEFAULTS.http.defaultWaitMs, maxWaitMs: DEFAULTS.http.maxWaitMs },
    };
    const areas = agent.store ? [agentRoutes, catalogRoutes, healthRoutes, statusRoutes, kvRoutes, sessionRoutes, txnRoutes, operatorRoutes, uiApiRoutes] : [agentRoutes];
    areas.push(metricsRoutes);
    for (const area of areas) area.register(this.router, deps);
    // the web UI is served by this agent itself (a client too); its API calls are forwarded like any other
    if (agent.config.ui) registerUi(this.pages, new UiAssets(this.log));
    this.router.add('GET', '/', () => text(200, 'Consul Agent'));
    this.server = createServer((req, res) => { this.handle(req, res); });
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    this.server.requestTimeout = 0; // blocking queries hold requests up to 10 min + jitter
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    const reason = new MusterError('ERR_ABORTED', 'server shutting down');
    this.shutdown.abort(reason);
    for (const a of this.inFlight) a.abort(reason);
    this.feed.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
  }

  private get hasStore(): boolean {
    return this.agent.store !== undefined;
  }

  /** Runs a route here or through the cluster's forwarding; errors become Consul's answers. */
  private async dispatch(apiReq: ApiRequest, handler: Handler, forwarded: boolean, here = false, anyServer = false): Promise<ApiResponse> {
    const local = async () => handler(apiReq);
    try {
      return this.opts.forwarding && !here ? await this.opts.forwarding.dispatch(apiReq, local, forwarded, anyServer) : await local();
    } catch (err) {
      return errorResponse(err, this.log);
    }
  }

  /**
   * A request another agent forwarded over RPC. Routes that this agent does
   * not have (a client) or a method mismatch answer as they would over HTTP.
   */
  async serveForwarded(body: Buffer, signal: AbortSignal): Promise<Buffer> {
    const r = decodeRequest(body);
    const match = this.router.match(r.method === 'HEAD' ? 'GET' : r.method, r.path);
    if (match.kind === 'not-found') return encodeResponse(text(404, `Not found: ${r.path}`));
    if (match.kind === 'method-not-allowed') return encodeResponse(text(405, `method ${r.method} not allowed`, { Allow: match.allow.join(', ') }));
    const apiReq: ApiRequest = { ...r, params: match.params, signal: AbortSignal.any([signal, this.shutdown.signal]) };
    return encodeResponse(await this.dispatch(apiReq, match.handler, true, false, match.anyServer));
  }

  /** Client agents: a path with no local route goes to a server whole. */
  private async respondForwarded(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const controller = new AbortController();
    res.on('close', () => { if (!res.writableFinished) controller.abort(); });
    let out: ApiResponse;
    try {
      const body = await readBody(req, this.maxBodyBytes);
      const apiReq: ApiRequest = { method, path: url.pathname, params: {}, query: url.searchParams, headers: req.headers, body, signal: controller.signal };
      out = await this.dispatch(apiReq, () => Promise.resolve(text(404, `Not found: ${url.pathname}`)), false);
    } catch (err) {
      out = errorResponse(err, this.log);
    }
    if (res.destroyed) return;
    res.statusCode = out.status;
    for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
    res.end(method === 'HEAD' ? undefined : out.body ?? '');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    // the route pattern, not the path, labels the metrics: their number stays bounded
    const seen = { route: '_unknown' };
    this.respond(req, res, seen).catch((err: unknown) => {
      this.log.error({ err: errorMessage(err) }, 'request failed');
      if (!res.headersSent) { res.statusCode = 500; res.end(); } else res.destroy();
    }).finally(() => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      // a client that went away before the answer: nginx's 499 ("client closed request"), not the unsent 200
      this.agent.metrics.requestServed((req.method ?? 'GET').toUpperCase(), seen.route, res.headersSent ? res.statusCode : 499, durationMs);
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ method: req.method, url: req.url, status: res.statusCode, durationMs }, 'request');
      }
    });
  }

  private async respond(req: IncomingMessage, res: ServerResponse, seen: { route: string }): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const page = this.pages.match(method === 'HEAD' ? 'GET' : method, url.pathname);
    const match = page.kind === 'found' ? page : this.router.match(method === 'HEAD' ? 'GET' : method, url.pathname);
    if (match.kind === 'found') seen.route = match.pattern;
    let out: ApiResponse;
    if (match.kind !== 'found' && this.opts.forwarding && !this.hasStore && !url.pathname.startsWith('/v1/agent/')) {
      // a client agent: the servers know every other route
      seen.route = '_forwarded';
      return this.respondForwarded(req, res, method, url);
    }
    if (match.kind === 'not-found') {
      out = text(404, `Not found: ${url.pathname}`);
      await drain(req);
    } else if (match.kind === 'method-not-allowed') {
      out = text(405, `method ${method} not allowed`, { Allow: match.allow.join(', ') });
      await drain(req);
    } else {
      const abort = new LazyAbort();
      res.on('close', () => { if (!res.writableFinished) abort.abort(); });
      this.inFlight.add(abort);
      try {
        const body = await readBody(req, this.maxBodyBytes);
        const apiReq = new LocalRequest(method, url.pathname, match.params, url.searchParams, req.headers, body, abort);
        out = await this.dispatch(apiReq, match.handler, false, page.kind === 'found', match.anyServer);
      } catch (err) {
        out = errorResponse(err, this.log);
      } finally {
        this.inFlight.delete(abort);
      }
    }
    if (res.destroyed) return;
    res.statusCode = out.status;
    for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
    // Answers written while closing (held blocking queries) close their connection,
    // so close() does not wait for the forced cut of keep-alive sockets.
    if (this.shutdown.signal.aborted) res.setHeader('Connection', 'close');
    res.end(method === 'HEAD' ? undefined : out.body ?? '');
  }
}

function errorResponse(err: unknown, log: Logger): ApiResponse {
  if (err instanceof MusterError) {
    if (err.status >= 500 && err.code === 'ERR_INTERNAL') log.error({ err }, 'internal error');
    return text(err.status, err.message);
  }
  log.error({ err }, 'unexpected error');
  return text(500, errorMessage(err));
}

/** An ApiRequest received over HTTP here. (A class: a getter in an object literal is slow to create.) */
class LocalRequest implements ApiRequest {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly params: Record<string, string>,
    readonly query: URLSearchParams,
    readonly headers: IncomingHttpHeaders,
    readonly body: Buffer,
    private readonly abort: LazyAbort,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.reject(new MusterError('ERR_BODY_TOO_LARGE', `Request body(${declared} bytes) too large, max size: ${limit} bytes.`));
  }
  // no body (most GETs): nothing to wait for; the server discards the empty stream itself
  if (declared === 0 && req.headers['transfer-encoding'] === undefined) return Promise.resolve(EMPTY);
  // events rather than an async iterator: a small body arrives with its headers, and this answers in the same turn
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size));
    };
    const onData = (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        done(new MusterError('ERR_BODY_TOO_LARGE', `Request body too large, max size: ${limit} bytes.`));
        req.resume();
        return;
      }
      chunks.push(b);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new MusterError('ERR_ABORTED', 'the client closed the request before sending all of its body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

const EMPTY = Buffer.alloc(0);

async function drain(req: IncomingMessage): Promise<void> {
  req.resume();
  await new Promise<void>((resolve) => { if (req.readableEnded) resolve(); else { req.once('end', resolve); req.once('error', () => resolve()); } });
}
