/**
 * bench/cluster: a 3-server Muster cluster vs a 3-member etcd cluster
 * (Debian's etcd), side by side in one run, everything on 127.0.0.1. Both
 * keep their data dirs in one temp folder and fsync their logs (Muster's
 * Raft WAL, etcd's WAL, default settings). Prints figures and ratios; nothing
 * is asserted.
 *
 * 1. Throughput and latency over HTTP/1.1 keep-alive from this process:
 *    PUT of 256-byte values at concurrency 1, 16 and 64 to the leader, PUT at
 *    16 through a follower, and linearizable GETs at 64 from the leader.
 *    Muster: PUT /v1/kv/bench/<i>, GET /v1/kv/bench/<i>?consistent.
 *    etcd:   POST /v3/kv/put, POST /v3/kv/range (JSON gateway, serializable=false).
 *    Each phase runs OPS requests or SECONDS seconds, whichever comes first,
 *    split into ROUNDS slices that alternate between the systems (M E E M M E
 *    ...), so that a slow spell of this shared machine hits both alike; the
 *    slices of one system are summed.
 * 2. Failover, REPS times each: three probe loops, one per server, each
 *    issuing a write every 10 ms (open loop, 8 s timeout per write); SIGKILL
 *    of the leader; the window is the time from the kill to the first
 *    acknowledged write issued after it, through any surviving server. The
 *    killed member is restarted (same data dir and ports) and the cluster
 *    waited healthy before the next repetition.
 * 3. One write during the election, REPS times each: SIGKILL of the leader,
 *    then at once one write to a follower, awaited (15 s timeout).
 *
 * Run: npm run build && node dist/bench/cluster.bench.js [OPS=3000] [SECONDS=5] [REPS=5] [LOG_LEVEL=warn] [SECTIONS=1,2,3] [ROUNDS=4]
 * (LOG_LEVEL is Muster's -log-level; log tails are printed when something goes wrong.)
 * Section 1 starts with 1000 uncounted PUTs at c=8, then 3 s at c=1, to each leader, then 500 at
 * c=8 through each follower (Node's JIT warm-up; MUSTER_BENCH_WARMUP_C1_S sets the c=1 part, 0
 * leaves it out).
 * MUSTER_BENCH_PROF_DIR=dir runs the Muster servers with --cpu-prof into that directory
 * (the servers are stopped with SIGTERM at the end so they write them; one SIGKILLed in
 * section 2 or 3 leaves none).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EtcdCluster, MusterCluster, isRunning, type ClusterSystem, type Member } from './cluster-systems.js';
import { cleanupAll, installCleanup, mean, ms, pct, ratio, registerDir, send, sleep, type Reply } from './cluster-util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OPS = Number(process.argv[2] ?? 3000);
const SECONDS = Number(process.argv[3] ?? 5);
const REPS = Number(process.argv[4] ?? 5);
const LOG_LEVEL = process.argv[5] ?? 'warn';
const SECTIONS = new Set((process.argv[6] ?? '1,2,3').split(','));
/** Each throughput phase runs as this many alternating slices per system (OPS and SECONDS split among them). */
const ROUNDS = Math.max(1, Number(process.argv[7] ?? 4));
const VALUE = Buffer.alloc(256, 'x');
/** Per-request timeout in the throughput phases. */
const PHASE_REQ_TIMEOUT_MS = 10_000;
const WARMUP_OPS = 1000;
/**
 * Then this long at c=1 (MUSTER_BENCH_WARMUP_C1_S, default 3; 0 for none). After 1000 PUTs at
 * c=8 alone, a fresh Muster leader's c=1 throughput still climbed from about 450 to 900 ops/s
 * over its first 10 s of c=1 load (JIT and heap sizing), while etcd's was flat from the start:
 * the c=1 phase measured Muster's warm-up rather than its steady state.
 */
const WARMUP_C1_S = Number(process.env['MUSTER_BENCH_WARMUP_C1_S'] ?? 3);
/** Then this many PUTs at c=8 through each follower (the phase through a follower is otherwise its first load). */
const WARMUP_FOLLOWER_OPS = 500;
const PROBE_EVERY_MS = 10;
const PROBE_TIMEOUT_MS = 8_000;
/** A failover whose window exceeds this is reported with the members' log tails. */
const SLOW_FAILOVER_MS = 10_000;
/** Give up waiting for the first acknowledged write after a kill. */
const WINDOW_CAP_MS = 30_000;
const SINGLE_WRITE_TIMEOUT_MS = 15_000;
const RESTART_TIMEOUT_MS = 60_000;
const OVERALL_LIMIT_MS = 30 * 60_000;

