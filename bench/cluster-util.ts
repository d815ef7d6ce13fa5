/**
 * Helpers of bench/cluster: child processes with their last log lines kept in
 * memory, free loopback ports, one HTTP request with a deadline, percentiles,
 * and a cleanup that kills every child and removes every temp dir on exit,
 * on an error and on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- cleanup

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let cleaned = false;

/** Kills every child still running (SIGCONT first, then SIGKILL) and removes the temp dirs. Synchronous, so it also works from 'exit'. */
export function cleanupAll(): void {
  for (const p of children) {
    if (p.exitCode === null && p.signalCode === null) {
      try { p.kill('SIGCONT'); p.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
  cleaned = true;
}

export function registerDir(dir: string): void {
  dirs.add(dir);
}

/** Installs the exit, SIGINT and SIGTERM handlers and an overall time limit. */
export function installCleanup(overallLimitMs: number): void {
  process.on('exit', () => { if (!cleaned) cleanupAll(); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: killing the clusters and removing the temp dirs`);
      cleanupAll();
      process.exit(130);
    });
  }
  setTimeout(() => {
    console.error(`\nthe bench ran longer than its overall limit of ${overallLimitMs / 1000} s; stopping`);
    cleanupAll();
    process.exit(1);
  }, overallLimitMs).unref();
}

// ---------------------------------------------------------------- processes

/** A child process and the last lines of its stdout and stderr. */
export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  private readonly p: ChildProcess;

  constructor(readonly label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, private readonly keep = 400) {
    this.p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(this.p);
    const push = (line: string) => {
      this.lines.push(line);
      if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    };
    createInterface({ input: this.p.stdout! }).on('line', push);
    createInterface({ input: this.p.stderr! }).on('line', push);
    this.exited = new Promise((r) => {
      this.p.on('exit', (code, signal) => { push(`[bench] ${label} exited (code ${code}, signal ${signal})`); children.delete(this.p); r(); });
      this.p.on('error', (err) => { push(`[bench] ${label} spawn error: ${err.message}`); children.delete(this.p); r(); });
    });
  }

  get running(): boolean {
    return this.p.exitCode === null && this.p.signalCode === null;
  }

  /** Sends SIGKILL at once (the caller has taken its timestamp). */
  killNow(): void {
    if (this.running) this.p.kill('SIGKILL');
  }

  /** SIGTERM: a graceful stop. */
  terminate(): void {
    if (this.running) this.p.kill('SIGTERM');
  }

  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  tail(n: number): string[] {
    return this.lines.slice(-n);
  }
}

// ---------------------------------------------------------------- ports

const handedOut = new Set<number>();

/** A port the kernel hands out for port 0 on 127.0.0.1 (closed again); with `udp`, also free for UDP. */
export async function freePort(udp = false): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        const p = typeof a === 'object' && a ? a.port : 0;
        s.close(() => res(p));
      });
    });
    if (port === 0 || handedOut.has(port)) continue;
    if (udp && !(await udpFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port found');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); res(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

// ---------------------------------------------------------------- HTTP

export interface Req { method: string; path: string; body?: Buffer }
export interface Reply { status: number; body: string; ms: number; error: string }

/** One request to 127.0.0.1:port; never rejects. status 0 with `error` on a network error or when `timeoutMs` passes. */
export function send(agent: Agent, port: number, r: Req, timeoutMs: number): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolveReply) => {
    let done = false;
    const finish = (status: number, body: string, error: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolveReply({ status, body, ms: performance.now() - t0, error });
    };
    const headers: Record<string, string | number> = r.body ? { 'Content-Length': r.body.length, 'Content-Type': 'application/octet-stream' } : {};
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), ''));
      res.on('error', (err) => finish(0, '', err.message));
    });
    const timer = setTimeout(() => { finish(0, '', `timeout after ${timeoutMs} ms`); req.destroy(); }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(0, '', err.code ?? err.message));
    req.end(r.body);
  });
}

/** A one-off request without keep-alive. */
export function sendOnce(port: number, r: Req, timeoutMs: number): Promise<Reply> {
  const agent = new Agent({ keepAlive: false });
  return send(agent, port, r, timeoutMs).finally(() => agent.destroy());
}

/** Thrown from a `waitFor` check to stop waiting at once (other errors count as "not yet"). */
export class Fatal extends Error {}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check().catch((err: unknown) => { if (err instanceof Fatal) throw err; return undefined; });
    if (v !== undefined) return v;
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------- figures

/** The p-quantile (0..1) of sorted values, nearest rank. */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

export const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
export const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x >= 100 ? 0 : 1)} ms` : '-');
export const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : '-');
