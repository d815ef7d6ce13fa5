// Talking DNS to a test agent: with Debian's `dig` (dnsutils), and raw over
// UDP and TCP for malformed input.
//
// Contract, as for Docker and etcd: a test calls `requireDig(t)` first and
// returns when it gets `undefined`. Without dig the test is skipped, except
// under CI=true, where it fails.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Test } from 'tap';
import type { MusterProcess } from './agent.js';

const DIG_TIMEOUT_MS = 15_000;

/** The dig binary: $MUSTER_DIG_BIN, else Debian's. */
export function digBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env['MUSTER_DIG_BIN'] ?? '/usr/bin/dig';
}

/** dig's path, or undefined after failing (CI) or skipping (elsewhere) the test `t`. */
export function requireDig(t: Test, opts: { ci?: boolean; bin?: string } = {}): string | undefined {
  const bin = opts.bin ?? digBinary();
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    const reason = `${bin} not found (apt-get install dnsutils)`;
    if (opts.ci ?? process.env['CI'] === 'true') t.fail(`dig required under CI=true but ${reason}`);
    else {
      try { t.plan(0, `dig not available: ${reason}`); } catch { t.skip(`dig not available: ${reason}`, () => {}); }
    }
    return undefined;
  }
}

/** The DNS port the agent logged (`dns listening`). */
export async function dnsPortOf(agent: MusterProcess): Promise<number> {
  const line = await agent.waitForLog((l) => l.msg === 'dns listening');
  const addr = String(line.addr);
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

export interface DigResult {
  /** `NOERROR`, `NXDOMAIN`, ... */
  status: string;
  /** Header flags (`qr`, `aa`, `tc`, ...). */
  flags: string[];
  /** Records by section, each as dig prints it split on white space: [name, ttl, class, type, ...data]. */
  answer: string[][];
  authority: string[][];
  additional: string[][];
  stdout: string;
}

/** Runs `dig @127.0.0.1 -p PORT <args>` and parses its sections. */
export function dig(bin: string, port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=5', ...args], { timeout: DIG_TIMEOUT_MS }, (err, stdout) => {
      if (err && stdout === '') { reject(err); return; }
      resolve(parseDig(stdout));
    });
  });
}

export function parseDig(stdout: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? '';
  const flags = (/;; flags: ([a-z ]*);/.exec(stdout)?.[1] ?? '').split(' ').filter((f) => f !== '');
  const sections: Record<'answer' | 'authority' | 'additional', string[][]> = { answer: [], authority: [], additional: [] };
  let current: keyof typeof sections | undefined;
  for (const line of stdout.split('\n')) {
    const header = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (header) { current = (header[1] as string).toLowerCase() as keyof typeof sections; continue; }
    if (line.trim() === '' || line.startsWith(';')) { if (line.trim() === '') current = undefined; continue; }
    if (current) sections[current].push(line.trim().split(/\s+/));
  }
  return { status, flags, ...sections, stdout };
}

/** Sends one datagram; resolves with the answer, or undefined when none comes within `timeoutMs`. */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const done = (v: Buffer | undefined) => { clearTimeout(timer); s.close(); resolve(v); };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.once('message', (m) => done(m));
    s.once('error', (err) => { clearTimeout(timer); s.close(); reject(err); });
    s.send(msg, port, '127.0.0.1');
  });
}

/**
 * Writes `bytes` on one TCP connection, then half-closes it; resolves with
 * every length-framed message received until the server closes or
 * `timeoutMs` passes.
 */
export function tcpExchange(port: number, bytes: Buffer, opts: { timeoutMs?: number; expect?: number } = {}): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const frames: Buffer[] = [];
    let pending: Buffer = Buffer.alloc(0);
    const finish = () => { clearTimeout(timer); sock.destroy(); resolve(frames); };
    const timer = setTimeout(finish, opts.timeoutMs ?? 2000);
    sock.on('connect', () => { sock.end(bytes); });
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        frames.push(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
      }
      if (opts.expect !== undefined && frames.length >= opts.expect) finish();
    });
    sock.on('end', finish);
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** A 2-byte length prefix and the message, as DNS over TCP frames it. */
export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}
