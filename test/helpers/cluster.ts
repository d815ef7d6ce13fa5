import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnMuster, type MusterProcess, type RunningAgent, type Teardown } from './agent.js';
import { waitFor } from './wait.js';

/**
 * A cluster of real `muster agent` processes on 127.0.0.1: N servers with
 * data dirs and M client agents. Every agent gets fixed ports (HTTP, server
 * RPC, gossip), picked free at creation, so a server can be killed and
 * restarted with the same data dir, the same address in the Raft
 * configuration and the same URL. Every process is killed (SIGCONT, then
 * SIGKILL) and the data dirs removed at teardown, even when the test failed.
 */

/** A port that is free for TCP and UDP on 127.0.0.1, outside the kernel's ephemeral range (32768+) so no other process is handed it by chance while ours is down. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (taken.has(port)) continue;
    if (await tcpFree(port) && await udpFree(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}
const taken = new Set<number>();

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** One agent of the cluster: its fixed ports and, while it runs, its process. */
export class ClusterAgent {
  /** The current process (undefined before the first start). */
  agent: RunningAgent | undefined;
  /** Every process this agent ever had, newest last (their logs stay readable). */
  readonly history: RunningAgent[] = [];
  paused = false;

  constructor(
    private readonly cluster: TestCluster,
    readonly name: string,
    readonly server: boolean,
    readonly dataDir: string | undefined,
    /** Its loopback address: 127.0.0.1, or its own (see ClusterOptions.ownAddresses). */
    readonly host: string,
    readonly httpPort: number,
    readonly serverPort: number,
    readonly gossipPort: number,
  ) {}

  get url(): string {
    return `http://${this.host}:${this.httpPort}`;
  }

  /** The server RPC address, as /v1/status/leader reports it. */
  get rpcAddr(): string {
    return `${this.host}:${this.serverPort}`;
  }

  get gossipAddr(): string {
    return `${this.host}:${this.gossipPort}`;
  }

  /** For `-http-addr`. */
  get httpAddr(): string {
    return `${this.host}:${this.httpPort}`;
  }

  get running(): boolean {
    const p = this.agent?.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** The agent's argv (without `agent`'s extra flags). */
  argv(opts: { bootstrapExpect?: number; join?: string[]; extra?: string[] } = {}): string[] {
    const args = [
      'agent', '-node', this.name, '-bind', this.host, '-client', this.host,
      '-http-port', String(this.httpPort), '-server-port', String(this.serverPort), '-serf-lan-port', String(this.gossipPort),
      '-dns-port', '-1', '-docker', '', '-log-level', 'debug',
    ];
    if (this.server) {
      args.push('-server', '-data-dir', this.dataDir as string);
      if (opts.bootstrapExpect !== undefined) args.push('-bootstrap-expect', String(opts.bootstrapExpect));
    }
    // -retry-join, not -join: a restarted agent must start even when some of the others are down.
    // One attempt joins through every address and succeeds when any answers.
    for (const addr of opts.join ?? []) args.push('-retry-join', addr);
    return [...args, ...(opts.extra ?? [])];
  }

