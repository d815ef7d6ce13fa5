import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { imageName, mapContainer } from '../../src/docker/services.js';
import {
  CONTAINER_META, DOCKER_HEALTH_CHECK_SUFFIX, OWNER_META,
  type ContainerInspect, type MappingOptions, type MappingResult, type Registration,
} from '../../src/docker/types.js';

// Inspections captured from the real engine (test/fixtures/inspect/*.json);
// tests clone one and vary its env, labels or networks.
const FIXTURES = new URL('../../../test/fixtures/inspect/', import.meta.url);

function fixture(name: string, env: string[] = [], labels: Record<string, string> = {}): ContainerInspect {
  const info = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as ContainerInspect;
  info.Config.Env = [...(info.Config.Env ?? []), ...env];
  info.Config.Labels = { ...(info.Config.Labels ?? {}), ...labels };
  return info;
}

const BASE: MappingOptions = { hostname: 'h1', internal: false, explicit: false, ttl: 0 };

function map(info: ContainerInspect, opts: Partial<MappingOptions> = {}): MappingResult {
  return mapContainer(info, { ...BASE, ...opts });
}

/** The only registration of a result (fails the test when there is not exactly one). */
function only(t: Test, r: MappingResult): Registration {
  t.equal(r.registrations.length, 1, 'exactly one registration');
  const reg = r.registrations[0];
  if (reg === undefined) throw new Error('no registration');
  return reg;
}

function hostPort(info: ContainerInspect, key: string): number {
  return Number(info.NetworkSettings?.Ports?.[key]?.[0]?.HostPort);
}

function names(r: MappingResult): string[] {
  return r.registrations.map((x) => x.service.name);
}

function bindAll(info: ContainerInspect, hostIp: string): ContainerInspect {
  for (const list of Object.values(info.NetworkSettings?.Ports ?? {})) for (const b of list ?? []) b.HostIp = hostIp;
  return info;
}

const IMG = 'muster-test-busybox';

t.test('published port: id, name, port, address (registrator worked example)', async (t) => {
  const info = fixture('published');
  const reg = only(t, map(info));
  t.equal(reg.service.id, 'h1:muster-fx-published:80');
  t.equal(reg.service.name, IMG);
  t.equal(reg.service.port, hostPort(info, '80/tcp'));
  t.equal(reg.service.address, '127.0.0.1', 'binding host IP');
  t.same(reg.service.tags, []);
  t.equal(reg.containerId, info.Id);
  t.equal(reg.containerName, 'muster-fx-published');
  t.equal(reg.exposedPort, '80');
  t.equal(reg.protocol, 'tcp');
  t.same(reg.service.meta, { [OWNER_META]: 'h1', [CONTAINER_META]: info.Id }, 'only the owner marks');
  t.same(reg.service.checks, []);
  t.equal(only(t, map(info, { ttl: 30 })).ttl, 30, '-ttl is carried');
});

t.test('unspecified binding addresses resolve to the sidecar host', async (t) => {
  const cases: Array<{ bind: string; hostnameIp?: string; want: string }> = [
    { bind: '0.0.0.0', hostnameIp: '192.0.2.10', want: '192.0.2.10' },
    { bind: '0.0.0.0', want: '' },
    { bind: '', hostnameIp: '192.0.2.10', want: '192.0.2.10' },
    { bind: '::', hostnameIp: '192.0.2.10', want: '192.0.2.10' },
    { bind: '10.9.8.7', hostnameIp: '192.0.2.10', want: '10.9.8.7' },
  ];
  for (const c of cases) {
    const opts = c.hostnameIp === undefined ? {} : { hostnameIp: c.hostnameIp };
    t.equal(only(t, map(bindAll(fixture('published'), c.bind), opts)).service.address, c.want, `bind "${c.bind}"`);
  }
});

t.test('image name default', async (t) => {
  const cases: Array<[string, string]> = [
    ['gliderlabs/foobar', 'foobar'],
    ['redis:7', 'redis'],
    ['reg:5000/team/app:1.2', 'app'],
    ['app@sha256:abc', 'app'],
    ['muster-test-busybox:latest', IMG],
  ];
  for (const [image, want] of cases) t.equal(imageName(image), want, image);
});

