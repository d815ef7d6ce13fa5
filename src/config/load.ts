import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { parseFlags, type FlagValue } from './flags.js';
import { AGENT_FLAGS } from './agent-flags.js';
import { DEFAULTS } from './defaults.js';
import { sidecarConfigFrom, configError } from './sidecar-config.js';
import { normaliseLevel } from '../log.js';
import { parseDurationMs } from './duration.js';
import { decodeKey } from '../gossip/keyring.js';
import { privateIPv4Addresses, type Interfaces } from './private-ip.js';
import type { AgentConfig } from './types.js';
import { dnsConfigFrom, type DnsConfigSource } from './dns-config.js';

/**
 * Config-file keys (Consul's snake_case names) mapped to the flag they stand
 * for. Flags given on the command line win over files; later files win over
 * earlier ones. Unknown keys are errors, reported all at once.
 */
const FILE_KEYS: Record<string, string> = {
  dev: 'dev', server: 'server', bootstrap_expect: 'bootstrap-expect', node_name: 'node', node_id: 'node-id',
  datacenter: 'datacenter', domain: 'domain', bind_addr: 'bind', client_addr: 'client', advertise_addr: 'advertise',
  data_dir: 'data-dir', log_level: 'log-level', pid_file: 'pid-file', ui: 'ui',
  enable_script_checks: 'enable-script-checks', docker: 'docker',
  start_join: 'join', retry_join: 'retry-join', retry_interval: 'retry-interval', retry_max: 'retry-max',
  rejoin_after_leave: 'rejoin', encrypt: 'encrypt',
  leave_on_terminate: 'leave-on-terminate', skip_leave_on_interrupt: 'skip-leave-on-interrupt',
};
const PORT_KEYS: Record<string, string> = {
  http: 'http-port', dns: 'dns-port', server: 'server-port', serf_lan: 'serf-lan-port', serf_wan: 'serf-wan-port',
};

export interface LoadedAgentConfig {
  config: AgentConfig;
  help: boolean;
}

/** What loading reads from the machine besides argv, files and env; tests pin it. */
export interface MachineProbe {
  /** The network interfaces (os.networkInterfaces()), for the advertise address. */
  interfaces?: () => Interfaces;
  /** Whether a path exists (the default Docker sockets). */
  exists?: (path: string) => boolean;
}

