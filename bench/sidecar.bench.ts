/**
 * bench/sidecar: how fast the embedded sidecar brings Docker's state into the catalog.
 *
 *  1. initial sync: N running containers (default 200), then an agent starts;
 *     time from process spawn (and from its "agent running" line) until all N
 *     are in /v1/catalog/service/<name>.
 *  2. event latency: M container starts (default 100), one at a time; for each,
 *     the time from Docker's `start` event (its timeNano) until the service is
 *     visible through /v1/catalog/service/<name> (observed with a blocking query).
 *
 * Goals (issue 3): initial sync of 200 <= 1 s; event latency p99 <= 50 ms.
 * There is no registrator binary on this machine to run side by side, so the
 * figures are printed with their ratio to the goal. Bounded: every wait has a
 * deadline, and every container the bench made is removed at the end.
 *
 * Run: npm run build && node dist/bench/sidecar.bench.js [N] [M]
 */
import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus, totalmem } from 'node:os';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.argv[2] ?? 200);
const M = Number(process.argv[3] ?? 100);
const IMAGE = 'muster-test-busybox:latest';
const LABEL = 'muster.bench';
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  await cleanup();
  const run = Date.now().toString(36);
  try {
    console.log(`creating ${N} containers ...`);
    const t0 = Date.now();
    for (let i = 0; i < N; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, N - i) }, (_, k) => startContainer(`mb-${run}-s${i + k}`, 'bench-sync')));
    }
    console.log(`  (docker took ${((Date.now() - t0) / 1000).toFixed(1)} s to start them)`);

    const agent = await startAgent();
    try {
      const all = await waitFor(async () => (await catalogCount(agent.url, 'bench-sync')) >= N ? Date.now() : undefined, 120_000, 5);
      const fromSpawn = all - agent.spawnedAt;
      const fromRunning = all - agent.runningAt;
      console.log('\ninitial sync');
      console.log(`  ${N} containers in the catalog: ${fromSpawn} ms after spawn, ${fromRunning} ms after "agent running"`);
      console.log(`  goal 1000 ms for 200: ratio (after agent running) = ${(fromRunning / 1000).toFixed(3)}`);

      console.log(`\nevent latency over ${M} container starts ...`);
      const latencies: number[] = [];
      for (let i = 0; i < M; i++) {
        const name = `mb-${run}-l${i}`;
        const before = await catalogIndex(agent.url, 'bench-lat');
        const events = await docker.getEvents({ filters: { type: ['container'], event: ['start'], label: [`${LABEL}=${run}`] } });
        const started = new Promise<number>((res) => {
          let buf = '';
          events.on('data', (d: Buffer) => {
            buf += d.toString();
            for (const line of buf.split('\n').slice(0, -1)) {
              const e = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> }; timeNano: number };
              if (e.Actor?.Attributes?.name === name) res(e.timeNano / 1e6);
            }
            buf = buf.slice(buf.lastIndexOf('\n') + 1);
          });
        });
        const seen = waitVisible(agent.url, 'bench-lat', i + 1, before);
        await startContainer(name, 'bench-lat', run);
        const [eventMs, seenMs] = await Promise.all([started, seen]);
        (events as unknown as { destroy(): void }).destroy();
        latencies.push(seenMs - eventMs);
      }
      latencies.sort((a, b) => a - b);
      const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] as number;
      console.log(`  start event -> visible in /v1/catalog/service: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${pct(100).toFixed(1)} ms`);
      console.log(`  goal p99 50 ms: ratio = ${(pct(99) / 50).toFixed(3)}`);
      console.log(`  rss of the agent after the run: ${await rssMb(agent.pid)} MiB`);
    } finally {
      agent.stop();
    }
  } finally {
    console.log('\nremoving bench containers ...');
    await cleanup();
  }
}

async function startContainer(name: string, service: string, run = 'x'): Promise<void> {
  const c = await docker.createContainer({
    name, Image: IMAGE, Cmd: ['sleep', '3600'], Labels: { [LABEL]: run, 'muster.test': '1' },
    Env: [`SERVICE_NAME=${service}`], ExposedPorts: { '80/tcp': {} },
    HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await c.start();
}

async function cleanup(): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
  for (let i = 0; i < list.length; i += 20) {
    await Promise.all(list.slice(i, i + 20).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  }
}

interface BenchAgent { url: string; pid: number; spawnedAt: number; runningAt: number; stop(): void }

async function startAgent(): Promise<BenchAgent> {
  const spawnedAt = Date.now();
  const p = spawn(process.execPath, [resolve(ROOT, 'bin/muster'), 'agent', '-dev', '-http-port', '0', '-serf-lan-port', '0', '-dns-port', '-1', '-node', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let url = '';
  let runningAt = 0;
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('agent did not start in 30 s')), 30_000);
    createInterface({ input: p.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as { msg?: string; addr?: string };
      if (l.msg === 'http api listening') url = `http://${l.addr}`;
      if (l.msg === 'agent running') { runningAt = Date.now(); clearTimeout(timer); res(); }
    });
  });
  return { url, pid: p.pid as number, spawnedAt, runningAt, stop: () => p.kill('SIGTERM') };
}

async function catalogCount(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/v1/catalog/service/${name}`);
  return ((await res.json()) as unknown[]).length;
}

async function catalogIndex(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/v1/catalog/service/${name}`);
  await res.arrayBuffer();
  return Number(res.headers.get('X-Consul-Index'));
}

/** Holds blocking queries until the service has `count` instances; returns the moment it saw them. */
async function waitVisible(url: string, name: string, count: number, index: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  let idx = index;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/v1/catalog/service/${name}?index=${idx}&wait=10s`);
    const body = (await res.json()) as unknown[];
    const now = Date.now();
    if (body.length >= count) return now;
    idx = Number(res.headers.get('X-Consul-Index'));
  }
  throw new Error(`${name} did not reach ${count} instances in 30 s`);
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { const v = await fn(); if (v !== undefined) return v; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met in ${timeoutMs} ms`);
}

async function rssMb(pid: number): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? (Number(m[1]) / 1024).toFixed(0) : '?';
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
