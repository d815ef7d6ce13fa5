/**
 * The two clusters of bench/cluster, behind one interface: three Muster
 * servers (`muster agent -server -bootstrap-expect 3`, each with its own data
 * dir) and three etcd members (`--initial-cluster`), all on 127.0.0.1 with
 * fixed ports picked at creation, so a killed member restarts with the same
 * data dir, ports and identity.
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Fatal, Proc, freePort, sendOnce, sleep, waitFor, type Reply, type Req } from './cluster-util.js';

export interface Member {
  readonly name: string;
  /** Where the HTTP API (Muster) or the JSON gateway (etcd) listens. */
  readonly httpPort: number;
  proc: Proc | undefined;
}

export const isRunning = (m: Member) => m.proc?.running === true;

export interface ClusterSystem {
  readonly name: string;
  readonly members: Member[];
  /** Starts every member and waits until they agree on a leader and a write succeeds. */
  start(): Promise<void>;
  /** The leader every running member reports (itself running), within `timeoutMs`. */
  leader(timeoutMs: number): Promise<Member>;
  put(key: string, value: Buffer): Req;
  /** A linearizable read of `key`. */
  get(key: string): Req;
  /** Whether a reply acknowledges the request (a write: it is committed). */
  ok(r: Reply): boolean;
  /** Starts a killed member again (same data dir and ports) and waits until the cluster is healthy with it. */
  restart(m: Member, timeoutMs: number): Promise<void>;
  /** Every running member agrees on a leader and accepts a write. */
  waitHealthy(timeoutMs: number): Promise<void>;
}

const REQ_TIMEOUT_MS = 5_000;

// ---------------------------------------------------------------- Muster

interface MusterMember extends Member { serverPort: number; gossipPort: number; dataDir: string }

/**
 * Node flags for a Muster server: a CPU profile into MUSTER_BENCH_PROF_DIR when set,
 * and any flags in MUSTER_BENCH_NODE_ARGS (space-separated, e.g. `--trace-gc`).
 */