interface PhaseResult { ok: number; seconds: number; latencies: number[]; p50: number; p99: number; errors: number; firstError: string }

async function main(): Promise<void> {
  installCleanup(OVERALL_LIMIT_MS);
  printMachine();
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-cluster-'));
  registerDir(dir);
  console.log(`data dirs under ${dir} (${fsType(dir)})\n`);

  let t0 = performance.now();
  const muster = await MusterCluster.create(ROOT, dir, LOG_LEVEL);
  const etcd = await EtcdCluster.create(dir, LOG_LEVEL);
  try {
    await muster.start();
  } catch (err) {
    dumpLogs(muster, 40);
    throw err;
  }
  console.log(`muster: 3 servers up, leader ${(await muster.leader(10_000)).name}, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t0 = performance.now();
  try {
    await etcd.start();
  } catch (err) {
    dumpLogs(etcd, 40);
    throw err;
  }
  console.log(`etcd:   3 members up, leader ${(await etcd.leader(10_000)).name}, in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  if (SECTIONS.has('1')) await throughput(muster, etcd);
  if (SECTIONS.has('2')) await failover(muster, etcd);
  if (SECTIONS.has('3')) await singleWrite(muster, etcd);
  // CPU profiles are written by servers that exit on their own
  if (process.env['MUSTER_BENCH_PROF_DIR']) await muster.terminate(10_000);
  console.log('\nfigures are noisy: the machine is shared with other test runs, and both clusters plus this client share its cores');
}

function printMachine(): void {
  const etcdVersion = (() => {
    try {
      return execFileSync('etcd', ['--version'], { encoding: 'utf8' }).split('\n').filter(Boolean).slice(0, 1).join(', ');
    } catch (err) {
      return `etcd --version failed: ${(err as Error).message}`;
    }
  })();
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`node ${process.version}, muster ${pkg.version}, ${etcdVersion} (/usr/bin/etcd, default flags: heartbeat 100 ms, election 1000 ms, pre-vote off)`);
  console.log(`workload: 256-byte values, each phase ${OPS} requests or ${SECONDS} s; ${REPS} repetitions of each failover measurement; muster -log-level ${LOG_LEVEL}`);
  console.log('note: both fsync every write before acknowledging it: Muster its Raft WAL (one fsync per batch), etcd its WAL (default, no --unsafe-no-fsync);');
  console.log('      Muster Raft timers: heartbeat 100 ms, election 0.7-1.4 s; all traffic on 127.0.0.1');
}

function fsType(dir: string): string {
  try {
    return execFileSync('df', ['--output=fstype', dir], { encoding: 'utf8' }).split('\n')[1]?.trim() ?? '?';
  } catch {
    return '?';
  }
}

const dumped = new Set<string>();

/** Prints the last `n` log lines of every member; with `once`, only the first time for that key. */
function dumpLogs(sys: ClusterSystem, n: number, once?: string): void {
  if (once !== undefined) {
    if (dumped.has(once)) {
      console.log(`  (log tails were printed for the first occurrence above)`);
      return;
    }
    dumped.add(once);
  }
  for (const m of sys.members) {
    console.log(`  --- last ${n} log lines of ${sys.name} ${m.name} ---`);
    for (const l of m.proc?.tail(n) ?? []) console.log(`  ${l}`);
  }
}

// ---------------------------------------------------------------- 1. throughput