t.test('names of multi-port containers', async (t) => {
  const cases: Array<{ what: string; env?: string[]; labels?: Record<string, string>; want: string[] }> = [
    { what: 'group suffix', want: [`${IMG}-80`, `${IMG}-443`] },
    { what: 'generic name gets the suffix', env: ['SERVICE_NAME=db'], want: ['db-80', 'db-443'] },
    { what: 'port-specific name has none', env: ['SERVICE_80_NAME=http'], want: ['http', `${IMG}-443`] },
    { what: 'isGroup is decided before ignore', env: ['SERVICE_443_IGNORE=1'], want: [`${IMG}-80`] },
    { what: 'empty port-specific name keeps the suffix', env: ['SERVICE_80_NAME='], want: [`${IMG}-80`, `${IMG}-443`] },
    { what: 'labels beat env, port-specific', env: ['SERVICE_80_NAME=a'], labels: { SERVICE_80_NAME: 'b' }, want: ['b', `${IMG}-443`] },
  ];
  for (const c of cases) {
    t.same(names(map(fixture('two-ports', c.env, c.labels))), c.want, c.what);
  }
  const r = map(fixture('two-ports'));
  t.same(r.registrations.map((x) => x.service.id), ['h1:muster-fx-two-ports:80', 'h1:muster-fx-two-ports:443'], 'sorted by port');
});

t.test('SERVICE_IGNORE: truthy values ignore, false-like values do not', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['1', true], ['true', true], ['yes', true], ['anything', true],
    ['false', false], ['FALSE', false], ['0', false], ['no', false], ['off', false], ['', false],
  ];
  for (const [value, ignored] of cases) {
    const r = map(fixture('published', [`SERVICE_IGNORE=${value}`]));
    t.equal(r.registrations.length, ignored ? 0 : 1, `SERVICE_IGNORE=${value}`);
    if (ignored) t.equal(r.skipped, 'ignored');
  }
  t.equal(map(fixture('published', [], { SERVICE_80_IGNORE: 'true' })).registrations.length, 0, 'port-specific label');
});

t.test('metadata precedence', async (t) => {
  t.equal(only(t, map(fixture('env-labels'))).service.name, 'fromlabel', 'label beats env (captured fixture)');
  t.equal(only(t, map(fixture('published', ['SERVICE_80_NAME=a'], { SERVICE_NAME: 'b' }))).service.name, 'a', 'port-specific env beats generic label');
  t.equal(only(t, map(fixture('published', ['SERVICE_NAME=b', 'SERVICE_80_NAME=a']))).service.name, 'a', 'whatever the order');
  t.equal(only(t, map(fixture('published', ['SERVICE_Name=mixed']))).service.name, 'mixed', 'keys are case-insensitive after the prefix');
  t.equal(only(t, map(fixture('published', ['service_name=lower']))).service.name, IMG, 'the prefix is case-sensitive');
  t.equal(only(t, map(fixture('published', ['SERVICE_81_NAME=other']))).service.name, IMG, 'another port is ignored');
});

t.test('attributes become Meta, check_* and special keys do not', async (t) => {
  const info = fixture('env-labels');
  const r = map(info);
  const reg = only(t, r);
  t.same(reg.service.meta, { region: 'us2', [OWNER_META]: 'h1', [CONTAINER_META]: info.Id });
  t.same(reg.service.tags, ['a,b', 'c'], 'escaped comma (captured fixture)');
  t.equal(reg.service.checks[0]?.http, `http://127.0.0.1:${hostPort(info, '80/tcp')}/health`);

  const noisy = map(fixture('published', [
    'SERVICE_APP.VERSION=1', 'SERVICE_CONSUL-X=1', `SERVICE_BIG=${'x'.repeat(513)}`, 'SERVICE_OK_KEY=v',
    'SERVICE_IP=10.0.0.1', 'SERVICE_IGNORE=false', 'SERVICE_MUSTER-SIDECAR=spoof', 'SERVICE_WEB_NAME=generic',
  ]));
  const meta = only(t, noisy).service.meta;
  t.same(Object.keys(meta).sort(), ['muster-container', 'muster-sidecar', 'ok_key', 'web_name'].sort());
  t.equal(meta[OWNER_META], 'h1', 'owner mark cannot be spoofed');
  t.same(noisy.warnings.map((w) => w.key).sort(), ['SERVICE_APP.VERSION', 'SERVICE_BIG', 'SERVICE_CONSUL-X', 'SERVICE_MUSTER-SIDECAR'].sort());
  t.ok(noisy.warnings.every((w) => w.container === 'muster-fx-published'), 'warnings name the container');
});

