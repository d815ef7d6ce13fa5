import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadAgentConfig, nodeIdFor } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { MusterError } from '../../src/errors.js';

/** A temp dir removed at teardown. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'muster-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

// os.networkInterfaces() shapes
const iface = (address: string, internal = false) => ({
  address, netmask: '255.255.0.0', family: 'IPv4' as const, mac: '02:42:ac:11:00:02', internal, cidr: `${address}/16`,
});
const v6 = { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '02:42:ac:11:00:02', internal: false, cidr: 'fe80::1/64', scopeid: 2 };

// No DOCKER_HOST from the machine running the tests; '-docker ""' keeps the socket probe out.
const NO_ENV = {};
// A machine with one private address (what binding 0.0.0.0 advertises), whatever this one has.
const ONE_PRIVATE_IP = { interfaces: () => ({ eth0: [iface('10.0.0.7')] }) };
const load = (argv: string[], env: NodeJS.ProcessEnv = NO_ENV) => loadAgentConfig([...argv, '-docker', ''], env, ONE_PRIVATE_IP).config;

/** The config error `argv` gives (fails the test when it loads). */
function loadError(t: Test, argv: string[]): MusterError {
  try {
    load(argv);
  } catch (err) {
    t.type(err, MusterError);
    t.equal((err as MusterError).code, 'ERR_CONFIG');
    return err as MusterError;
  }
  t.fail(`expected ${argv.join(' ')} to be rejected`);
  return new MusterError('ERR_INTERNAL', 'unreachable');
}

t.test('-dev defaults', async (t) => {
  const c = load(['-dev']);
  t.match(c, {
    dev: true, server: true, ui: true, bootstrapExpect: 0,
    nodeName: hostname(), datacenter: 'dc1', domain: 'consul.',
    bindAddr: '127.0.0.1', advertiseAddr: '127.0.0.1', clientAddr: '127.0.0.1',
    ports: { http: 8500, dns: 8600, server: 8300, serfLan: 8301, serfWan: 8302 },
    dataDir: undefined, logLevel: 'info', enableScriptChecks: false, docker: undefined,
    antiEntropyIntervalMs: DEFAULTS.antiEntropyIntervalMs, reapIntervalMs: DEFAULTS.reapIntervalMs,
    services: [], checks: [], nodeMeta: {},
  });
  t.match(c.nodeId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.equal(c.nodeId, nodeIdFor(hostname()), 'the node id is derived from the name, stable across restarts');
  t.match(c.sidecar, { ttl: 0, ttlRefresh: 0, resync: 0, deregister: 'always', cleanup: false, retryInterval: 2000 });
});

t.test('-node, ports, -datacenter (lower-cased) and -dc', async (t) => {
  const c = load(['-dev', '-node', 'n1', '-http-port', '0', '-dns-port=-1', '-datacenter', 'East-1']);
  t.match(c, { nodeName: 'n1', nodeId: nodeIdFor('n1'), ports: { http: 0, dns: -1 }, datacenter: 'east-1' });
  t.equal(load(['-dev', '-dc', 'west']).datacenter, 'west');
});

t.test('a server without -data-dir is rejected; with one it loads', async (t) => {
  loadError(t, ['-server']);
  const c = load(['-server', '-data-dir', '/tmp/muster-data', '-bind', '127.0.0.1']);
  t.match(c, { server: true, dev: false, dataDir: '/tmp/muster-data', bindAddr: '127.0.0.1', advertiseAddr: '127.0.0.1' });
});

t.test('binding 0.0.0.0 advertises the one private IPv4 address, as Consul', async (t) => {
  const cases: Array<{ name: string; interfaces: Record<string, ReturnType<typeof iface>[] | Array<typeof v6>>; want?: string; mentions?: string }> = [
    { name: 'a container on a bridge network', interfaces: { lo: [iface('127.0.0.1', true)], eth0: [iface('172.18.0.5')] }, want: '172.18.0.5' },
    { name: 'public and link-local addresses do not count', interfaces: { eth0: [iface('192.0.2.2')], eth1: [v6], eth2: [iface('10.1.2.3')] }, want: '10.1.2.3' },
    { name: 'one address on two interfaces counts once', interfaces: { a: [iface('192.168.1.4')], b: [iface('192.168.1.4')] }, want: '192.168.1.4' },
    { name: 'none', interfaces: { lo: [iface('127.0.0.1', true)], eth0: [iface('192.0.2.2')] }, mentions: 'no private IPv4 address' },
    { name: 'several', interfaces: { eth0: [iface('10.0.0.2')], docker0: [iface('172.17.0.1')] }, mentions: 'multiple private IPv4 addresses found (10.0.0.2, 172.17.0.1)' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const run = () => loadAgentConfig(['-server', '-data-dir', '/tmp/d', '-docker', ''], NO_ENV, { interfaces: () => c.interfaces }).config;
      if (c.want !== undefined) {
        t.match(run(), { bindAddr: '0.0.0.0', advertiseAddr: c.want });
      } else {
        t.throws(run, { code: 'ERR_CONFIG' });
        try { run(); } catch (err) { t.match((err as Error).message, c.mentions ?? ''); }
      }
    });
  }
  t.test('-advertise wins and nothing is probed', async (t) => {
    const c = loadAgentConfig(['-server', '-data-dir', '/tmp/d', '-docker', '', '-advertise', '192.0.2.9'], NO_ENV, { interfaces: () => ({}) }).config;
    t.match(c, { bindAddr: '0.0.0.0', advertiseAddr: '192.0.2.9' });
  });
});

