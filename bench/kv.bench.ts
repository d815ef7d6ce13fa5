/**
 * bench/kv: single-node Muster vs single-node etcd (Debian's etcd-server), side by side.
 *
 * Workload, the same for both, over HTTP/1.1 keep-alive from this process:
 *   PUT of 256-byte values at concurrency 1, 16 and 64, then GET at 64.
 *   Muster: PUT /v1/kv/<key>, GET /v1/kv/<key>.
 *   etcd:   POST /v3/kv/put and /v3/kv/range (its JSON gateway; base64 key and value).
 * Each phase runs OPS requests or SECONDS seconds, whichever comes first.
 * Prints ops/s and p99 for both and the ratio muster/etcd (higher ops/s is
 * better; lower p99 is better). etcd is started with its data dir in a temp
 * folder and killed at the end; Muster as `agent -dev` (in memory).
 *
 * Run: npm run build && node dist/bench/kv.bench.js [OPS=20000] [SECONDS=10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OPS = Number(process.argv[2] ?? 20_000);
const SECONDS = Number(process.argv[3] ?? 10);
const VALUE = Buffer.alloc(256, 'x');

interface Target {
  name: string;
  put(i: number): [path: string, method: string, body: Buffer];
  get(i: number): [path: string, method: string, body: Buffer | undefined];
  port: number;
}

interface PhaseResult { ops: number; seconds: number; p99: number; p50: number; errors: number }

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  console.log(`workload: 256-byte values, each phase ${OPS} requests or ${SECONDS} s`);
  console.log('note: muster -dev keeps its state in memory (no fsync); etcd fsyncs every write to its WAL\n');
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-etcd-'));
  try {
    const musterPort = await startMuster(procs);
    const etcdPort = await startEtcd(procs, dir);
    const muster: Target = {
      name: 'muster', port: musterPort,
      put: (i) => [`/v1/kv/bench/k${i % 1000}`, 'PUT', VALUE],
      get: (i) => [`/v1/kv/bench/k${i % 1000}`, 'GET', undefined],
    };
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const etcd: Target = {
      name: 'etcd', port: etcdPort,
      put: (i) => ['/v3/kv/put', 'POST', Buffer.from(JSON.stringify({ key: b64(`bench/k${i % 1000}`), value: VALUE.toString('base64') }))],
      get: (i) => ['/v3/kv/range', 'POST', Buffer.from(JSON.stringify({ key: b64(`bench/k${i % 1000}`) }))],
    };
    const rows: string[] = [];
    for (const [label, conc, kind] of [['PUT c=1', 1, 'put'], ['PUT c=16', 16, 'put'], ['PUT c=64', 64, 'put'], ['GET c=64', 64, 'get']] as const) {
      const m = await phase(muster, conc, kind);
      const e = await phase(etcd, conc, kind);
      rows.push(`${label.padEnd(9)} muster ${fmt(m)} | etcd ${fmt(e)} | ratio ops/s ${(m.ops / m.seconds / (e.ops / e.seconds)).toFixed(2)}, p99 ${(m.p99 / e.p99).toFixed(2)}`);
      console.log(rows[rows.length - 1]);
    }
    await lockHandoff(musterPort);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two processes take turns on one Consul-style lock; handoff = one begins its release -> the other holds it. */
async function lockHandoff(port: number): Promise<void> {
  const rounds = 100;
  await send(new Agent(), port, 'PUT', '/v1/kv/bench-lock/turn', Buffer.from('a'));
  const worker = resolve(ROOT, 'dist/bench/lock-handoff-worker.js');
  const events: Array<{ who: string; event: string; round: number; t: number }> = [];
  const run = (me: string, other: string) => new Promise<void>((res, rej) => {
    const p = spawn(process.execPath, [worker, `http://127.0.0.1:${port}`, me, other, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error('lock handoff did not finish in 120 s')); }, 120_000);
    createInterface({ input: p.stdout! }).on('line', (l) => events.push(JSON.parse(l) as (typeof events)[number]));
    p.on('exit', (code) => { clearTimeout(timer); if (code === 0) res(); else rej(new Error(`worker ${me} exited ${code}`)); });
  });
  await Promise.all([run('a', 'b'), run('b', 'a')]);
  const at = (who: string, event: string, round: number) => events.find((e) => e.who === who && e.event === event && e.round === round)?.t;
  const handoffs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const ab = (at('b', 'acquire', i) ?? NaN) - (at('a', 'release', i) ?? NaN);
    const ba = (at('a', 'acquire', i + 1) ?? NaN) - (at('b', 'release', i) ?? NaN);
    for (const d of [ab, ba]) if (Number.isFinite(d)) handoffs.push(d);
  }
  handoffs.sort((x, y) => x - y);
  const pct = (p: number) => handoffs[Math.min(handoffs.length - 1, Math.ceil(p * handoffs.length) - 1)] ?? NaN;
  console.log(`\nlock handoff between two processes (Consul Lock algorithm, ${handoffs.length} handoffs): p50 ${pct(0.5).toFixed(2)} ms, p99 ${pct(0.99).toFixed(2)} ms`);
}

function fmt(r: PhaseResult): string {
  const err = r.errors > 0 ? ` (${r.errors} errors)` : '';
  return `${(r.ops / r.seconds).toFixed(0).padStart(6)} ops/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms${err}`;
}

async function phase(target: Target, concurrency: number, kind: 'put' | 'get'): Promise<PhaseResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < OPS && Date.now() < deadline) {
      const i = next++;
      const [path, method, body] = kind === 'put' ? target.put(i) : target.get(i);
      const t0 = process.hrtime.bigint();
      const status = await send(agent, target.port, method, path, body);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status !== 200) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
  return { ops: latencies.length, seconds, p50: pct(0.5), p99: pct(0.99), errors };
}

function send(agent: Agent, port: number, method: string, path: string, body: Buffer | undefined): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'Content-Length': body.length } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('error', () => resolveStatus(0));
    req.end(body);
  });
}

async function startMuster(procs: ChildProcess[]): Promise<number> {
  const p = spawn(process.execPath, [resolve(ROOT, 'bin/muster'), 'agent', '-dev', '-http-port', '0', '-serf-lan-port', '0', '-dns-port', '-1', '-docker', '', '-log-level', 'info', '-node', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(p);
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('muster did not start')), 20_000);
    createInterface({ input: p.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as { msg?: string; addr?: string };
      if (l.msg === 'http api listening') { clearTimeout(timer); res(Number(String(l.addr).split(':').pop())); }
    });
  });
}

async function startEtcd(procs: ChildProcess[], dir: string): Promise<number> {
  const port = 23790 + Math.floor(Math.random() * 100);
  const p = spawn('etcd', [
    '--data-dir', join(dir, 'data'), '--listen-client-urls', `http://127.0.0.1:${port}`,
    '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', `http://127.0.0.1:${port + 1000}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1000}`, '--initial-cluster', `default=http://127.0.0.1:${port + 1000}`,
  ], { stdio: 'ignore' });
  procs.push(p);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('etcd did not start');
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
