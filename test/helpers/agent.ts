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

export interface RunningAgent {
  proc: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Every log line so far, parsed. */
  lines: Array<Record<string, unknown>>;
  /** Resolves with the first log line (present or future) that satisfies `pred`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface AgentOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Defaults to `agent -dev -http-port 0` plus a unique -node. */
  command?: string[];
}

let counter = 0;

/**
 * Starts a real `muster agent` process on 127.0.0.1 with an ephemeral HTTP
 * port; resolves when its HTTP API listens. Killed (SIGKILL if SIGTERM does
 * not do it) at teardown, even when the test failed.
 */
export async function startAgent(t: Teardown, opts: AgentOptions = {}): Promise<RunningAgent> {
  const node = `test-${process.pid}-${++counter}`;
  const command = opts.command ?? ['agent', '-dev', '-http-port', '0', '-node', node, '-log-level', 'debug'];
  const proc = spawn(process.execPath, [MUSTER_BIN, ...command, ...(opts.args ?? [])], {
    cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  const stderr: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => { stderr.push(d.toString()); });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try { line = JSON.parse(text) as Record<string, unknown>; } catch { line = { msg: text }; }
    lines.push(line);
    for (const w of [...waiters]) if (w.pred(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  let stopped = false;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (stopped || proc.exitCode !== null || proc.signalCode !== null) { stopped = true; return proc.exitCode; }
    stopped = true;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.teardown(async () => { await stop(); });

  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolveLine, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.join('').slice(-500)}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolveLine(l); } });
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`agent exited (${code}) before the log line; stderr: ${stderr.join('').slice(-500)}`)); });
    });
  };
  const listening = await waitForLog((l) => l.msg === 'http api listening');
  const addr = String(listening.addr);
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return { proc, url: `http://127.0.0.1:${port}`, port, lines, waitForLog, stop };
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