t.test('leave_on_terminate and skip_leave_on_interrupt default by role, as Consul', async (t) => {
  const machine = ONE_PRIVATE_IP;
  const client = loadAgentConfig(['-docker', ''], NO_ENV, machine).config;
  t.match(client, { server: false, leaveOnTerminate: true, skipLeaveOnInterrupt: false });
  const server = loadAgentConfig(['-server', '-data-dir', '/tmp/d', '-docker', ''], NO_ENV, machine).config;
  t.match(server, { server: true, leaveOnTerminate: false, skipLeaveOnInterrupt: true });
  const flipped = loadAgentConfig(['-server', '-data-dir', '/tmp/d', '-docker', '', '-leave-on-terminate', '-skip-leave-on-interrupt=false'], NO_ENV, machine).config;
  t.match(flipped, { leaveOnTerminate: true, skipLeaveOnInterrupt: false });
  const dir = tempDir(t);
  const file = writeJson(dir, 'c.json', { leave_on_terminate: false, skip_leave_on_interrupt: true });
  t.match(loadAgentConfig(['-docker', '', '-config-file', file], NO_ENV, machine).config, { leaveOnTerminate: false, skipLeaveOnInterrupt: true });
  t.match(loadAgentConfig(['-dev', '-docker', ''], NO_ENV).config, { leaveOnTerminate: false, skipLeaveOnInterrupt: true }, '-dev is a server');
});

t.test('flag problems in the agent\'s own rules', async (t) => {
  const cases: Array<{ argv: string[]; mentions: string }> = [
    { argv: ['-dev', 'extra'], mentions: 'extra' },
    { argv: ['-dev', '-log-level', 'loud'], mentions: 'log-level' },
    { argv: ['-dev', '-datacenter', 'dc 1'], mentions: 'datacenter' },
    { argv: ['-dev', '-http-port', '70000'], mentions: 'http' },
    { argv: ['-dev', '-node-meta', 'novalue'], mentions: 'node-meta' },
    { argv: ['-dev', '-docker', 'ftp://x'], mentions: 'docker' },
  ];
  for (const c of cases) {
    t.test(c.argv.join(' '), async (t) => {
      const argv = c.argv.includes('-docker') ? c.argv : [...c.argv, '-docker', ''];
      let err: unknown;
      try { loadAgentConfig(argv, NO_ENV); } catch (e) { err = e; }
      t.match(err, { code: 'ERR_CONFIG' });
      t.match((err as Error).message, c.mentions);
    });
  }
});

t.test('-log-level accepts Consul\'s names', async (t) => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'err', 'ERROR']) {
    t.equal(load(['-dev', '-log-level', level]).logLevel, level);
  }
});

t.test('-node-meta and node_meta merge; the flag wins', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'a.json', { node_meta: { rack: 'r1', zone: 'z1' } });
  const c = load(['-dev', '-config-file', file, '-node-meta', 'zone:z2', '-node-meta', 'os:linux:amd64']);
  t.same(c.nodeMeta, { rack: 'r1', zone: 'z2', os: 'linux:amd64' });
});

