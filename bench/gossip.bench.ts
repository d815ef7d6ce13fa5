/**
 * Gossip benchmark: the deterministic core in the seeded simulation (the same
 * code the runtime drives), so figures are exact for a seed and cheap to get.
 *
 *   node dist/bench/gossip.bench.js            all sections
 *   SEED=7 SIZES=20,40 node dist/bench/gossip.bench.js
 *
 * 1. Dissemination with fanout 4 (gossipNodes = 4): mean gossip rounds
 *    (gossipIntervalMs) for one update to reach 50 %, 99 % and 100 % of the
 *    members, beside the seed document's table and log₄N.
 * 2. Failure detection under 0 %, 5 % and 10 % packet loss: time from a crash
 *    to the first and to the last live member declaring it failed, and false
 *    positives (live members declared failed) over the run.
 * 3. Bytes per member per second (UDP + TCP, steady state), without
 *    encryption: an encrypted pool adds 29 bytes to every packet and frame.
 *
 * Prints figures only; nothing is asserted.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { GossipConfig } from '../src/gossip/config.js';
import { pushPullScale } from '../src/gossip/push-pull.js';
import { createRng } from '../src/gossip/rng.js';
import { SimCluster, startCluster } from '../test/sim/sim-cluster.js';

const SEED = Number(process.env.SEED ?? 1);
const SIZES = (process.env.SIZES ?? '20,40,80,160,320,1000').split(',').map(Number);
/** The seed document's table for fanout 4 (its 160 → 3.44 is printed as it is; log₄160 is 3.66). */
const SEED_TABLE: Record<number, number> = { 20: 2.16, 40: 2.66, 80: 3.16, 160: 3.44, 320: 4.16 };