t.test('exposed but not published', async (t) => {
  const info = fixture('exposed');
  const plain = map(info);
  t.same(plain.registrations, []);
  t.equal(plain.skipped, 'ports not published on host');
  const reg = only(t, map(info, { internal: true }));
  t.equal(reg.service.address, info.NetworkSettings?.IPAddress, 'container IP');
  t.match(reg.service.address, /^172\./);
  t.equal(reg.service.port, 8080, 'exposed port');
  t.equal(reg.service.id, 'h1:muster-fx-exposed:8080');
});

t.test('host network: exposed ports register with host port = container port', async (t) => {
  const reg = only(t, map(fixture('host'), { hostnameIp: '192.0.2.10' }));
  t.equal(reg.service.port, 8080);
  t.equal(reg.service.address, '192.0.2.10');
  t.equal(reg.service.id, 'h1:muster-fx-host:8080');
});

t.test('no ports at all', async (t) => {
  const r = map(fixture('no-ports'));
  t.same(r.registrations, []);
  t.equal(r.skipped, 'no published ports');
  t.same(r.warnings, []);
});

t.test('udp', async (t) => {
  const info = fixture('udp', ['SERVICE_TAGS=dns'], { SERVICE_53_NAME: 'dns' });
  const reg = only(t, map(info, { tags: 'x' }));
  t.equal(reg.service.id, 'h1:muster-fx-udp:53:udp');
  t.same(reg.service.tags, ['dns', 'x', 'udp']);
  t.equal(reg.service.name, 'dns', 'SERVICE_53_* applies to udp');
  t.equal(reg.protocol, 'udp');
  t.equal(reg.service.port, hostPort(info, '53/udp'));
  t.equal(only(t, map(fixture('udp', ['SERVICE_ID=x']))).service.id, 'x', 'SERVICE_ID replaces :udp too');
});