async function throughput(muster: MusterCluster, etcd: EtcdCluster): Promise<void> {
  console.log(`1. throughput, HTTP/1.1 keep-alive (ops/s counts acknowledged requests; latency percentiles over them)`);
  type Kind = 'put' | 'get';
  const phases: Array<[label: string, conc: number, kind: Kind, via: 'leader' | 'follower']> = [
    ['PUT c=1', 1, 'put', 'leader'], ['PUT c=16', 16, 'put', 'leader'], ['PUT c=64', 64, 'put', 'leader'],
    ['PUT c=16 via follower', 16, 'put', 'follower'], ['GET c=64 consistent', 64, 'get', 'leader'],
  ];
  const written = new Map<string, number>();
  // Node compiles its hot paths during the first few hundred requests; etcd gets the same warm-up
  for (const sys of [muster, etcd] as ClusterSystem[]) {
    const leader = await sys.leader(10_000);
    const w = await phase(sys, leader.httpPort, 8, 'put', 1000, WARMUP_OPS);
    written.set(sys.name, w.ok);
    if (WARMUP_C1_S > 0) await phase(sys, leader.httpPort, 1, 'put', 1000, Number.MAX_SAFE_INTEGER, WARMUP_C1_S);
    // a follower's own HTTP and forwarding paths are compiled by the first requests it serves
    for (const f of sys.members.filter((m) => m !== leader && isRunning(m))) await phase(sys, f.httpPort, 8, 'put', 1000, WARMUP_FOLLOWER_OPS);
  }
  console.log(`(warm-up, not counted: ${WARMUP_OPS} PUTs at c=8${WARMUP_C1_S > 0 ? `, then ${WARMUP_C1_S} s of PUTs at c=1,` : ''} to each leader, then ${WARMUP_FOLLOWER_OPS} at c=8 through each follower)`);
  for (const [label, conc, kind, via] of phases) {
    // ROUNDS alternating slices of the phase per system, so that the machine's drift (other
    // tenants, page cache, the host) falls on both alike instead of on whichever ran second
    // (one keep-alive pool per system for all its slices: each slice opening its connections
    // afresh would measure connection set-up bursts ROUNDS times over)
    const parts: Record<string, PhaseResult[]> = { [muster.name]: [], [etcd.name]: [] };
    const pools: Record<string, Agent> = { [muster.name]: new Agent({ keepAlive: true, maxSockets: conc }), [etcd.name]: new Agent({ keepAlive: true, maxSockets: conc }) };
    for (let round = 0; round < ROUNDS; round++) {
      for (const sys of (round % 2 === 0 ? [muster, etcd] : [etcd, muster]) as ClusterSystem[]) {
        const leader = await sys.leader(10_000);
        const target = via === 'leader' ? leader : (sys.members.find((m) => m !== leader && isRunning(m)) as Member);
        const keys = Math.max(1, Math.min(1000, written.get(sys.name) ?? 1000));
        const r = await phase(sys, target.httpPort, conc, kind, keys, Math.ceil(OPS / ROUNDS), SECONDS / ROUNDS, pools[sys.name]);
        if (kind === 'put') written.set(sys.name, Math.max(written.get(sys.name) ?? 0, r.ok));
        parts[sys.name]?.push(r);
      }
    }
    for (const pool of Object.values(pools)) pool.destroy();
    const res = [merge(parts[muster.name] ?? []), merge(parts[etcd.name] ?? [])];
    const [m, e] = res as [PhaseResult, PhaseResult];
    console.log(`${label.padEnd(22)} muster ${fmt(m)} | etcd ${fmt(e)} | muster/etcd ops/s ${ratio(m.ok / m.seconds, e.ok / e.seconds)}, p50 ${ratio(m.p50, e.p50)}, p99 ${ratio(m.p99, e.p99)}`);
    if (m.errors > 0) {
      console.log(`  muster errors: ${m.errors}, first: ${m.firstError}`);
      dumpLogs(muster, 20, 'phase');
    }
    if (e.errors > 0) console.log(`  etcd errors: ${e.errors}, first: ${e.firstError}`);
  }
}

function fmt(r: PhaseResult): string {
  const err = r.errors > 0 ? ` (${r.errors} errors)` : '';
  return `${(r.ok / r.seconds).toFixed(0).padStart(5)} ops/s p50 ${r.p50.toFixed(2).padStart(6)} ms p99 ${r.p99.toFixed(2).padStart(6)} ms${err}`;
}

/** One system's rounds of a phase as one result: requests and seconds summed, percentiles over all latencies. */
function merge(parts: PhaseResult[]): PhaseResult {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const errors = parts.reduce((n, p) => n + p.errors, 0);
  return {
    ok: latencies.length, seconds: parts.reduce((n, p) => n + p.seconds, 0), latencies,
    p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), errors, firstError: parts.find((p) => p.firstError !== '')?.firstError ?? '',
  };
}

/** Runs one phase (or slice) over `pool` when given (left open), else over a pool of its own. */
async function phase(sys: ClusterSystem, port: number, concurrency: number, kind: 'put' | 'get', keys: number, ops = OPS, seconds = SECONDS, pool?: Agent): Promise<PhaseResult> {
  const agent = pool ?? new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError = '';
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (next < ops && performance.now() < deadline) {
      const i = next++;
      const req = kind === 'put' ? sys.put(`bench/${i % 1000}`, VALUE) : sys.get(`bench/${i % keys}`);
      const r = await send(agent, port, req, PHASE_REQ_TIMEOUT_MS);
      if (sys.ok(r)) latencies.push(r.ms);
      else {
        errors++;
        if (!firstError) firstError = describe(r);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const took = (performance.now() - started) / 1000;
  if (!pool) agent.destroy();
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, seconds: took, latencies, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), errors, firstError };
}

