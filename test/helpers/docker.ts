// Helpers for tests that need a real Docker Engine (test/docker/, test/integration/).
//
// Contract: a test calls `requireDocker(t)` first and returns when it gets
// `undefined`. Without an engine the test is skipped, except under CI=true, where it
// fails: a CI run that silently skipped the Docker tests would prove nothing.
// Containers come from `runContainer`, which names them `muster-test-<random>`,
// labels them `muster.test=1` (plus the run id scripts/test.mjs sets) and removes
// them in the test's teardown, so a crashed run leaves nothing that cannot be found.
import Docker from 'dockerode';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { waitFor } from './wait.js';

/** The local image every Docker test runs unless it asks for another. */
export const TEST_IMAGE = 'muster-test-busybox:latest';
/** Label carried by every container the tests create. */
export const TEST_LABEL = 'muster.test';
/** Label naming the `scripts/test.mjs` run that created the container. */
export const TEST_RUN_LABEL = 'muster.test.run';

/** Set on TEST_IMAGE by scripts/test-image.sh; an image without it is rebuilt. */
const IMAGE_RECIPE_LABEL = 'muster.test.image';
const PING_TIMEOUT_MS = 5_000;
const IMAGE_BUILD_TIMEOUT_MS = 120_000;

/**
 * The engine's socket: MUSTER_DOCKER_SOCKET, else a unix:// DOCKER_HOST, else
 * /var/run/docker.sock. Tests hand the same path to the sidecar they start.
 */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MUSTER_DOCKER_SOCKET']) return env['MUSTER_DOCKER_SOCKET'];
  const host = env['DOCKER_HOST'];
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export interface RequireDockerOptions {
  /** Socket to use instead of `dockerSocketPath()`. */
  socketPath?: string;
  /** Whether an unreachable engine fails the test; default `process.env.CI === 'true'`. */
  ci?: boolean;
  /** Image that must exist; default TEST_IMAGE (built by scripts/test-image.sh). */
  image?: string;
}

/**
 * Returns a client for a reachable engine that has the test image, or undefined
 * after failing (CI) or skipping (elsewhere) the test `t`.
 */
export async function requireDocker(t: Test, opts: RequireDockerOptions = {}): Promise<Docker | undefined> {
  const socketPath = opts.socketPath ?? dockerSocketPath();
  const ci = opts.ci ?? process.env['CI'] === 'true';
  const image = opts.image ?? TEST_IMAGE;

  const unavailable = (reason: string): undefined => {
    if (ci) {
      t.fail(`docker engine required under CI=true but ${reason} (start dockerd, see .ci/run)`);
    } else {
      skipTest(t, `docker not available: ${reason}`);
    }
    return undefined;
  };

  const probe = new Docker({ socketPath, timeout: PING_TIMEOUT_MS });
  try {
    await withTimeout(probe.ping(), PING_TIMEOUT_MS, `ping timed out after ${PING_TIMEOUT_MS} ms`);
  } catch (err) {
    return unavailable(`${socketPath} is unreachable (${errorMessage(err)})`);
  }

  const docker = new Docker({ socketPath });
  try {
    await ensureImage(docker, socketPath, image);
  } catch (err) {
    return unavailable(`image ${image} is missing and could not be built (${errorMessage(err)})`);
  }
  return docker;
}

/** Skips `t` (a 0-plan with a reason), or adds a skipped subtest if `t` already has a plan or results. */
function skipTest(t: Test, reason: string): void {
  try {
    t.plan(0, reason);
  } catch {
    t.skip(reason, () => {});
  }
}