t.test('tcp and udp on the same port', async (t) => {
  const info = fixture('udp', ['SERVICE_53_NAME=dns', 'SERVICE_ID=dns1']);
  info.NetworkSettings = { ...info.NetworkSettings, Ports: { ...info.NetworkSettings?.Ports, '53/tcp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] } };
  const r = map(info);
  t.same(r.registrations.map((x) => [x.service.id, x.service.name, x.service.tags]), [
    ['dns1:53', 'dns', []],
    ['dns1:53:udp', 'dns', ['udp']],
  ], 'a generic SERVICE_ID on several ports stays unique');
});

t.test('SERVICE_ID', async (t) => {
  t.equal(only(t, map(fixture('published', ['SERVICE_ID=custom']))).service.id, 'custom');
  t.same(map(fixture('two-ports', ['SERVICE_ID=web'])).registrations.map((x) => x.service.id), ['web:80', 'web:443']);
  t.same(map(fixture('two-ports', ['SERVICE_443_ID=https.12345'])).registrations.map((x) => x.service.id),
    ['h1:muster-fx-two-ports:80', 'https.12345'], 'port-specific id is used as is');
});

t.test('-ip', async (t) => {
  t.equal(only(t, map(fixture('published'), { ip: '1.2.3.4' })).service.address, '1.2.3.4');
  const info = fixture('exposed');
  t.equal(only(t, map(info, { ip: '1.2.3.4', internal: true })).service.address, info.NetworkSettings?.IPAddress, 'ignored with -internal');
  t.equal(only(t, map(fixture('usernet'), { ip: '1.2.3.4' })).service.address, '1.2.3.4', 'beats the network-mode IP');
});

t.test('-useIpFromLabel', async (t) => {
  const opts = { useIpFromLabel: 'service.ip' };
  t.equal(only(t, map(fixture('env-labels'), opts)).service.address, '10.1.1.1', 'captured label 10.1.1.1/24');
  t.equal(only(t, map(fixture('exposed', [], { 'service.ip': '10.2.2.2' }), { ...opts, internal: true })).service.address, '10.2.2.2', 'internal mode too');
  const envOnly = map(fixture('published', ['service.ip=10.3.3.3']), opts);
  t.equal(only(t, envOnly).service.address, '127.0.0.1', 'env is not consulted');
  t.same(envOnly.warnings, []);
  const garbage = map(fixture('published', [], { 'service.ip': 'not-an-ip/24' }), opts);
  t.equal(only(t, garbage).service.address, '127.0.0.1', 'garbage is ignored');
  t.match(garbage.warnings, [{ key: 'service.ip', container: 'muster-fx-published' }]);
});

t.test('container:<id> network mode', async (t) => {
  const owner = fixture('published');
  const shared = fixture('shared-ns', [], { 'service.ip': '10.1.1.1' });
  t.equal(shared.HostConfig?.NetworkMode, `container:${owner.Id}`, 'fixture shares the namespace');
  const linked = new Map([[owner.Id, owner]]);
  const reg = only(t, map(shared, { linked, ip: '1.2.3.4', useIpFromLabel: 'service.ip' }));
  t.equal(reg.service.address, owner.NetworkSettings?.IPAddress, 'the other container IP beats -ip and the label');
  t.equal(reg.service.port, 8080);

  const byPrefix = fixture('shared-ns');
  byPrefix.HostConfig = { NetworkMode: `container:${owner.Id.slice(0, 12)}` };
  t.equal(only(t, map(byPrefix, { linked })).service.address, owner.NetworkSettings?.IPAddress, 'short id');

  const missing = map(fixture('shared-ns'), { hostnameIp: '192.0.2.10' });
  t.equal(only(t, missing).service.address, '192.0.2.10', 'unknown network container: IP unchanged');
  t.match(missing.warnings, [{ key: 'NetworkMode' }]);
});

t.test('user-defined network', async (t) => {
  const info = fixture('usernet');
  const reg = only(t, map(info));
  t.equal(reg.service.address, info.NetworkSettings?.Networks?.['muster-fx-net']?.IPAddress, 'container IP on that network');
  t.match(reg.service.address, /^172\./);
  t.equal(reg.service.port, hostPort(info, '80/tcp'), 'host port');
});

t.test('container IP with several networks is deterministic', async (t) => {
  const info = fixture('multinet');
  const nets = info.NetworkSettings?.Networks ?? {};
  t.equal(only(t, map(info, { internal: true })).service.address, nets['muster-fx-net2']?.IPAddress, 'network of the network mode');
  const noMode = fixture('multinet');
  noMode.HostConfig = {};
  t.equal(only(t, map(noMode, { internal: true })).service.address, nets['muster-fx-net']?.IPAddress, 'alphabetically first');
  const legacy = fixture('multinet');
  if (legacy.NetworkSettings) legacy.NetworkSettings.IPAddress = '10.0.0.9';
  t.equal(only(t, map(legacy, { internal: true })).service.address, '10.0.0.9', 'NetworkSettings.IPAddress first');
});

t.test('SERVICE_NETWORK picks the network', async (t) => {
  const info = fixture('multinet', ['SERVICE_NETWORK=muster-fx-net']);
  const nets = info.NetworkSettings?.Networks ?? {};
  t.equal(only(t, map(info, { internal: true })).service.address, nets['muster-fx-net']?.IPAddress, 'internal mode');
  const published = fixture('multinet', ['SERVICE_NETWORK=muster-fx-net']);
  published.NetworkSettings = { ...published.NetworkSettings, Ports: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '18080' }] } };
  t.equal(only(t, map(published)).service.address, nets['muster-fx-net']?.IPAddress, 'user-defined network mode, published');
  const unknown = map(fixture('multinet', ['SERVICE_NETWORK=nope']), { internal: true });
  t.equal(only(t, unknown).service.address, nets['muster-fx-net2']?.IPAddress, 'unknown network ignored');
  t.match(unknown.warnings, [{ key: 'SERVICE_NETWORK' }]);
  t.notOk('network' in only(t, map(info, { internal: true })).service.meta, 'not copied to Meta');
});

t.test('SERVICE_IP overrides the address', async (t) => {
  const reg = only(t, map(fixture('published', ['SERVICE_IP=10.7.7.7']), { ip: '1.2.3.4' }));
  t.equal(reg.service.address, '10.7.7.7');
  t.notOk('ip' in reg.service.meta);
  const bad = map(fixture('published', ['SERVICE_IP=bogus']));
  t.equal(only(t, bad).service.address, '127.0.0.1');
  t.match(bad.warnings, [{ key: 'SERVICE_IP' }]);
});