t.test('-docker, DOCKER_HOST and the default socket', async (t) => {
  t.equal(loadAgentConfig(['-dev', '-docker', 'unix:///run/x.sock'], NO_ENV).config.docker, 'unix:///run/x.sock');
  t.equal(loadAgentConfig(['-dev', '-docker', 'none'], NO_ENV).config.docker, undefined);
  const fromEnv = loadAgentConfig(['-dev'], { DOCKER_HOST: 'tcp://127.0.0.1:2375' }).config;
  t.match(fromEnv, { docker: 'tcp://127.0.0.1:2375', dockerExplicit: true });
  t.match(loadAgentConfig(['-dev', '-docker', ''], { DOCKER_HOST: 'tcp://x:1' }).config, { docker: undefined, dockerExplicit: true }, 'the flag beats the environment');
  const only = (path: string) => ({ exists: (p: string) => p === path });
  t.equal(loadAgentConfig(['-dev'], NO_ENV, only('/var/run/docker.sock')).config.docker, 'unix:///var/run/docker.sock');
  t.equal(loadAgentConfig(['-dev'], NO_ENV, only('/tmp/docker.sock')).config.docker, 'unix:///tmp/docker.sock', "registrator's mount point");
  t.equal(loadAgentConfig(['-dev'], NO_ENV, { exists: () => true }).config.docker, 'unix:///var/run/docker.sock', 'the standard path first');
  t.equal(loadAgentConfig(['-dev'], NO_ENV, { exists: () => false }).config.docker, undefined);
});

t.test('-help', async (t) => {
  t.equal(loadAgentConfig(['-help'], NO_ENV, { interfaces: () => ({}) }).help, true, 'even where the config could not load');
  t.equal(loadAgentConfig(['-dev'], NO_ENV).help, false);
});

t.test('config files', async (t) => {
  t.test('snake_case keys, ports, services and checks', async (t) => {
    const dir = tempDir(t);
    const service = { name: 'web', port: 80, check: { http: 'http://127.0.0.1/', interval: '10s' } };
    const file = writeJson(dir, 'agent.json', {
      server: true, data_dir: join(dir, 'data'), node_name: 'from-file', datacenter: 'DC2',
      bind_addr: '127.0.0.2', client_addr: '0.0.0.0', log_level: 'debug', enable_script_checks: true,
      ports: { http: 18500, dns: -1, server: 18300, serf_lan: 18301, serf_wan: 18302 },
      service, services: [{ name: 'db' }], checks: [{ name: 'disk', ttl: '30s' }],
    });
    const c = load(['-config-file', file]);
    t.match(c, {
      server: true, dataDir: join(dir, 'data'), nodeName: 'from-file', datacenter: 'dc2',
      bindAddr: '127.0.0.2', advertiseAddr: '127.0.0.2', clientAddr: '0.0.0.0', logLevel: 'debug', enableScriptChecks: true,
      ports: { http: 18500, dns: -1, server: 18300, serfLan: 18301, serfWan: 18302 },
    });
    t.same(c.services, [service, { name: 'db' }], 'service definitions are kept for the agent to decode');
    t.same(c.checks, [{ name: 'disk', ttl: '30s' }]);
  });

  t.test('a server set in a file also needs a data_dir', async (t) => {
    const dir = tempDir(t);
    const err = loadError(t, ['-config-file', writeJson(dir, 'a.json', { server: true })]);
    t.match(err.message, 'data-dir');
  });

  t.test('unknown keys and wrong types: every problem is reported at once', async (t) => {
    const dir = tempDir(t);
    const file = writeJson(dir, 'bad.json', { nope: 1, ports: { grpc: 8502, http: 'x' }, node_name: 5, dev: true });
    let err: unknown;
    try { loadAgentConfig(['-config-file', file, '-log-level', 'loud', '-ttl', '5'], NO_ENV); } catch (e) { err = e; }
    t.match(err, { code: 'ERR_CONFIG' });
    const message = (err as Error).message;
    for (const what of ['"nope"', 'ports.grpc', 'ports.http', 'node_name', '-log-level', '-ttl']) {
      t.match(message, what, `mentions ${what}`);
    }
  });

  t.test('a file that is not a JSON object', async (t) => {
    const dir = tempDir(t);
    for (const [name, body] of [['broken.json', '{"dev": tru'], ['list.json', '[1,2]']] as const) {
      const err = loadError(t, ['-config-file', writeJson(dir, name, body)]);
      t.match(err.message, name);
    }
    const missing = loadError(t, ['-config-file', join(dir, 'absent.json')]);
    t.match(missing.message, 'absent.json');
  });

  t.test('flags beat files; later files beat earlier ones', async (t) => {
    const dir = tempDir(t);
    const a = writeJson(dir, 'a.json', { dev: true, node_name: 'a', datacenter: 'da', ports: { http: 1111 } });
    const b = writeJson(dir, 'b.json', { node_name: 'b', ports: { http: 2222 } });
    t.match(load(['-config-file', a, '-config-file', b]), { nodeName: 'b', datacenter: 'da', ports: { http: 2222 } });
    t.match(load(['-config-file', b, '-config-file', a]), { nodeName: 'a', ports: { http: 1111 } });
    t.match(load(['-node', 'flag', '-config-file', a, '-config-file', b, '-http-port', '3333']), { nodeName: 'flag', ports: { http: 3333 } });
    t.match(load(['-config-file', a, '-dev=false', '-server', '-data-dir', dir]), { dev: false, server: true }, 'a false bool flag beats true in a file');
  });

  t.test('-config-dir reads *.json in lexical order', async (t) => {
    const dir = tempDir(t);
    writeJson(dir, '2-b.json', { node_name: 'two', domain: 'two.' });
    writeJson(dir, '10-a.json', { dev: true, node_name: 'ten', datacenter: 'ten' });
    writeJson(dir, 'README.txt', 'not json at all');
    writeJson(dir, 'config.json.bak', '{"node_name": "backup"}');
    mkdirSync(join(dir, 'sub.json'));
    // "10-a.json" sorts before "2-b.json", so "2-b.json" wins where both set a key
    t.match(load(['-config-dir', dir]), { dev: true, nodeName: 'two', datacenter: 'ten', domain: 'two.' });
  });

  t.test('-config-dir that does not exist', async (t) => {
    const dir = tempDir(t);
    const err = loadError(t, ['-dev', '-config-dir', join(dir, 'nowhere')]);
    t.match(err.message, 'nowhere');
  });
});

