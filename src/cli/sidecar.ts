import { existsSync } from 'node:fs';
import { parseFlags, formatFlagHelp, type FlagSpec } from '../config/flags.js';
import { SIDECAR_FLAGS } from '../config/sidecar-flags.js';
import { sidecarConfigFrom, configError } from '../config/sidecar-config.js';
import { DEFAULTS } from '../config/defaults.js';
import { UsageError, MusterError, errorMessage } from '../errors.js';
import { createLogger, normaliseLevel, type Logger } from '../log.js';
import { ConsulBackend, consulAddressFromUri } from '../backends/consul.js';
import { DEFAULT_LEASE_TTL_S, EtcdBackend, etcdOptionsFromUri } from '../backends/etcd.js';
import type { Backend } from '../backends/types.js';
import type { SidecarConfig } from '../config/types.js';
import { dockerClient } from '../docker/client.js';
import { Sidecar } from '../docker/sidecar.js';
import { compileTagTemplate } from '../docker/template.js';
import { sleep } from '../time.js';
import { VERSION } from '../version.js';

const FLAGS: readonly FlagSpec[] = [
  ...SIDECAR_FLAGS,
  { name: 'log-level', kind: 'string', help: 'trace, debug, info, warn or err', default: DEFAULTS.logLevel },
];

/** `muster sidecar [flags] <registry URI>`: registrator, with reconciliation. */
export async function runSidecar(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-version')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const parsed = parseFlags(argv, FLAGS);
  if (parsed.help) {
    process.stdout.write(`Usage: muster sidecar [flags] <registry URI>\n  registry URI: consul://host:port, consul-tls://host:port, consul-unix:///path.sock,\n                etcd://host:port/prefix[?format=plain]\n\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (parsed.args.length === 0) throw new UsageError('Missing required argument for registry URI.');
  if (parsed.args.length > 1) {
    throw new UsageError(`Extra unparsed arguments: ${parsed.args.slice(1).join(' ')} (options should come before the registry URI argument)`);
  }
  const problems: string[] = [];
  const config = sidecarConfigFrom(parsed.values, problems);
  const level = (parsed.values.get('log-level') as string | undefined) ?? DEFAULTS.logLevel;
  if (!normaliseLevel(level)) problems.push(`-log-level must be trace, debug, info, warn or err, not "${level}"`);
  if (problems.length > 0) throw configError(problems);
  if (config.tags) compileTagTemplate(config.tags);

  let uri: URL;
  try { uri = new URL(parsed.args[0] as string); } catch { throw new MusterError('ERR_CONFIG', `bad adapter uri: ${parsed.args[0]}`); }
  const log = createLogger({ level: normaliseLevel(level) ?? 'info' });
  const backend = backendFor(uri, config, log);
  const endpoint = (parsed.values.get('docker') as string | undefined) || process.env.DOCKER_HOST
    || `unix://${DEFAULTS.dockerSockets.find((p) => existsSync(p)) ?? DEFAULTS.dockerSockets[0]}`;

  log.info({ version: VERSION, backend: backend.name, docker: endpoint }, 'starting sidecar');
  const shutdown = new AbortController();
  const onSignal = () => shutdown.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await pingWithRetries(backend, config.retryAttempts, config.retryInterval, log, shutdown.signal);
    if (shutdown.signal.aborted) return 0;
    const sidecar = new Sidecar(config, { docker: dockerClient(endpoint), backend, log }, shutdown.signal);
    sidecar.start();
    await new Promise<void>((resolve) => shutdown.signal.addEventListener('abort', () => resolve(), { once: true }));
    await sidecar.stop();
    log.info('sidecar stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await backend.close?.();
  }
}

/** The backend a registry URI names: etcd:// (leases: `-ttl` seconds, else DEFAULT_LEASE_TTL_S), else Consul's forms. */
function backendFor(uri: URL, config: SidecarConfig, log: Logger): Backend {
  if (uri.protocol === 'etcd:') {
    return new EtcdBackend({ ...etcdOptionsFromUri(uri), leaseTtlSeconds: config.ttl > 0 ? config.ttl : DEFAULT_LEASE_TTL_S, log });
  }
  return new ConsulBackend({
    address: consulAddressFromUri(uri, process.env),
    ...(process.env.CONSUL_HTTP_TOKEN ? { token: process.env.CONSUL_HTTP_TOKEN } : {}),
  });
}

/** registrator's start-up loop: `retryAttempts + 1` pings (-1: forever), `retryInterval` ms apart. */
async function pingWithRetries(backend: Backend, attempts: number, intervalMs: number, log: ReturnType<typeof createLogger>, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; attempts === -1 || attempt <= attempts; attempt++) {
    log.info({ attempt, of: attempts }, 'connecting to backend');
    try {
      await backend.ping(signal);
      return;
    } catch (err) {
      if (signal.aborted) return;
      if (attempt === attempts) throw new MusterError('ERR_BACKEND', `backend not reachable: ${errorMessage(err)}`);
      log.warn({ err: errorMessage(err), retryInMs: intervalMs }, 'backend not reachable');
      try { await sleep(intervalMs, signal); } catch { return; }
    }
  }
}