t.test('-explicit', async (t) => {
  const cases: Array<{ what: string; info: ContainerInspect; want: string[] }> = [
    { what: 'no name: skipped', info: fixture('published'), want: [] },
    { what: 'SERVICE_NAME', info: fixture('published', ['SERVICE_NAME=web']), want: ['web'] },
    { what: 'SERVICE_80_NAME qualifies', info: fixture('published', ['SERVICE_80_NAME=web']), want: ['web'] },
    { what: 'compose name does not count', info: fixture('compose'), want: [] },
    { what: 'invalid name does not count', info: fixture('published', ['SERVICE_NAME=bad name']), want: [] },
    { what: 'per port', info: fixture('two-ports', ['SERVICE_443_NAME=tls']), want: ['tls'] },
  ];
  for (const c of cases) t.same(names(map(c.info, { explicit: true })), c.want, c.what);
  t.equal(map(fixture('published'), { explicit: true }).skipped, 'no service name (-explicit)');
});

t.test('tags', async (t) => {
  const cases: Array<{ what: string; env: string[]; tags?: string; want: string[] }> = [
    { what: '-tags and SERVICE_TAGS, in written order', env: ['SERVICE_TAGS=x'], tags: 'a,b', want: ['x', 'a', 'b'] },
    { what: 'escaped comma', env: ['SERVICE_TAGS=a\\,b,c'], want: ['a,b', 'c'] },
    { what: 'empty parts dropped, no trimming', env: ['SERVICE_TAGS=a,,b, c'], want: ['a', 'b', ' c'] },
    { what: 'duplicates removed', env: ['SERVICE_TAGS=a,b,a'], tags: 'b,c', want: ['a', 'b', 'c'] },
    { what: 'template', env: [], tags: '{{.Config.Hostname}},{{toUpper "v"}}', want: ['HOSTNAME', 'V'] },
  ];
  for (const c of cases) {
    const info = fixture('published', c.env);
    const want = c.want.map((x) => (x === 'HOSTNAME' ? info.Config.Hostname ?? '' : x));
    const opts = c.tags === undefined ? {} : { tags: c.tags };
    t.same(only(t, map(info, opts)).service.tags, want, c.what);
  }
  const bad = map(fixture('published'), { tags: '{{' });
  t.same(only(t, bad).service.tags, [], 'malformed template: no tags');
  t.match(bad.warnings, [{ key: '-tags' }]);
  const failing = map(fixture('published'), { tags: 'a,{{toUpper 5}}' });
  t.same(only(t, failing).service.tags, [], 'execution error: no -tags');
  t.match(failing.warnings, [{ key: '-tags' }]);
});

t.test('docker-compose containers', async (t) => {
  const reg = only(t, map(fixture('compose'), { tags: 'x' }));
  t.equal(reg.service.name, 'web', 'compose service is the default name');
  t.same(reg.service.tags, ['x', 'shop'], 'project as a tag');
  const named = only(t, map(fixture('compose', ['SERVICE_NAME=api'])));
  t.equal(named.service.name, 'api');
  t.same(named.service.tags, [], 'no project tag with an explicit name');
});

t.test('HTTP check', async (t) => {
  const info = fixture('published', ['SERVICE_CHECK_HTTP=/h', 'SERVICE_CHECK_TIMEOUT=2s', 'SERVICE_CHECK_HTTP_METHOD=HEAD']);
  const reg = only(t, map(info));
  t.same(reg.service.checks, [{
    http: `http://127.0.0.1:${hostPort(info, '80/tcp')}/h`, method: 'HEAD', timeoutMs: 2000, intervalMs: 10000,
  }]);
  t.notOk(reg.service.checks[0]?.checkId, 'a single check gets its ID from the agent');
  const internal = only(t, map(fixture('exposed', ['SERVICE_CHECK_HTTP=/h', 'SERVICE_CHECK_INTERVAL=5s']), { internal: true }));
  t.match(internal.service.checks, [{ http: /^http:\/\/172\.[0-9.]+:8080\/h$/, intervalMs: 5000 }], 'registered IP and port');
});