t.test('registrator\'s cross-flag rules', async (t) => {
  const rejected: Array<{ argv: string[]; mentions: string }> = [
    { argv: ['-ttl', '30'], mentions: '-ttl-refresh' },
    { argv: ['-ttl-refresh', '10'], mentions: '-ttl' },
    { argv: ['-ttl', '10', '-ttl-refresh', '10'], mentions: 'greater' },
    { argv: ['-ttl', '5', '-ttl-refresh', '10'], mentions: 'greater' },
    { argv: ['-deregister', 'foo'], mentions: '-deregister' },
    { argv: ['-resync', '-1'], mentions: '-resync' },
  ];
  for (const c of rejected) {
    t.test(`rejects ${c.argv.join(' ')}`, async (t) => {
      const err = loadError(t, ['-dev', ...c.argv]);
      t.match(err.message, c.mentions);
    });
  }
  const accepted: Array<{ argv: string[]; want: Record<string, unknown> }> = [
    { argv: ['-ttl', '30', '-ttl-refresh', '10'], want: { ttl: 30, ttlRefresh: 10 } },
    { argv: ['-deregister', 'on-success'], want: { deregister: 'on-success' } },
    { argv: ['-resync', '60', '-cleanup', '-internal', '-tags', 'a,b'], want: { resync: 60, cleanup: true, internal: true, tags: 'a,b' } },
    { argv: ['-ip', '10.1.2.3', '-hostname', 'h1'], want: { ip: '10.1.2.3', hostname: 'h1' } },
  ];
  for (const c of accepted) {
    t.test(`accepts ${c.argv.join(' ')}`, async (t) => {
      t.match(load(['-dev', ...c.argv]).sidecar, c.want);
    });
  }
});

t.test('-retry-interval is Consul\'s join retry (a duration); registrator\'s backend ping flags belong to muster sidecar', async (t) => {
  t.equal(load(['-dev', '-retry-interval', '500ms']).retryIntervalMs, 500);
  t.match(loadError(t, ['-dev', '-retry-interval', '0']).message, '-retry-interval');
  t.throws(() => load(['-dev', '-retry-attempts', '3']), /retry-attempts/);
});

t.test('the result is deeply frozen', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'a.json', { service: { name: 'web', tags: ['a'] }, node_meta: { k: 'v' } });
  const c = load(['-dev', '-config-file', file]);
  for (const [what, obj] of Object.entries({
    config: c, ports: c.ports, sidecar: c.sidecar, nodeMeta: c.nodeMeta, services: c.services, service: c.services[0],
  })) {
    t.ok(Object.isFrozen(obj), `${what} is frozen`);
  }
  const mutable = c as unknown as Record<string, unknown> & { ports: Record<string, number>; services: unknown[] };
  t.throws(() => { mutable.nodeName = 'other'; }, TypeError);
  t.throws(() => { mutable.ports.http = 1; }, TypeError);
  t.throws(() => { mutable.services.push({}); }, TypeError);
  t.equal(c.nodeName, hostname(), 'unchanged');
});