function profArgs(): string[] {
  const dir = process.env['MUSTER_BENCH_PROF_DIR'];
  const extra = (process.env['MUSTER_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  return [...(dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), ...extra];
}

export class MusterCluster implements ClusterSystem {
  readonly name = 'muster';
  readonly members: MusterMember[] = [];

  private constructor(private readonly root: string, private readonly logLevel: string) {}

  static async create(root: string, dir: string, logLevel: string): Promise<MusterCluster> {
    const c = new MusterCluster(root, logLevel);
    for (let i = 1; i <= 3; i++) {
      c.members.push({
        name: `s${i}`, httpPort: await freePort(), serverPort: await freePort(), gossipPort: await freePort(true),
        dataDir: join(dir, `s${i}`), proc: undefined,
      });
    }
    return c;
  }

  private spawn(m: MusterMember, join: MusterMember[]): void {
    const args = [
      resolve(this.root, 'bin/muster'), 'agent', '-server', '-bootstrap-expect', '3', '-data-dir', m.dataDir, '-node', m.name,
      '-bind', '127.0.0.1', '-client', '127.0.0.1', '-http-port', String(m.httpPort), '-server-port', String(m.serverPort),
      '-serf-lan-port', String(m.gossipPort), '-dns-port', '-1', '-docker', '', '-log-level', this.logLevel,
    ];
    for (const j of join) args.push('-join', `127.0.0.1:${j.gossipPort}`);
    m.proc = new Proc(`muster ${m.name}`, process.execPath, [...profArgs(), ...args], { ...process.env, NODE_OPTIONS: '' });
  }

  private async listening(m: MusterMember, timeoutMs: number): Promise<void> {
    await waitFor(`muster ${m.name} to answer HTTP`, timeoutMs, async () => {
      if (!isRunning(m)) throw new Fatal(`muster ${m.name} exited:\n${m.proc?.tail(20).join('\n')}`);
      const r = await sendOnce(m.httpPort, { method: 'GET', path: '/v1/status/leader' }, REQ_TIMEOUT_MS);
      return r.status === 200 ? true : undefined;
    });
  }

  async start(): Promise<void> {
    const [first, ...rest] = this.members as [MusterMember, ...MusterMember[]];
    // the first server before the others, so their -join finds it
    this.spawn(first, []);
    await this.listening(first, 30_000);
    for (const m of rest) this.spawn(m, [first]);
    await Promise.all(rest.map((m) => this.listening(m, 30_000)));
    await this.waitHealthy(60_000);
  }

  async leader(timeoutMs: number): Promise<Member> {
    return waitFor('the muster servers to agree on a leader', timeoutMs, async () => {
      const up = this.members.filter(isRunning);
      const answers = await Promise.all(up.map(async (m) => {
        const r = await sendOnce(m.httpPort, { method: 'GET', path: '/v1/status/leader' }, REQ_TIMEOUT_MS);
        return r.status === 200 ? (JSON.parse(r.body) as string) : '';
      }));
      const first = answers[0];
      if (!first || answers.some((a) => a !== first)) return undefined;
      return up.find((m) => `127.0.0.1:${m.serverPort}` === first);
    }, 50);
  }

  put(key: string, value: Buffer): Req {
    return { method: 'PUT', path: `/v1/kv/${key}`, body: value };
  }

  get(key: string): Req {
    return { method: 'GET', path: `/v1/kv/${key}?consistent` };
  }

  ok(r: Reply): boolean {
    return r.status === 200 && (r.body.trim() === 'true' || r.body.startsWith('['));
  }

  /** SIGTERM to every running server; resolves when they exited or after `timeoutMs`. */
  async terminate(timeoutMs: number): Promise<void> {
    const running = this.members.filter(isRunning);
    for (const m of running) m.proc?.terminate();
    await Promise.race([Promise.all(running.map((m) => m.proc?.exited)), sleep(timeoutMs)]);
  }

  async restart(m: Member, timeoutMs: number): Promise<void> {
    const mm = m as MusterMember;
    if (isRunning(mm)) throw new Error(`${m.name} is running`);
    // -join through the other two (the start fails only if neither answers)
    this.spawn(mm, this.members.filter((x) => x !== mm));
    await this.listening(mm, timeoutMs);
    await this.waitHealthy(timeoutMs);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    await this.leader(timeoutMs);
    for (const m of this.members.filter(isRunning)) {
      const left = Math.max(1000, timeoutMs - (performance.now() - t0));
      await waitFor(`a write through muster ${m.name}`, left, async () => {
        const r = await sendOnce(m.httpPort, this.put(`health/${m.name}`, Buffer.from('ok')), REQ_TIMEOUT_MS);
        return this.ok(r) ? true : undefined;
      }, 100);
    }
  }
}

// ---------------------------------------------------------------- etcd

interface EtcdMember extends Member { peerPort: number; dataDir: string }

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

export class EtcdCluster implements ClusterSystem {
  readonly name = 'etcd';
  readonly members: EtcdMember[] = [];

  private constructor(private readonly token: string, private readonly logLevel: string) {}

  static async create(dir: string, logLevel: string): Promise<EtcdCluster> {
    const c = new EtcdCluster(`muster-bench-${process.pid}`, logLevel);
    for (let i = 1; i <= 3; i++) {
      c.members.push({ name: `e${i}`, httpPort: await freePort(), peerPort: await freePort(), dataDir: join(dir, `e${i}`), proc: undefined });
    }
    return c;
  }

  private spawn(m: EtcdMember): void {
    const initial = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    m.proc = new Proc(`etcd ${m.name}`, 'etcd', [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.httpPort}`, '--advertise-client-urls', `http://127.0.0.1:${m.httpPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', this.token,
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', this.logLevel === 'warn' ? 'warn' : 'info',
    ]);
  }

  async start(): Promise<void> {
    for (const m of this.members) this.spawn(m);
    await this.waitHealthy(60_000);
  }

  private async status(m: EtcdMember): Promise<{ id: string; leader: string } | undefined> {
    const r = await sendOnce(m.httpPort, { method: 'POST', path: '/v3/maintenance/status', body: Buffer.from('{}') }, REQ_TIMEOUT_MS);
    if (r.status !== 200) return undefined;
    const s = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
    if (!s.header?.member_id || !s.leader || s.leader === '0') return undefined;
    return { id: s.header.member_id, leader: s.leader };
  }

  async leader(timeoutMs: number): Promise<Member> {
    return waitFor('the etcd members to agree on a leader', timeoutMs, async () => {
      const up = this.members.filter(isRunning);
      const answers = await Promise.all(up.map((m) => this.status(m)));
      const first = answers[0];
      if (!first || answers.some((a) => a?.leader !== first.leader)) return undefined;
      const i = answers.findIndex((a) => a?.id === first.leader);
      return i >= 0 ? up[i] : undefined;
    }, 50);
  }

  put(key: string, value: Buffer): Req {
    return { method: 'POST', path: '/v3/kv/put', body: Buffer.from(JSON.stringify({ key: b64(key), value: b64(value) })) };
  }

  get(key: string): Req {
    // serializable defaults to false: a linearizable read
    return { method: 'POST', path: '/v3/kv/range', body: Buffer.from(JSON.stringify({ key: b64(key) })) };
  }

  ok(r: Reply): boolean {
    return r.status === 200 && r.body.includes('"header"') && !r.body.includes('"error"');
  }

  async restart(m: Member, timeoutMs: number): Promise<void> {
    const em = m as EtcdMember;
    if (isRunning(em)) throw new Error(`${m.name} is running`);
    this.spawn(em); // an existing data dir wins over the --initial-cluster flags
    await this.waitHealthy(timeoutMs);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    for (const m of this.members.filter(isRunning)) {
      await waitFor(`etcd ${m.name} /health`, timeoutMs, async () => {
        if (!isRunning(m)) throw new Fatal(`etcd ${m.name} exited:\n${m.proc?.tail(20).join('\n')}`);
        const r = await sendOnce(m.httpPort, { method: 'GET', path: '/health' }, REQ_TIMEOUT_MS);
        return r.status === 200 && r.body.includes('true') ? true : undefined;
      });
    }
    await this.leader(Math.max(1000, timeoutMs - (performance.now() - t0)));
    for (const m of this.members.filter(isRunning)) {
      const left = Math.max(1000, timeoutMs - (performance.now() - t0));
      await waitFor(`a write through etcd ${m.name}`, left, async () => {
        const r = await sendOnce(m.httpPort, this.put(`health/${m.name}`, Buffer.from('ok')), REQ_TIMEOUT_MS);
        return this.ok(r) ? true : undefined;
      }, 100);
    }
  }
}