t.test('check types and priority', async (t) => {
  const cases: Array<{ env: string[]; want: Record<string, unknown> | undefined; warns?: string }> = [
    { env: ['SERVICE_CHECK_HTTP=/h', 'SERVICE_CHECK_TCP=true'], want: { http: 'http://IP/h', intervalMs: 10000 } },
    { env: ['SERVICE_CHECK_HTTPS=/s', 'SERVICE_CHECK_TCP=true', 'SERVICE_CHECK_TLS_SKIP_VERIFY=1'], want: { http: 'https://IP/s', tlsSkipVerify: true, intervalMs: 10000 } },
    { env: ['SERVICE_CHECK_SCRIPT=curl $SERVICE_IP', 'SERVICE_CHECK_TTL=30s'], want: undefined, warns: 'SERVICE_CHECK_SCRIPT' },
    { env: ['SERVICE_CHECK_CMD=/bin/true', 'SERVICE_CHECK_TCP=1'], want: undefined, warns: 'SERVICE_CHECK_CMD' },
    { env: ['SERVICE_CHECK_TTL=30s', 'SERVICE_CHECK_TCP=true'], want: { ttlMs: 30000 } },
    { env: ['SERVICE_CHECK_TCP=true', 'SERVICE_CHECK_GRPC=true', 'SERVICE_CHECK_TIMEOUT=3s'], want: { tcp: 'IP', intervalMs: 10000, timeoutMs: 3000 } },
    { env: ['SERVICE_CHECK_GRPC=1', 'SERVICE_CHECK_GRPC_USE_TLS=1', 'SERVICE_CHECK_TLS_SKIP_VERIFY=1'], want: { grpc: 'IP', grpcUseTls: true, tlsSkipVerify: true, intervalMs: 10000 } },
    { env: ['SERVICE_CHECK_GRPC=1', 'SERVICE_CHECK_GRPC_USE_TLS=false', 'SERVICE_CHECK_TLS_SKIP_VERIFY=1'], want: { grpc: 'IP', intervalMs: 10000 } },
    { env: ['SERVICE_CHECK_INITIAL_STATUS=passing'], want: undefined },
    { env: ['SERVICE_CHECK_HTTP=/h', 'SERVICE_CHECK_INITIAL_STATUS=passing'], want: { http: 'http://IP/h', intervalMs: 10000, status: 'passing' } },
    { env: ['SERVICE_CHECK_TCP=1', 'SERVICE_CHECK_INITIAL_STATUS=bogus'], want: { tcp: 'IP', intervalMs: 10000 }, warns: 'SERVICE_CHECK_INITIAL_STATUS' },
    { env: ['SERVICE_CHECK_TCP=1', 'SERVICE_CHECK_DEREGISTER_AFTER=10m'], want: { tcp: 'IP', intervalMs: 10000, deregisterCriticalServiceAfterMs: 600000 } },
    { env: ['SERVICE_CHECK_TTL=1m', 'SERVICE_CHECK_DEREGISTER_AFTER=10m'], want: { ttlMs: 60000, deregisterCriticalServiceAfterMs: 600000 } },
    { env: ['SERVICE_CHECK_TTL=nope'], want: undefined, warns: 'SERVICE_CHECK_TTL' },
    { env: ['SERVICE_80_CHECK_TCP=1', 'SERVICE_CHECK_HTTP=/h'], want: { http: 'http://IP/h', intervalMs: 10000 } },
    { env: ['SERVICE_CHECK_HTTP=/h', 'SERVICE_80_CHECK_HTTP=/port'], want: { http: 'http://IP/port', intervalMs: 10000 } },
  ];
  for (const c of cases) {
    const info = fixture('published', c.env);
    const ip = `127.0.0.1:${hostPort(info, '80/tcp')}`;
    const r = map(info);
    const want = c.want === undefined ? [] : [Object.fromEntries(Object.entries(c.want).map(([k, v]) => [k, typeof v === 'string' ? v.replace('IP', ip) : v]))];
    t.same(only(t, r).service.checks, want, c.env.join(' '));
    t.same(r.warnings.map((w) => w.key), c.warns === undefined ? [] : [c.warns], `warnings for ${c.env.join(' ')}`);
  }
});