  /** Starts (or restarts, with the same data dir and ports) the agent; resolves when its HTTP API listens. */
  async start(opts: { extra?: string[]; join?: string[] } = {}): Promise<RunningAgent> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const join = opts.join ?? this.cluster.joinAddressesFor(this);
    const p = spawnMuster(this.cluster.t, this.argv({ ...this.cluster.serverOpts(this), join, ...(opts.extra ? { extra: opts.extra } : {}) }), this.cluster.env);
    const agent: RunningAgent = { ...p, url: this.url, port: this.httpPort, node: this.name };
    this.agent = agent;
    this.paused = false;
    this.history.push(agent);
    try {
      await p.waitForLog((l) => l.msg === 'http api listening', START_TIMEOUT_MS);
    } catch (err) {
      const tail = p.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${this.name} did not start: ${(err as Error).message}\nlast log lines:\n${tail}`);
    }
    return agent;
  }

  /** Spawns the agent without waiting for anything (for starts that are expected to fail). */
  spawn(extra: string[] = []): MusterProcess {
    return spawnMuster(this.cluster.t, this.argv({ ...this.cluster.serverOpts(this), join: this.cluster.joinAddressesFor(this), extra }), this.cluster.env);
  }

  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const a = this.agent;
    if (!a || !this.running) return;
    if (this.paused) a.proc.kill('SIGCONT');
    this.paused = false;
    await a.stop(signal);
  }

  pause(): void {
    if (!this.running || this.paused) return;
    this.agent?.proc.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.agent?.proc.kill('SIGCONT');
    this.paused = false;
  }
}

/** How long an agent may take to listen; generous, the machine may be busy with other test runs. */
const START_TIMEOUT_MS = 30_000;

/** tap's NODE_OPTIONS (its process-info hook) costs ~0.4 s and memory per start; agents do not need it. */
const QUIET_ENV: NodeJS.ProcessEnv = { NODE_OPTIONS: '' };

export interface ClusterOptions {
  servers: number;
  clients?: number;
  /** Default: the number of servers. */
  bootstrapExpect?: number;
  /** How long to wait for every agent to see every other alive and for a leader. */
  readyTimeoutMs?: number;
  /** Extra environment for every agent (e.g. NODE_OPTIONS=--import=a-profiler.mjs while debugging). */
  env?: NodeJS.ProcessEnv;
  /**
   * Give every agent its own loopback address (127.A.B.n, A.B random per
   * cluster, so parallel tests never share one) instead of 127.0.0.1: agents
   * bind, advertise and dial from it, so a LoopbackFirewall can cut traffic
   * between chosen agents.
   */
  ownAddresses?: boolean;
}

export class TestCluster {
  readonly servers: ClusterAgent[] = [];
  readonly clients: ClusterAgent[] = [];
  readonly dir: string;
  private readonly bootstrapExpect = new Map<ClusterAgent, number>();

  /** @internal The environment agents are started with. */
  readonly env: NodeJS.ProcessEnv;

  /** The next own address (127.A.B.n), or undefined when every agent uses 127.0.0.1. */
  private nextHost: (() => string) | undefined;

  private constructor(readonly t: Teardown, env: NodeJS.ProcessEnv = {}, ownAddresses = false) {
    this.env = { ...QUIET_ENV, ...env };
    if (ownAddresses) {
      const net = `127.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
      let n = 0;
      this.nextHost = () => `${net}.${++n}`;
    }
    this.dir = mkdtempSync(join(tmpdir(), 'muster-cluster-'));
    t.teardown(async () => {
      await Promise.all(this.all().map(async (a) => {
        for (const p of a.history) {
          if (p.proc.exitCode === null && p.proc.signalCode === null) {
            p.proc.kill('SIGCONT');
            await p.stop('SIGKILL');
          }
        }
      }));
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /**
   * Starts `servers` servers (-bootstrap-expect) and `clients` client agents,
   * each joining the others (-retry-join); resolves once every agent sees all
   * the others alive and the servers agree on a leader.
   */
  static async start(t: Teardown, opts: ClusterOptions): Promise<TestCluster> {
    const c = new TestCluster(t, opts.env, opts.ownAddresses);
    for (let i = 1; i <= opts.servers; i++) await c.addServer(`s${i}`, { bootstrapExpect: opts.bootstrapExpect ?? opts.servers, start: false });
    for (let i = 1; i <= (opts.clients ?? 0); i++) await c.addClient(`c${i}`, { start: false });
    const timeoutMs = opts.readyTimeoutMs ?? 45_000;
    // the first server before the others, so their first join attempt finds it
    const [first, ...rest] = c.all();
    await first?.start();
    await Promise.all(rest.map((a) => a.start()));
    await c.waitForMembers(c.all(), timeoutMs);
    await c.leader({ timeoutMs });
    return c;
  }

  all(): ClusterAgent[] {
    return [...this.servers, ...this.clients];
  }

  get(name: string): ClusterAgent {
    const a = this.all().find((x) => x.name === name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  async addServer(name: string, opts: { bootstrapExpect?: number; start?: boolean } = {}): Promise<ClusterAgent> {
    const [http, server, gossip] = [await freePort(), await freePort(), await freePort()];
    const a = new ClusterAgent(this, name, true, join(this.dir, name), this.nextHost?.() ?? '127.0.0.1', http, server, gossip);
    if (opts.bootstrapExpect !== undefined) this.bootstrapExpect.set(a, opts.bootstrapExpect);
    this.servers.push(a);
    if (opts.start !== false) await a.start();
    return a;
  }

  async addClient(name: string, opts: { start?: boolean } = {}): Promise<ClusterAgent> {
    const [http, server, gossip] = [await freePort(), await freePort(), await freePort()];
    const a = new ClusterAgent(this, name, false, undefined, this.nextHost?.() ?? '127.0.0.1', http, server, gossip);
    this.clients.push(a);
    if (opts.start !== false) await a.start();
    return a;
  }

  /** @internal */
  serverOpts(a: ClusterAgent): { bootstrapExpect?: number } {
    const n = this.bootstrapExpect.get(a);
    return n === undefined ? {} : { bootstrapExpect: n };
  }

  /**
   * @internal Every agent joins through every other agent: whichever is up
   * answers (a client agent stays up while all the servers restart).
   */
  joinAddressesFor(a: ClusterAgent): string[] {
    return this.all().filter((x) => x !== a).map((x) => x.gossipAddr);
  }

  /** Waits until each of `agents` sees every one of them alive in gossip. */
  async waitForMembers(agents: ClusterAgent[], timeoutMs = 30_000): Promise<void> {
    const names = agents.map((a) => a.name);
    await Promise.all(agents.map((a) => waitFor(async () => {
      const members = await getJson<Array<{ Name: string; Status: number }>>(a.url, '/v1/agent/members').catch(() => undefined);
      return members !== undefined && names.every((n) => members.some((m) => m.Name === n && m.Status === 1));
    }, { timeoutMs, intervalMs: 100, message: `${a.name} sees ${names.join(', ')} alive` })));
  }

  /**
   * Waits until every running, unpaused server in `among` (default: all)
   * reports the same leader, itself one of them, and resolves with it.
   */
  async leader(opts: { among?: ClusterAgent[]; timeoutMs?: number; not?: ClusterAgent } = {}): Promise<ClusterAgent> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    let last = '';
    return waitFor(async () => {
      const candidates = (opts.among ?? this.servers).filter((s) => s.running && !s.paused);
      if (candidates.length === 0) return undefined;
      const answers = await Promise.all(candidates.map((s) => getJson<string>(s.url, '/v1/status/leader').catch(() => '')));
      last = answers.join(', ');
      const first = answers[0];
      if (!first || answers.some((x) => x !== first)) return undefined;
      const leader = candidates.find((s) => s.rpcAddr === first);
      if (!leader || leader === opts.not) return undefined;
      return leader;
    }, { timeoutMs, intervalMs: 50, message: 'the servers agree on a leader' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last answers: ${last || 'none'}`);
    });
  }
}

/** GET a JSON body; throws on a non-2xx status or a network error. */
export async function getJson<T>(base: string, path: string, timeoutMs = 5000): Promise<T> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface HttpResult {
  status: number;
  text: string;
  headers: Headers;
  /** How long the request took, in ms. */
  ms: number;
}

/** One HTTP request with a deadline; a network error or timeout rejects. */
export async function request(base: string, method: string, path: string, body?: string, timeoutMs = 15_000): Promise<HttpResult> {
  const started = performance.now();
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) init.body = body;
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, ms: performance.now() - started };
}

/** `PUT /v1/kv/KEY`; true when the agent answered 200 `true`. */
export async function kvPut(base: string, key: string, value: string, timeoutMs = 15_000): Promise<boolean> {
  const r = await request(base, 'PUT', `/v1/kv/${key}`, value, timeoutMs);
  return r.status === 200 && r.text.trim() === 'true';
}

/** `GET /v1/kv/KEY?raw` with a consistency mode (`stale`, `consistent` or ''); null when absent (404). */
export async function kvGet(base: string, key: string, mode: '' | 'stale' | 'consistent' = '', timeoutMs = 15_000): Promise<string | null> {
  const q = mode ? `?raw&${mode}` : '?raw';
  const r = await request(base, 'GET', `/v1/kv/${key}${q}`, undefined, timeoutMs);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET /v1/kv/${key}${q}: ${r.status} ${r.text}`);
  return r.text;
}

/** Every key under `prefix` with its value, read with a consistency mode. */
export async function kvAll(base: string, prefix: string, mode: '' | 'stale' | 'consistent' = '', timeoutMs = 15_000): Promise<Map<string, string>> {
  const r = await request(base, 'GET', `/v1/kv/${prefix}?recurse${mode ? `&${mode}` : ''}`, undefined, timeoutMs);
  const out = new Map<string, string>();
  if (r.status === 404) return out;
  if (r.status !== 200) throw new Error(`GET /v1/kv/${prefix}?recurse: ${r.status} ${r.text}`);
  for (const e of JSON.parse(r.text) as Array<{ Key: string; Value: string | null }>) {
    out.set(e.Key, e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString('utf8'));
  }
  return out;
}

/** The Raft configuration as /v1/operator/raft/configuration reports it. */
export interface RaftServer { ID: string; Node: string; Address: string; Leader: boolean; Voter: boolean }

export async function raftConfiguration(base: string): Promise<{ Servers: RaftServer[]; Index: number }> {
  return getJson(base, '/v1/operator/raft/configuration');
}
