import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MUSTER_BIN, ROOT, type Teardown } from './agent.js';

/**
 * The environment of a spawned process: tap's NODE_OPTIONS (its process-info
 * hook, ~0.4 s per start) is left out, so a CLI run costs what it costs a user.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `node bin/muster <args>` to completion (killed after `timeoutMs`), with `input` on stdin. */
export function runMuster(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MUSTER_BIN, ...args], {
      cwd: ROOT, env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    proc.once('error', (e) => { clearTimeout(timer); reject(e); });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    proc.stdin.end(opts.input ?? '');
  });
}

/** A long-running process whose stdout lines are collected; killed (SIGKILL) at teardown. */
export interface LineProcess {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
}

export function spawnLines(t: Teardown, command: string, args: string[], env: NodeJS.ProcessEnv = {}): LineProcess {
  const proc = spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const err: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  proc.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  return { proc, lines, exited, stderr: () => err.join('').slice(-2000) };
}