t.test('an invalid duration warns and keeps the default', async (t) => {
  const r = map(fixture('two-ports', ['SERVICE_CHECK_TCP=1', 'SERVICE_CHECK_INTERVAL=abc', 'SERVICE_REGION=eu']));
  t.equal(r.registrations.length, 2, 'the container is still registered');
  for (const reg of r.registrations) {
    t.equal(reg.service.checks[0]?.intervalMs, 10000);
    t.equal(reg.service.meta.region, 'eu');
  }
  t.same(r.warnings.map((w) => [w.container, w.key]), [['muster-fx-two-ports', 'SERVICE_CHECK_INTERVAL']], 'reported once');
  t.match(r.warnings[0]?.message, /abc/);
  const timeout = map(fixture('published', ['SERVICE_CHECK_HTTP=/', 'SERVICE_CHECK_TIMEOUT=-1s']));
  t.equal(only(t, timeout).service.checks[0]?.timeoutMs, undefined);
  t.match(timeout.warnings, [{ key: 'SERVICE_CHECK_TIMEOUT' }]);
});

t.test('Docker HEALTHCHECK becomes a TTL check', async (t) => {
  const info = fixture('healthy');
  t.equal(info.State?.Health?.Status, 'healthy', 'captured once healthy');
  const reg = only(t, map(info));
  const id = 'h1:muster-fx-healthy:80';
  t.same(reg.service.checks, [{
    checkId: `service:${id}${DOCKER_HEALTH_CHECK_SUFFIX}`, name: 'Docker health status', ttlMs: 600000,
    status: 'passing', notes: 'mirrors the container HEALTHCHECK',
  }]);
  const statuses: Array<[string | undefined, string]> = [['unhealthy', 'critical'], ['starting', 'critical'], [undefined, 'critical']];
  for (const [docker, want] of statuses) {
    const x = fixture('healthy');
    x.State = docker === undefined ? {} : { ...x.State, Health: { Status: docker } };
    t.equal(only(t, map(x)).service.checks[0]?.status, want, `${docker ?? 'no health'} → ${want}`);
  }
  const none = fixture('healthy');
  none.Config.Healthcheck = { Test: ['NONE'] };
  t.same(only(t, map(none)).service.checks, [], 'NONE disables it');
  t.same(only(t, map(fixture('published'))).service.checks, [], 'no HEALTHCHECK, no check');

  const both = only(t, map(fixture('healthy', ['SERVICE_CHECK_TCP=1', 'SERVICE_ID=custom'])));
  t.same(both.service.checks.map((c) => c.checkId), ['service:custom', `service:custom${DOCKER_HEALTH_CHECK_SUFFIX}`], 'two checks with distinct IDs');
});

t.test('bad input gives warnings, never exceptions', async (t) => {
  const ports = fixture('published');
  ports.NetworkSettings = {
    ...ports.NetworkSettings,
    Ports: { ...ports.NetworkSettings?.Ports, 'abc/tcp': [{ HostIp: '0.0.0.0', HostPort: '1' }], '99999/tcp': null, '81/tcp': [{ HostIp: '', HostPort: 'x' }] },
  };
  const r1 = map(ports);
  t.same(r1.registrations.map((x) => x.service.name), [`${IMG}-80`], 'only the good port (the bad host port still counted for the group)');
  t.same(r1.warnings.map((w) => w.key).sort(), ['81/tcp', '99999/tcp', 'abc/tcp']);

  const badName = map(fixture('published', ['SERVICE_NAME=my service']));
  t.equal(only(t, badName).service.name, IMG, 'falls back to the default name');
  t.match(badName.warnings, [{ key: 'SERVICE_NAME', container: 'muster-fx-published' }]);

  const weird = fixture('published', ['NOEQUALS', 'SERVICE_=x', '=y', 'SERVICE_+80_NAME=plus']);
  weird.Config.Labels = null;
  weird.Config.ExposedPorts = null;
  const r2 = map(weird);
  t.equal(only(t, r2).service.name, IMG, 'odd entries do not name the service');
  t.match(r2.warnings, [{ key: 'SERVICE_' }]);

  const empty: ContainerInspect = { Id: 'abc', Name: '/x', Config: {} };
  t.same(map(empty), { registrations: [], warnings: [], skipped: 'no published ports' });
});

t.test('the mapping is pure', async (t) => {
  const info = fixture('env-labels');
  const before = JSON.stringify(info);
  const a = map(info, { tags: '{{.Name}}', useIpFromLabel: 'service.ip' });
  const b = map(info, { tags: '{{.Name}}', useIpFromLabel: 'service.ip' });
  t.equal(JSON.stringify(info), before, 'input untouched');
  t.same(a, b, 'same input, same output');
});
