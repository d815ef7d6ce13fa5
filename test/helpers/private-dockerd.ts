// A Docker Engine of the test's own, for tests that stop and restart the engine
// under a running agent (the machine's engine is shared with every other test).
//
// It runs in a network namespace of its own (`unshare --net`): dockerd with
// `--bridge=none` deletes the host's docker0 interface on start (moby's
// removeDefaultBridgeInterface), which would break the machine's engine; in a
// private namespace there is nothing of the host's to delete, and iptables is
// off anyway. Data root, exec root (with its own containerd), pid file and log
// live in /tmp/muster-it-<random>/, the API socket is /tmp/muster-it-<random>.sock.
// Teardown removes the containers, stops the daemon (SIGKILL if it hangs), ends
// any leftover containerd, shim or container process of that directory, removes
// the containers' cgroups, unmounts what dockerd mounted there and deletes it
// all, whatever happened in the test.
import Docker from 'dockerode';
import type { Test } from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { waitFor } from './wait.js';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export interface PrivateDockerd {
  /** `unix:///tmp/muster-it-<random>.sock`, for `-docker`. */
  endpoint: string;
  socketPath: string;
  /** A client for this engine. */
  docker: Docker;
  /** Starts the daemon (again) and resolves once it answers. */
  start(): Promise<void>;
  /** SIGTERM, then resolves once the daemon has exited (its containers stop with it: no live-restore). */
  stop(): Promise<void>;
  /** The end of the daemon's log, for failure messages. */
  logTail(chars?: number): string;
  /** The daemon's pid while it runs. */
  pid(): number | undefined;
}

/** Whether this machine can run a private engine; the reason when it cannot. */
function unavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (dockerd and unshare --net need it)';
  for (const bin of ['dockerd', 'unshare', 'umount']) if (!onPath(bin)) return `${bin} not found on PATH`;
  return undefined;
}

function onPath(bin: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, bin)));
}

/**
 * Starts a private dockerd for `t` and registers its teardown. Returns undefined
 * after skipping `t` (or failing it under CI=true) when the machine cannot run one.
 */
export async function startPrivateDockerd(t: Test, opts: { ci?: boolean } = {}): Promise<PrivateDockerd | undefined> {
  const reason = unavailableReason();
  if (reason !== undefined) {
    if (opts.ci ?? process.env['CI'] === 'true') t.fail(`a private dockerd is required under CI=true but ${reason}`);
    else t.skip(`no private dockerd: ${reason}`, () => {});
    return undefined;
  }
  const id = randomBytes(4).toString('hex');
  const dir = `/tmp/muster-it-${id}`;
  const socketPath = `/tmp/muster-it-${id}.sock`;
  const logPath = join(dir, 'dockerd.log');
  mkdirSync(dir, { recursive: true });
  const args = [
    '--net', '--', 'dockerd',
    '--host', `unix://${socketPath}`,
    '--data-root', join(dir, 'root'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'pid'),
    '--bridge=none', '--iptables=false', '--ip6tables=false',
    '--storage-driver=vfs',
    '--shutdown-timeout=1',
  ];
  const docker = new Docker({ socketPath });
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const logTail = (chars = 1500): string => {
    try { return readFileSync(logPath, 'utf8').slice(-chars); } catch { return '(no log)'; }
  };
  const alive = (): boolean => proc !== undefined && proc.exitCode === null && proc.signalCode === null;

  const start = async (): Promise<void> => {
    if (alive()) throw new Error('private dockerd already running');
    const log = openSync(logPath, 'a');
    const child = spawn('unshare', args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    proc = child;
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`private dockerd exited (${child.exitCode ?? child.signalCode}): ${logTail()}`);
      }
      try { await docker.ping(); return true; } catch { return undefined; }
    }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, message: `private dockerd on ${socketPath} not answering; log: ${logTail()}` });
  };

  const stop = async (): Promise<void> => {
    const child = proc;
    if (!child || !alive()) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS); });
    const late = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  t.teardown(async () => {
    try {
      if (alive()) {
        const all = await docker.listContainers({ all: true });
        await Promise.allSettled(all.map((c) => docker.getContainer(c.Id).remove({ force: true })));
      }
    } catch { /* the daemon may be half-way down: stopping it stops its containers */ }
    await stop().catch(() => {});
    await killLeftovers(dir);
    removeCgroups(safeReaddir(join(dir, 'root', 'containers')));
    await unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(socketPath, { force: true });
  });

  await start();
  return { endpoint: `unix://${socketPath}`, socketPath, docker, start, stop, logTail, pid: () => (alive() ? proc?.pid : undefined) };
}

/**
 * Ends, by pid, processes still running from `dir` (a containerd or shim
 * orphaned by a killed dockerd) and everything below them (container processes
 * are children of their shim).
 */
async function killLeftovers(dir: string): Promise<void> {
  const parentOf = new Map<number, number>();
  const roots: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(`${dir}/`)) roots.push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  const pids = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf) if (!pids.has(pid) && pids.has(ppid)) { pids.add(pid); grew = true; }
  }
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (pids.size > 0) {
    await waitFor(() => [...pids].every((pid) => !existsSync(`/proc/${pid}`)), { timeoutMs: 10_000, message: 'leftovers still running' }).catch(() => {});
  }
}

/** Removes the (now empty) cgroups of these containers, which a killed daemon leaves behind. */
function removeCgroups(containerIds: string[]): void {
  const ids = containerIds.filter((id) => /^[0-9a-f]{64}$/.test(id));
  if (ids.length === 0) return;
  for (const hierarchy of safeReaddir('/sys/fs/cgroup')) {
    for (const id of ids) {
      const path = join('/sys/fs/cgroup', hierarchy, 'docker', id);
      try { if (existsSync(path)) rmdirSync(path); } catch { /* still in use or not ours to remove */ }
    }
  }
}

/** Unmounts every mount at or below `dir`, deepest first (dockerd leaves its netns file mounted). */
async function unmountUnder(dir: string): Promise<void> {
  let info = '';
  try { info = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return; }
  const points = info.split('\n')
    .map((line) => unescapeMount(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    const ok = await run('umount', [point]);
    if (!ok) await run('umount', ['-l', point]);
  }
}

function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function run(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => { execFile(cmd, args, { timeout: 10_000 }, (err) => resolve(!err)); });
}

function safeReaddir(path: string): string[] {
  try { return readdirSync(path); } catch { return []; }
}
