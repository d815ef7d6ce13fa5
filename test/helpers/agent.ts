import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The repository root (tests run from dist/test/helpers). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const MUSTER_BIN = resolve(ROOT, 'bin/muster');

/** What tap's Test gives us that we use; kept structural so helpers need no tap import. */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export type LogLine = Record<string, unknown>;

/** A `muster` process started by a test, with its JSON log lines parsed as they come. */
export interface MusterProcess {
  proc: ChildProcess;
  /** Every log line so far, parsed. */
  lines: LogLine[];
  /** Resolves with the first log line (present or future) that satisfies `pred`. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM; SIGKILL after 5 s) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The last `max` characters written to stderr. */
  stderr(max?: number): string;
}

export interface RunningAgent extends MusterProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The agent's node name (where its services show in the catalog). */
  node: string;
}

export interface AgentOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Defaults to `agent -dev` with any free HTTP, DNS, server and gossip ports, plus a unique -node. */
  command?: string[];
}

let counter = 0;

/**
 * Spawns `node bin/muster <argv>` from the repository root. The process is
 * killed (SIGKILL if SIGTERM does not do it) at teardown, even when the test
 * failed. Does not wait for anything: see startAgent and startSidecar.
 */
export function spawnMuster(t: Teardown, argv: string[], env: NodeJS.ProcessEnv = {}): MusterProcess {
  const proc = spawn(process.execPath, [MUSTER_BIN, ...argv], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  const stderrChunks: string[] = [];
  const stderr = (max = 500) => stderrChunks.join('').slice(-max);
  proc.stderr?.on('data', (d: Buffer) => { stderrChunks.push(d.toString()); });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: LogLine;
    try { line = JSON.parse(text) as LogLine; } catch { line = { msg: text }; }
    lines.push(line);
    for (const w of [...waiters]) if (w.pred(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  let stopped = false;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (stopped || proc.exitCode !== null || proc.signalCode !== null) { stopped = true; return exited; }
    stopped = true;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.teardown(async () => { await stop(); });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000) => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolveLine, reject) => {
      const waiter = { pred, resolve: (l: LogLine) => { clearTimeout(timer); resolveLine(l); } };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr()}`));
      }, timeoutMs);
      waiters.push(waiter);
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`muster exited (${code}) before the log line; stderr: ${stderr()}`)); });
    });
  };
  return { proc, lines, waitForLog, stop, stderr };
}

/**
 * Starts a real `muster agent` process on 127.0.0.1 with an ephemeral HTTP
 * port; resolves when its HTTP API listens. Killed (SIGKILL if SIGTERM does
 * not do it) at teardown, even when the test failed.
 */
export async function startAgent(t: Teardown, opts: AgentOptions = {}): Promise<RunningAgent> {
  const node = `test-${process.pid}-${++counter}`;
  // -dns-port 0: parallel tests must not all want Consul's 8600
  const command = opts.command ?? ['agent', '-dev', '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0', '-dns-port', '0', '-node', node, '-log-level', 'debug'];
  const p = spawnMuster(t, [...command, ...(opts.args ?? [])], opts.env);
  const listening = await p.waitForLog((l) => l.msg === 'http api listening');
  const addr = String(listening.addr);
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  const url = `http://127.0.0.1:${port}`;
  const self = await api(url, 'GET', '/v1/agent/self');
  const nodeName = String((self.body as { Config?: { NodeName?: unknown } } | undefined)?.Config?.NodeName ?? node);
  return { ...p, url, port, node: nodeName };
}

export interface SidecarOptions {
  /** Registry URI, e.g. `consul://127.0.0.1:8500`. */
  registry: string;
  /** Flags before the URI (`-hostname`, `-cleanup`, `-docker`, ...). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** When the sidecar counts as started; default: its first full sync with Docker is done. */
  ready?: (line: LogLine) => boolean;
  readyTimeoutMs?: number;
}

/** Starts a standalone `muster sidecar` (debug logs) and waits until `ready`. */
export async function startSidecar(t: Teardown, opts: SidecarOptions): Promise<MusterProcess> {
  const p = spawnMuster(t, ['sidecar', '-log-level', 'debug', ...(opts.args ?? []), opts.registry], opts.env);
  await p.waitForLog(opts.ready ?? ((l) => l.msg === 'synced with docker'), opts.readyTimeoutMs ?? 20_000);
  return p;
}

/** GET/PUT against the agent, returning status, headers and parsed body. */
export async function api(
  base: string, method: string, path: string, body?: unknown,
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = undefined;
  try { parsed = text === '' ? undefined : JSON.parse(text); } catch { parsed = text; }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