async function ensureImage(docker: Docker, socketPath: string, image: string): Promise<void> {
  if (await imageExists(docker, image)) return;
  if (image !== TEST_IMAGE) throw new Error(`image ${image} not found and only ${TEST_IMAGE} can be built here`);
  const script = findScript('scripts/test-image.sh');
  await new Promise<void>((resolve, reject) => {
    const env = { ...process.env, DOCKER_HOST: `unix://${socketPath}` }; // the engine that was pinged
    execFile('bash', [script], { timeout: IMAGE_BUILD_TIMEOUT_MS, env }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${script} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
  if (!(await imageExists(docker, image))) throw new Error(`${script} did not produce a labelled ${image}`);
}

/** True when the image is there (for TEST_IMAGE: built by scripts/test-image.sh, which labels it). */
async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    const info = await docker.getImage(image).inspect();
    return image !== TEST_IMAGE || info.Config.Labels?.[IMAGE_RECIPE_LABEL] !== undefined;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

/** Finds a repository file from here, whether running from test/helpers or dist/test/helpers. */
export function findScript(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A published port: container port (with protocol, default tcp) to a host address and port. */
export interface PublishSpec {
  containerPort: number | string;
  protocol?: 'tcp' | 'udp' | 'sctp';
  /** Default 127.0.0.1: tests never bind outside loopback. */
  hostIp?: string;
  /** Default: a port chosen by the engine; read it back with `hostPort`. */
  hostPort?: number | string;
}

export interface HealthcheckSpec {
  /** A string runs under `CMD-SHELL`; an array is passed as is (e.g. `['CMD', 'true']`). */
  test: string | string[];
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
  retries?: number;
}

export interface RunContainerOptions {
  /** Default TEST_IMAGE. */
  image?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string> | string[];
  labels?: Record<string, string>;
  /** Docker CLI form `[ip:][hostPort:]containerPort[/proto]` (ip defaults to 127.0.0.1) or a PublishSpec. */
  publish?: Array<string | PublishSpec>;
  /** Ports exposed but not published, e.g. `'8080/tcp'`. */
  expose?: string[];
  networkMode?: string;
  /** Bind mounts, Docker CLI form `host:container[:ro]`. */
  binds?: string[];
  healthcheck?: HealthcheckSpec;
  autoRemove?: boolean;
  hostname?: string;
  /** Full container name; default `uniqueContainerName()`. Prefer `uniqueContainerName('web')`. */
  name?: string;
  /** Seconds `docker stop` waits before SIGKILL (default: the engine's, 10). */
  stopTimeout?: number;
  /** Default true; false only creates the container (start it with `container.start()`). */
  start?: boolean;
}

/** `muster-test-<random>` or `muster-test-<random>-<suffix>`. */
export function uniqueContainerName(suffix?: string): string {
  const base = `muster-test-${randomBytes(4).toString('hex')}`;
  return suffix ? `${base}-${suffix}` : base;
}

/**
 * Creates and (unless `start: false`) starts a container, labelled `muster.test=1`, and registers a teardown
 * on `t` that force-removes it (and its anonymous volumes).
 */
export async function runContainer(t: Test, docker: Docker, opts: RunContainerOptions = {}): Promise<Docker.Container> {
  const exposed: Record<string, {}> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of opts.expose ?? []) exposed[withProtocol(port)] = {};
  for (const spec of opts.publish ?? []) {
    const p = typeof spec === 'string' ? parsePublishSpec(spec) : spec;
    const key = `${p.containerPort}/${p.protocol ?? 'tcp'}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '127.0.0.1', HostPort: p.hostPort === undefined ? '' : String(p.hostPort) });
  }

  const env = Array.isArray(opts.env) ? opts.env : Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const labels: Record<string, string> = {
    ...opts.labels,
    [TEST_LABEL]: '1',
    [TEST_RUN_LABEL]: process.env['MUSTER_TEST_RUN'] ?? 'adhoc',
  };
  const hostConfig: Docker.HostConfig = { PortBindings: bindings, AutoRemove: opts.autoRemove ?? false };
  if (opts.networkMode !== undefined) hostConfig.NetworkMode = opts.networkMode;
  if (opts.binds !== undefined) hostConfig.Binds = opts.binds;

  const create: Docker.ContainerCreateOptions = {
    name: opts.name ?? uniqueContainerName(),
    Image: opts.image ?? TEST_IMAGE,
    Env: env,
    Labels: labels,
    ExposedPorts: exposed,
    HostConfig: hostConfig,
  };
  if (opts.cmd) create.Cmd = opts.cmd;
  if (opts.entrypoint) create.Entrypoint = opts.entrypoint;
  if (opts.hostname !== undefined) create.Hostname = opts.hostname;
  if (opts.healthcheck) create.Healthcheck = healthConfig(opts.healthcheck);
  if (opts.stopTimeout !== undefined) create.StopTimeout = opts.stopTimeout;

  const container = await docker.createContainer(create);
  t.teardown(() => removeContainer(container));
  if (opts.start ?? true) await container.start();
  return container;
}

/** Force-removes a container; one already gone (or being removed) is fine. */
export async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (err) {
    const code = statusCode(err);
    if (code !== 404 && code !== 409) throw err;
  }
}

/**
 * The host port published for `port` (`'80/tcp'`, `'53/udp'`; a bare number means tcp),
 * polling briefly because the engine fills the mapping in as the container starts.
 */
export async function hostPort(container: Docker.Container, port: string | number, timeoutMs = 10_000): Promise<number> {
  const key = withProtocol(String(port));
  return waitFor(
    async () => {
      const info = await container.inspect();
      const found = info.NetworkSettings.Ports?.[key] ?? [];
      // Prefer the IPv4 binding; an IPv6 one (HostIp '::') carries the same port.
      const binding = found.find((b) => !b.HostIp.includes(':')) ?? found[0];
      const n = binding ? Number(binding.HostPort) : NaN;
      return Number.isInteger(n) && n > 0 ? n : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `no host port published for ${key} on container ${container.id.slice(0, 12)}` },
  );
}

export interface HttpWaitResult {
  status: number;
  body: string;
}

/** GETs `url` until it answers `expectStatus` (default 200); returns the last answer. */
export async function waitForHttp(url: string, opts: { timeoutMs?: number; expectStatus?: number } = {}): Promise<HttpWaitResult> {
  const expect = opts.expectStatus ?? 200;
  return waitFor(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = await res.text();
        return res.status === expect ? { status: res.status, body } : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 100, message: `${url} did not answer ${expect}` },
  );
}

export interface StrayFilter {
  /** Only containers of this run (label muster.test.run). */
  run?: string;
  /** Only containers created at least this long ago (so a concurrent run keeps its own). */
  olderThanMs?: number;
}

/** Removes containers labelled `muster.test=1` that match `filter`; returns how many. */
export async function removeStrayTestContainers(docker: Docker, filter: StrayFilter = {}): Promise<number> {
  const label = [`${TEST_LABEL}=1`];
  if (filter.run !== undefined) label.push(`${TEST_RUN_LABEL}=${filter.run}`);
  const list = await docker.listContainers({ all: true, filters: { label } });
  const cutoff = Date.now() / 1000 - (filter.olderThanMs ?? 0) / 1000;
  const stray = list.filter((c) => c.Created <= cutoff);
  await Promise.all(stray.map((c) => removeContainer(docker.getContainer(c.Id))));
  return stray.length;
}

/** Parses the Docker CLI form `[ip:][hostPort:]containerPort[/proto]`. */
export function parsePublishSpec(spec: string): PublishSpec {
  // [ip:][hostPort:]containerPort[/proto]; an IPv6 ip is written in brackets.
  const m = /^(?:(\[[^\]]+\]|[^:]*):)??(?:([^:]*):)?(\d+)(?:\/(tcp|udp|sctp))?$/.exec(spec);
  if (!m) throw new Error(`bad publish spec ${JSON.stringify(spec)}`);
  const [, ip, host, container, proto] = m;
  const out: PublishSpec = { containerPort: Number(container) };
  if (proto) out.protocol = proto as 'tcp' | 'udp' | 'sctp';
  if (ip) out.hostIp = ip.replace(/^\[|\]$/g, '');
  if (host) out.hostPort = host;
  return out;
}

function withProtocol(port: string): string {
  return port.includes('/') ? port : `${port}/tcp`;
}

function healthConfig(h: HealthcheckSpec): Docker.HealthConfig {
  const ns = (ms: number | undefined) => (ms === undefined ? undefined : ms * 1_000_000);
  const out: Docker.HealthConfig = { Test: typeof h.test === 'string' ? ['CMD-SHELL', h.test] : h.test };
  const interval = ns(h.intervalMs);
  const timeout = ns(h.timeoutMs);
  const startPeriod = ns(h.startPeriodMs);
  if (interval !== undefined) out.Interval = interval;
  if (timeout !== undefined) out.Timeout = timeout;
  if (startPeriod !== undefined) out.StartPeriod = startPeriod;
  if (h.retries !== undefined) out.Retries = h.retries;
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ExecResult {
  exitCode: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Runs `cmd` inside a running container (`docker exec`) and resolves when it has finished. */
export async function execIn(container: Docker.Container, cmd: string[]): Promise<ExecResult> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk); done(); } });
  container.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode, output: Buffer.concat(chunks).toString('utf8') };
}