const log4 = (n: number) => Math.log(n) / Math.log(4);
const fmt = (x: number | undefined, d = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const pad = (s: string, n: number) => s.padStart(n);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
/** An update whose last member got it this many rounds late was saved by push-pull, not gossip. */
const STRAGGLER_ROUNDS = 15;

interface Spread { p50: number; p99: number; p100: number }

/** Builds an n-member cluster, lets it settle, then times `updates` tag updates from random members. */
function dissemination(n: number, updates: number, config: Partial<GossipConfig>): { spreads: Spread[]; bytesPerMemberSec: number; buildMs: number } {
  const t0 = performance.now();
  const sim = new SimCluster({ seed: SEED + n, config, delayMs: [1, 5] });
  const names = startCluster(sim, n, n >= 500 ? 5 : 10);
  sim.runUntilTrue(() => sim.allSee(names, 'alive'), 120_000, 500);
  sim.runFor(30_000); // let the join broadcasts drain
  const buildMs = performance.now() - t0;

  // Steady-state traffic (probes, acks, push-pull) over two push-pull periods.
  const b0 = sim.udpBytes + sim.tcpBytes;
  const quietMs = Math.max(60_000, 2 * pushPullScale(sim.config.pushPullIntervalMs, n));
  sim.runFor(quietMs);
  const bytesPerMemberSec = (sim.udpBytes + sim.tcpBytes - b0) / n / (quietMs / 1000);

  const rng = createRng(SEED * 31 + n);
  const spreads: Spread[] = [];
  const interval = sim.config.gossipIntervalMs;
  for (let u = 0; u < updates; u++) {
    const origin = names[rng.int(n)] as string;
    const version = `u${u}`;
    const reached: number[] = [0]; // the origin has it at once
    const start = sim.nowMs;
    sim.onEvent = (observer, e) => {
      if (e.type === 'update' && e.member.name === origin && e.member.tags.v === version && observer.name !== origin) reached.push(sim.nowMs - start);
    };
    sim.setTags(origin, { v: version });
    sim.runUntilTrue(() => reached.length >= n, 30_000, 20);
    sim.onEvent = undefined;
    reached.sort((a, b) => a - b);
    const at = (frac: number) => {
      const i = Math.ceil(frac * n) - 1;
      return i < reached.length ? (reached[i] as number) / interval : NaN;
    };
    spreads.push({ p50: at(0.5), p99: at(0.99), p100: at(1) });
    sim.runFor(5000); // let the update's retransmissions finish before the next
  }
  return { spreads, bytesPerMemberSec, buildMs };
}

function sectionDissemination(): void {
  console.log('\n## 1. Dissemination, fanout 4 (gossipNodes = 4), LAN timers otherwise');
  console.log('rounds = time for an update to reach the share of members / gossipIntervalMs (200 ms); piggybacking on probes counts too');
  console.log(`means over the updates; "100% med" is the median; "late" counts updates some member got only ${STRAGGLER_ROUNDS}+ rounds late (from a push-pull)\n`);
  console.log(`${pad('N', 5)} ${pad('seed', 6)} ${pad('log4N', 6)} ${pad('50%', 6)} ${pad('99%', 6)} ${pad('100%', 6)} ${pad('100%/log4N', 11)} ${pad('100% med', 9)} ${pad('med/log4N', 10)} ${pad('late', 5)} ${pad('B/member/s', 11)} ${pad('updates', 8)} ${pad('wall s', 7)}`);
  for (const n of SIZES) {
    const updates = n >= 500 ? 5 : 20;
    const t0 = performance.now();
    const { spreads, bytesPerMemberSec } = dissemination(n, updates, { gossipNodes: 4 });
    const p50 = mean(spreads.map((s) => s.p50));
    const p99 = mean(spreads.map((s) => s.p99));
    const p100 = mean(spreads.map((s) => s.p100));
    const med100 = median(spreads.map((s) => s.p100));
    const late = spreads.filter((s) => !(s.p100 < STRAGGLER_ROUNDS)).length;
    console.log(`${pad(String(n), 5)} ${pad(fmt(SEED_TABLE[n]), 6)} ${pad(fmt(log4(n)), 6)} ${pad(fmt(p50), 6)} ${pad(fmt(p99), 6)} ${pad(fmt(p100), 6)} ${pad(fmt(p100 / log4(n)), 11)} ${pad(fmt(med100), 9)} ${pad(fmt(med100 / log4(n)), 10)} ${pad(String(late), 5)} ${pad(fmt(bytesPerMemberSec, 0), 11)} ${pad(String(updates), 8)} ${pad(fmt((performance.now() - t0) / 1000, 1), 7)}`);
  }
}

function sectionFailureDetection(): void {
  const n = 50;
  const crashes = 5;
  console.log(`\n## 2. Failure detection and false positives, ${n} members, LAN defaults (gossipNodes = 3)`);
  console.log(`${crashes} members crashed one every 40 s, then 300 s more; detection = crash → last live member declares it failed\n`);
  console.log(`${pad('loss', 5)} ${pad('first s', 8)} ${pad('mean s', 7)} ${pad('max s', 6)} ${pad('false +', 8)} ${pad('refutes', 8)} ${pad('B/member/s', 11)} ${pad('wall s', 7)}`);
  for (const loss of [0, 0.05, 0.1]) {
    const t0 = performance.now();
    const sim = new SimCluster({ seed: SEED, lossRate: loss });
    const names = startCluster(sim, n);
    sim.runUntilTrue(() => sim.allSee(names, 'alive'), 60_000);
    sim.runFor(20_000);
    const b0 = sim.udpBytes + sim.tcpBytes;
    const s0 = sim.nowMs;
    const rng = createRng(SEED + 99);
    const victims: { name: string; at: number }[] = [];
    const pool = names.slice(1);
    for (let i = 0; i < crashes; i++) {
      const name = pool.splice(rng.int(pool.length), 1)[0] as string;
      sim.crash(name);
      victims.push({ name, at: sim.nowMs });
      sim.runFor(40_000);
    }
    sim.runFor(300_000);
    const first: number[] = [];
    const last: number[] = [];
    for (const v of victims) {
      const fails = sim.firstEvents('fail', v.name);
      const times = sim.up().map((o) => (fails.get(o.name) ?? NaN) - v.at);
      first.push(Math.min(...times));
      last.push(Math.max(...times));
    }
    const dead = new Set(victims.map((v) => v.name));
    const falsePositives = sim.log.filter((e) => e.type === 'fail' && !dead.has(e.member)).length;
    const refutes = sim.nodes.reduce((a, x) => a + x.core.stats().refutations, 0);
    const bps = (sim.udpBytes + sim.tcpBytes - b0) / n / ((sim.nowMs - s0) / 1000);
    console.log(`${pad(`${loss * 100}%`, 5)} ${pad(fmt(mean(first) / 1000, 1), 8)} ${pad(fmt(mean(last) / 1000, 1), 7)} ${pad(fmt(Math.max(...last) / 1000, 1), 6)} ${pad(String(falsePositives), 8)} ${pad(String(refutes), 8)} ${pad(fmt(bps, 0), 11)} ${pad(fmt((performance.now() - t0) / 1000, 1), 7)}`);
  }
}

console.log('# gossip benchmark (seeded simulation of src/gossip/core.ts)');
console.log(`seed ${SEED}; node ${process.version}; ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}`);
const started = performance.now();
sectionDissemination();
sectionFailureDetection();
console.log(`\ntotal wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