function describe(r: Reply): string {
  return r.status === 0 ? `${r.error} after ${r.ms.toFixed(0)} ms` : `${r.status} ${r.body.trim().slice(0, 160)} after ${r.ms.toFixed(0)} ms`;
}

// ---------------------------------------------------------------- 2. failover

interface Window {
  killed: string;
  /** kill -> first acknowledged write issued after the kill; undefined if none within WINDOW_CAP_MS. */
  window: number | undefined;
  via: string;
  newLeader: string;
  /** Per surviving server: kill -> its first acknowledged write (issued after the kill). */
  perServer: string;
  /** What became of the writes issued to the survivors during the window (kill -> first ack). */
  during: string;
  restartMs: number;
}

interface Probe { member: Member; sentAt: number; reply: Reply | undefined; at: number }

async function failover(muster: MusterCluster, etcd: EtcdCluster): Promise<void> {
  console.log(`\n2. failover: 3 probe loops (one per server), a write every ${PROBE_EVERY_MS} ms each (open loop, ${PROBE_TIMEOUT_MS / 1000} s timeout);`);
  console.log('   SIGKILL of the leader; window = kill -> first acknowledged write issued after the kill, through any survivor;');
  console.log('   "during" = outcome of the writes issued to the survivors inside the window (acknowledged later / error reply / timeout)');
  const results = new Map<string, Window[]>([['muster', []], ['etcd', []]]);
  for (let rep = 1; rep <= REPS; rep++) {
    for (const sys of [muster, etcd] as ClusterSystem[]) {
      const w = await failoverOnce(sys);
      results.get(sys.name)?.push(w);
      console.log(`  rep ${rep} ${sys.name.padEnd(6)} killed ${w.killed}: window ${ms(w.window ?? NaN).padStart(7)} (first via ${w.via}; per survivor ${w.perServer}; new leader ${w.newLeader}; during: ${w.during}; restart+healthy ${(w.restartMs / 1000).toFixed(1)} s)`);
    }
  }
  const mw = (results.get('muster') ?? []).map((w) => w.window ?? NaN);
  const ew = (results.get('etcd') ?? []).map((w) => w.window ?? NaN);
  console.log(`  mean   muster ${ms(mean(mw))} (${mw.map((x) => x.toFixed(0)).join(', ')}) | etcd ${ms(mean(ew))} (${ew.map((x) => x.toFixed(0)).join(', ')}) | muster/etcd ${ratio(mean(mw), mean(ew))}`);
}

