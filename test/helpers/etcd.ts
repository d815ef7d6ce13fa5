// A real etcd (Debian's etcd-server, v3.4) for the etcd backend's tests.
//
// Contract, as for Docker: a test calls `requireEtcd(t)` first and returns when it
// gets `undefined`. Without the binary the test is skipped, except under CI=true,
// where it fails. `startEtcd` runs one member on 127.0.0.1 with free ports and a
// temporary data dir; it is killed and the dir removed at the test's teardown, even
// when the test failed. Small clients of the v3 JSON gateway let tests look at what
// the backend wrote without going through it.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Teardown } from './agent.js';
import { waitFor } from './wait.js';

const READY_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;

/** The etcd binary: $MUSTER_ETCD_BIN, else Debian's. */
export function etcdBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env['MUSTER_ETCD_BIN'] ?? '/usr/bin/etcd';
}

/** The binary's path, or undefined after failing (CI) or skipping (elsewhere) the test `t`. */
export function requireEtcd(t: Test, opts: { ci?: boolean } = {}): string | undefined {
  const bin = etcdBinary();
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    const reason = `${bin} not found (apt-get install etcd-server, see .ci/run)`;
    if (opts.ci ?? process.env['CI'] === 'true') t.fail(`etcd required under CI=true but ${reason}`);
    else {
      try { t.plan(0, `etcd not available: ${reason}`); } catch { t.skip(`etcd not available: ${reason}`, () => {}); }
    }
    return undefined;
  }
}

export interface EtcdServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  dataDir: string;
  /** SIGKILLs the member and resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts the member again on the same ports (`freshData`: after wiping its data, as a lost disk). */
  restart(opts?: { freshData?: boolean }): Promise<void>;
  /** The last `max` characters of its log. */
  log(max?: number): string;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a one-member etcd cluster and resolves once it has a leader. */
export async function startEtcd(t: Teardown, bin = etcdBinary()): Promise<EtcdServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-etcd-'));
  const port = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const logChunks: string[] = [];
  const log = (max = 2_000) => logChunks.join('').slice(-max);

  const spawnMember = () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));
    const child = spawn(bin, [
      '--name', 'muster-test', '--data-dir', join(dataDir, 'member'),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `muster-test=${peer}`, '--initial-cluster-state', 'new',
      '--logger', 'zap', '--log-outputs', 'stderr',
    ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => { logChunks.push(d.toString()); if (logChunks.length > 200) logChunks.splice(0, 100); });
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    proc = child;
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGKILL');
    await exited;
  };
  const ready = async () => {
    const p = proc;
    await waitFor(async () => {
      if (p && (p.exitCode !== null || p.signalCode !== null)) throw new Error(`etcd exited (${p.exitCode ?? p.signalCode}): ${log()}`);
      try {
        const status = await gateway(url, '/v3/maintenance/status', {}, 1_000);
        return typeof status.leader === 'string' && status.leader !== '0';
      } catch {
        return false;
      }
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: `etcd on ${url} has no leader; log: ${log(500)}` });
  };

  t.teardown(async () => {
    await kill();
    rmSync(dataDir, { recursive: true, force: true });
  });
  spawnMember();
  await ready();
  return {
    url, port, dataDir, kill, log,
    restart: async (opts = {}) => {
      await kill();
      if (opts.freshData) rmSync(join(dataDir, 'member'), { recursive: true, force: true });
      spawnMember();
      await ready();
    },
  };
}

/** One v3 JSON-gateway call; throws on a non-200 answer. */
export async function gateway(url: string, path: string, body: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`etcd answered ${res.status} to ${path}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export interface StoredKey {
  key: string;
  value: string;
  /** Decimal lease ID, '0' for none. */
  lease: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown) => Buffer.from(typeof s === 'string' ? s : '', 'base64').toString('utf8');

/** Every key under `prefix` (a string prefix match). */
export async function etcdKeys(url: string, prefix: string): Promise<StoredKey[]> {
  const end = Buffer.from(prefix, 'utf8');
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  const body = await gateway(url, '/v3/kv/range', { key: b64(prefix), range_end: end.toString('base64') });
  const kvs = (body.kvs ?? []) as Array<Record<string, unknown>>;
  return kvs.map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value), lease: typeof kv.lease === 'string' ? kv.lease : '0' }));
}

/** The key, or undefined when etcd does not hold it. */
export async function etcdKey(url: string, key: string): Promise<StoredKey | undefined> {
  const body = await gateway(url, '/v3/kv/range', { key: b64(key) });
  const kv = ((body.kvs ?? []) as Array<Record<string, unknown>>)[0];
  return kv ? { key, value: unb64(kv.value), lease: typeof kv.lease === 'string' ? kv.lease : '0' } : undefined;
}

export async function etcdPut(url: string, key: string, value: string, lease?: string): Promise<void> {
  await gateway(url, '/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
}

export async function etcdDelete(url: string, key: string): Promise<void> {
  await gateway(url, '/v3/kv/deleterange', { key: b64(key) });
}

export interface LeaseInfo {
  /** Seconds left; -1 when etcd does not know the lease. */
  ttl: number;
  grantedTtl: number;
  keys: string[];
}

export async function etcdLease(url: string, id: string): Promise<LeaseInfo> {
  const body = await gateway(url, '/v3/lease/timetolive', { ID: id, keys: true });
  return {
    ttl: Number(body.TTL ?? -1),
    grantedTtl: Number(body.grantedTTL ?? 0),
    keys: ((body.keys ?? []) as unknown[]).map(unb64),
  };
}

export async function etcdRevoke(url: string, id: string): Promise<void> {
  await gateway(url, '/v3/lease/revoke', { ID: id });
}
