/**
 * bench/agent-memory: resident memory of idle agents in a 5-agent cluster on
 * loopback: one `-dev` server and four client agents joined to it by gossip.
 * After IDLE seconds without load, prints each agent's RSS (from
 * /proc/PID/status) against the goal for clients (<= 80 MB).
 *
 * Run: npm run build && node dist/bench/agent-memory.bench.js [IDLE=60]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IDLE_S = Number(process.argv[2] ?? 60);
const GOAL_MB = 80;
const procs: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Starts an agent; resolves once it logs "agent running" (or rejects after 30 s). */
function agent(args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, [resolve(ROOT, 'bin/muster'), 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`agent ${args.join(' ')} did not start in 30 s`)), 30_000);
    createInterface({ input: p.stdout! }).on('line', (line) => {
      if (line.includes('"agent running"')) { clearTimeout(timer); res(p); }
    });
    p.once('exit', (code) => { clearTimeout(timer); rej(new Error(`agent exited with ${code}`)); });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function members(httpPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/agent/members`);
  const list = (await res.json()) as Array<{ Status: number }>;
  return list.filter((m) => m.Status === 1).length;
}

async function main(): Promise<void> {
  const serverGossip = await freePort();
  const serverHttp = await freePort();
  // -dns-port 0: each agent serves DNS (part of its footprint) on its own port
  await agent(['-dev', '-node', 'srv', '-http-port', String(serverHttp), '-serf-lan-port', String(serverGossip), '-server-port', '0', '-dns-port', '0', '-docker', '', '-log-level', 'info']);
  const clients: Array<{ name: string; http: number; proc: ChildProcess }> = [];
  for (let i = 1; i <= 4; i++) {
    const http = await freePort();
    const proc = await agent(['-node', `client${i}`, '-bind', '127.0.0.1', '-http-port', String(http), '-serf-lan-port', '0', '-server-port', '0', '-dns-port', '0',
      '-docker', '', '-join', `127.0.0.1:${serverGossip}`, '-log-level', 'info']);
    clients.push({ name: `client${i}`, http, proc });
  }
  const deadline = Date.now() + 30_000;
  while ((await members(serverHttp)) < 5) {
    if (Date.now() > deadline) throw new Error('the 5 agents did not all see each other in 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  // a client agent serves the catalog by forwarding to the server: one read proves the path works
  const nodes = (await (await fetch(`http://127.0.0.1:${clients[0]!.http}/v1/catalog/nodes`)).json()) as unknown[];
  console.log(`5 agents joined; a client sees ${nodes.length} catalog nodes through the server; idling ${IDLE_S} s`);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  console.log(`server (-dev): ${rssMb(procs[0]!.pid!).toFixed(1)} MB RSS`);
  const rss = clients.map((c) => rssMb(c.proc.pid!));
  clients.forEach((c, i) => console.log(`${c.name}: ${rss[i]!.toFixed(1)} MB RSS`));
  const max = Math.max(...rss);
  console.log(`idle client agents: max ${max.toFixed(1)} MB, goal <= ${GOAL_MB} MB: ${max <= GOAL_MB ? 'met' : 'NOT met'} (ratio ${(max / GOAL_MB).toFixed(2)})`);
}

function cleanup(): void {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
}
process.on('SIGINT', () => { cleanup(); process.exit(130); });
main().then(cleanup, (err: unknown) => { console.error(String(err)); cleanup(); process.exitCode = 1; });