export function loadAgentConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, machine: MachineProbe = {}): LoadedAgentConfig {
  const exists = machine.exists ?? existsSync;
  const parsed = parseFlags(argv, AGENT_FLAGS);
  const problems: string[] = [];
  if (parsed.args.length > 0) problems.push(`unexpected argument: ${parsed.args[0]}`);
  const values = new Map<string, FlagValue>();
  const services: unknown[] = [];
  const checks: unknown[] = [];
  const nodeMeta: Record<string, string> = {};
  const dnsSources: DnsConfigSource[] = [];
  const files = [
    ...((parsed.values.get('config-file') as string[] | undefined) ?? []),
    ...((parsed.values.get('config-dir') as string[] | undefined) ?? []).flatMap((dir) => listConfigDir(dir, problems)),
  ];
  for (const file of files) readConfigFile(file, values, services, checks, nodeMeta, problems, dnsSources);
  for (const [k, v] of parsed.values) values.set(k, v);
  for (const kv of (parsed.values.get('node-meta') as string[] | undefined) ?? []) {
    const i = kv.indexOf(':');
    if (i <= 0) problems.push(`-node-meta must be key:value, not "${kv}"`);
    else nodeMeta[kv.slice(0, i)] = kv.slice(i + 1);
  }

  const str = (k: string) => values.get(k) as string | undefined;
  const int = (k: string, d: number) => (values.get(k) as number | undefined) ?? d;
  const bool = (k: string) => (values.get(k) as boolean | undefined) ?? false;
  const dev = bool('dev');
  const loopback = '127.0.0.1';
  const bindAddr = str('bind') ?? (dev ? loopback : DEFAULTS.bindAddr);
  const nodeName = str('node') || osHostname();
  const logLevel = str('log-level') ?? DEFAULTS.logLevel;
  if (!normaliseLevel(logLevel)) problems.push(`-log-level must be trace, debug, info, warn or err, not "${logLevel}"`);
  const datacenter = (str('datacenter') ?? DEFAULTS.datacenter).toLowerCase();
  if (!/^[a-z0-9_-]+$/.test(datacenter)) problems.push(`-datacenter may only hold letters, digits, "-" and "_", not "${datacenter}"`);
  const server = dev || bool('server');
  const dataDir = str('data-dir') || undefined;
  if (server && !dev && !dataDir) problems.push('-data-dir is required for a server (or use -dev)');
  const bootstrapExpect = bool('bootstrap') ? 1 : int('bootstrap-expect', 0);
  if (bool('bootstrap') && values.get('bootstrap-expect') !== undefined) problems.push('-bootstrap and -bootstrap-expect cannot both be given');
  if (bootstrapExpect < 0) problems.push('-bootstrap-expect must not be negative');
  if (bootstrapExpect > 0 && !server) problems.push('-bootstrap-expect and -bootstrap need -server');
  if (bootstrapExpect > 0 && dev) problems.push('-bootstrap-expect and -bootstrap cannot be used with -dev (it bootstraps itself)');
  const ports = {
    http: int('http-port', DEFAULTS.ports.http),
    dns: int('dns-port', DEFAULTS.ports.dns),
    server: int('server-port', DEFAULTS.ports.server),
    serfLan: int('serf-lan-port', DEFAULTS.ports.serfLan),
    serfWan: int('serf-wan-port', DEFAULTS.ports.serfWan),
  };
  for (const [k, p] of Object.entries(ports)) {
    if (p < -1 || p > 65535) problems.push(`port ${k} must be between -1 and 65535, not ${p}`);
  }
  // -help prints the flags whatever the machine looks like
  const advertiseAddr = str('advertise') || (parsed.help ? bindAddr : advertiseFor(bindAddr, machine.interfaces, problems));

  let docker: string | undefined;
  const dockerFlag = str('docker');
  if (dockerFlag !== undefined) docker = dockerFlag === '' || dockerFlag === 'none' ? undefined : dockerFlag;
  else if (env.DOCKER_HOST) docker = env.DOCKER_HOST;
  else {
    const socket = DEFAULTS.dockerSockets.find((p) => exists(p));
    if (socket !== undefined) docker = `unix://${socket}`;
  }
  if (docker !== undefined && !/^(unix|tcp|http|https):\/\//.test(docker)) {
    problems.push(`-docker must be unix:///path or tcp://host:port, not "${docker}"`);
  }

  const encrypt = str('encrypt') || undefined;
  if (encrypt !== undefined) {
    try { decodeKey(encrypt); } catch (err) { problems.push(`-encrypt: ${(err as Error).message}`); }
  }
  const retryMax = int('retry-max', 0);
  if (retryMax < 0) problems.push('-retry-max must not be negative');
  const retryIntervalMs = (values.get('retry-interval') as number | undefined) ?? DEFAULTS.retryIntervalMs;
  if (retryIntervalMs <= 0) problems.push('-retry-interval must be greater than 0');

  const sidecar = sidecarConfigFrom(values, problems);
  const dns = dnsConfigFrom(dnsSources, problems);
  if (problems.length > 0) throw configError(problems);

  const config: AgentConfig = {
    dev, server,
    bootstrapExpect,
    nodeName,
    nodeId: str('node-id') || nodeIdFor(nodeName),
    datacenter,
    domain: str('domain') ?? DEFAULTS.domain,
    bindAddr,
    clientAddr: str('client') ?? DEFAULTS.clientAddr,
    advertiseAddr,
    ports,
    dataDir,
    logLevel,
    pidFile: str('pid-file') || undefined,
    ui: bool('ui') || dev,
    enableScriptChecks: bool('enable-script-checks'),
    nodeMeta,
    antiEntropyIntervalMs: DEFAULTS.antiEntropyIntervalMs,
    reapIntervalMs: DEFAULTS.reapIntervalMs,
    services, checks,
    join: (values.get('join') as string[] | undefined) ?? [],
    retryJoin: (values.get('retry-join') as string[] | undefined) ?? [],
    retryIntervalMs,
    retryMax,
    rejoin: bool('rejoin'),
    // Consul: a client leaves on SIGTERM and on SIGINT; a server does neither unless asked
    leaveOnTerminate: (values.get('leave-on-terminate') as boolean | undefined) ?? !server,
    skipLeaveOnInterrupt: (values.get('skip-leave-on-interrupt') as boolean | undefined) ?? server,
    encrypt,
    docker,
    dockerExplicit: dockerFlag !== undefined || env.DOCKER_HOST !== undefined,
    sidecar,
    dns,
  };
  return { config: deepFreeze(config), help: parsed.help };
}