async function failoverOnce(sys: ClusterSystem): Promise<Window> {
  const leader = await sys.leader(30_000);
  const survivors = sys.members.filter((m) => m !== leader);
  const agents = sys.members.map(() => new Agent({ keepAlive: true }));
  let killAt = Infinity;
  let stop = false;
  const probes: Probe[] = [];
  const inflight = new Set<Promise<void>>();
  const loops = sys.members.map(async (m, idx) => {
    let seq = 0;
    while (!stop) {
      const probe: Probe = { member: m, sentAt: performance.now(), reply: undefined, at: NaN };
      probes.push(probe);
      const p = send(agents[idx] as Agent, m.httpPort, sys.put(`probe/${m.name}`, Buffer.from(String(seq++))), PROBE_TIMEOUT_MS).then((r) => {
        probe.reply = r;
        probe.at = performance.now();
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      await sleep(PROBE_EVERY_MS);
    }
  });
  const acked = (pr: Probe) => pr.reply !== undefined && sys.ok(pr.reply);
  const after = () => probes.filter((pr) => pr.sentAt >= killAt && acked(pr));
  // every loop has writes acknowledged before the kill
  const warm = performance.now();
  while (performance.now() - warm < 10_000 && sys.members.some((m) => probes.filter((pr) => pr.member === m && acked(pr)).length < 5)) await sleep(20);
  killAt = performance.now();
  leader.proc?.killNow();
  while (after().length === 0 && performance.now() - killAt < WINDOW_CAP_MS) await sleep(2);
  // then each survivor's first acknowledged write (at most 3 s more)
  const firstAt = performance.now();
  while (performance.now() - firstAt < 3000 && survivors.some((m) => !after().some((pr) => pr.member === m))) await sleep(5);
  stop = true;
  await Promise.all(loops);
  await Promise.allSettled([...inflight]); // each ends within its timeout
  for (const a of agents) a.destroy();
  await leader.proc?.exited;

  const acks = after().sort((a, b) => a.at - b.at);
  const first = acks[0];
  const window = first ? first.at - killAt : undefined;
  const firstPer = (m: Member) => acks.find((pr) => pr.member === m);
  const perServer = survivors.map((m) => `${m.name} ${ms((firstPer(m)?.at ?? NaN) - killAt)}`).join(', ');
  const windowEnd = first?.at ?? Infinity;
  const inWindow = probes.filter((pr) => pr.member !== leader && pr.sentAt >= killAt && pr.sentAt < windowEnd);
  const late = inWindow.filter(acked);
  const errs = inWindow.filter((pr) => !acked(pr) && pr.reply?.status !== 0);
  const timeouts = inWindow.filter((pr) => pr.reply?.status === 0);
  const maxMs = (xs: Probe[]) => ms(Math.max(...xs.map((pr) => pr.reply?.ms ?? NaN)));
  const sample = errs[0]?.reply ?? timeouts[0]?.reply;
  const during = `${inWindow.length} issued: ${late.length} acknowledged later${late.length ? ` (slowest ${maxMs(late)})` : ''}, ${errs.length} error replies, ${timeouts.length} timeouts/network errors${sample ? `; e.g. ${describe(sample)}` : ''}`;
  const newLeader = await sys.leader(10_000).then((l) => l.name, () => '?');
  if (window === undefined || window > SLOW_FAILOVER_MS) {
    console.log(`  !! ${sys.name}: ${window === undefined ? `no acknowledged write within ${WINDOW_CAP_MS / 1000} s` : `window ${ms(window)}`} after killing ${leader.name}`);
    dumpLogs(sys, 40, `failover ${sys.name}`);
  }
  const r0 = performance.now();
  await sys.restart(leader, RESTART_TIMEOUT_MS);
  const restartMs = performance.now() - r0;
  await sleep(1000);
  return { killed: leader.name, window, via: first?.member.name ?? '-', newLeader, perServer, during, restartMs };
}

// ---------------------------------------------------------------- 3. one write during the election

async function singleWrite(muster: MusterCluster, etcd: EtcdCluster): Promise<void> {
  console.log(`\n3. one write to a follower right after SIGKILL of the leader, awaited (${SINGLE_WRITE_TIMEOUT_MS / 1000} s timeout);`);
  console.log('   "new leader after" = kill -> the survivors agree on a new leader (polled every 50 ms alongside)');
  const results = new Map<string, Reply[]>([['muster', []], ['etcd', []]]);
  for (let rep = 1; rep <= REPS; rep++) {
    for (const sys of [muster, etcd] as ClusterSystem[]) {
      const leader = await sys.leader(30_000);
      const follower = sys.members.find((m) => m !== leader && isRunning(m)) as Member;
      const agent = new Agent({ keepAlive: false });
      const req = sys.put(`single/${rep}`, VALUE);
      const killAt = performance.now();
      leader.proc?.killNow();
      const elected = sys.leader(SINGLE_WRITE_TIMEOUT_MS).then((l) => (l !== leader ? performance.now() - killAt : NaN), () => NaN);
      const r = await send(agent, follower.httpPort, req, SINGLE_WRITE_TIMEOUT_MS);
      agent.destroy();
      const electedMs = await elected;
      results.get(sys.name)?.push(r);
      const outcome = sys.ok(r) ? 'acknowledged' : `NOT acknowledged: ${describe(r)}`;
      console.log(`  rep ${rep} ${sys.name.padEnd(6)} killed ${leader.name}, write to ${follower.name}: ${ms(r.ms).padStart(7)} ${outcome} (new leader after ${ms(electedMs)})`);
      await leader.proc?.exited;
      if (!sys.ok(r) && sys.name === 'muster') dumpLogs(sys, 25, 'single muster');
      await sys.restart(leader, RESTART_TIMEOUT_MS);
      await sleep(1000);
    }
  }
  const summary = (sys: ClusterSystem) => {
    const rs = results.get(sys.name) ?? [];
    return { mean: mean(rs.map((r) => r.ms)), okCount: rs.filter((r) => sys.ok(r)).length, n: rs.length };
  };
  const m = summary(muster);
  const e = summary(etcd);
  console.log(`  mean   muster ${ms(m.mean)} (${m.okCount}/${m.n} acknowledged) | etcd ${ms(e.mean)} (${e.okCount}/${e.n} acknowledged) | muster/etcd ${ratio(m.mean, e.mean)}`);
}

main().then(
  () => { cleanupAll(); },
  (err: unknown) => { console.error(err); cleanupAll(); process.exitCode = 1; },
);