/**
 * The address other agents are told to use. Binding a specific address
 * advertises it; binding 0.0.0.0 advertises the machine's one private IPv4
 * address, as Consul does (a container on a bridge network has exactly one),
 * and refuses to guess between several or fall back to a loopback address
 * that no other machine could reach.
 */
function advertiseFor(bindAddr: string, interfaces: (() => Interfaces) | undefined, problems: string[]): string {
  if (bindAddr !== '0.0.0.0') return bindAddr;
  const found = privateIPv4Addresses(interfaces?.());
  if (found.length === 1) return found[0] as string;
  problems.push(found.length === 0
    ? 'no private IPv4 address found to advertise while binding 0.0.0.0: give -bind or -advertise'
    : `multiple private IPv4 addresses found (${found.join(', ')}): choose one with -bind or -advertise`);
  return bindAddr;
}

/** A stable UUID-shaped id from the node name (Consul's -disable-host-node-id style, deterministic across restarts). */
export function nodeIdFor(name: string): string {
  const h = createHash('sha256').update(`muster-node:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function listConfigDir(dir: string, problems: string[]): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f))
      .filter((f) => statSync(f).isFile());
  } catch (err) {
    problems.push(`cannot read config dir ${dir}: ${(err as Error).message}`);
    return [];
  }
}

function readConfigFile(
  file: string, values: Map<string, FlagValue>, services: unknown[], checks: unknown[],
  nodeMeta: Record<string, string>, problems: string[], dnsSources: DnsConfigSource[],
): void {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${file}: ${(err as Error).message}`);
    return;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    problems.push(`${file}: a config file must hold a JSON object`);
    return;
  }
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const flag = FILE_KEYS[key];
    if (flag) { setFromFile(file, key, flag, value, values, problems); continue; }
    switch (key) {
      case 'ports':
        if (typeof value !== 'object' || value === null) { problems.push(`${file}: ports must be an object`); break; }
        for (const [pk, pv] of Object.entries(value as Record<string, unknown>)) {
          const pf = PORT_KEYS[pk];
          if (!pf) problems.push(`${file}: unknown key ports.${pk}`);
          else setFromFile(file, `ports.${pk}`, pf, pv, values, problems);
        }
        break;
      case 'service': services.push(value); break;
      case 'services':
        if (Array.isArray(value)) services.push(...value); else problems.push(`${file}: services must be an array`);
        break;
      case 'check': checks.push(value); break;
      case 'checks':
        if (Array.isArray(value)) checks.push(...value); else problems.push(`${file}: checks must be an array`);
        break;
      case 'dns_config': dnsSources.push({ file, value }); break;
      case 'node_meta':
        if (typeof value !== 'object' || value === null) { problems.push(`${file}: node_meta must be an object`); break; }
        for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) nodeMeta[mk] = String(mv);
        break;
      default:
        problems.push(`${file}: unknown config key "${key}"`);
    }
  }
}

function setFromFile(
  file: string, key: string, flag: string, value: unknown, values: Map<string, FlagValue>, problems: string[],
): void {
  const spec = AGENT_FLAGS.find((f) => f.name === flag);
  const kind = spec?.kind ?? 'string';
  if (kind === 'list') {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) { problems.push(`${file}: ${key} must be a list of strings`); return; }
    values.set(flag, [...((values.get(flag) as string[] | undefined) ?? []), ...(value as string[])]);
    return;
  }
  if (kind === 'duration') {
    const ms = typeof value === 'string' ? parseDurationMs(value) : undefined;
    if (ms === undefined) { problems.push(`${file}: ${key} must be a duration such as "30s"`); return; }
    values.set(flag, ms);
    return;
  }
  const ok = (kind === 'bool' && typeof value === 'boolean') || (kind === 'int' && Number.isSafeInteger(value))
    || (kind === 'string' && typeof value === 'string');
  if (!ok) { problems.push(`${file}: ${key} must be a ${kind === 'int' ? 'number' : kind === 'bool' ? 'boolean' : 'string'}`); return; }
  values.set(flag, value as FlagValue);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
