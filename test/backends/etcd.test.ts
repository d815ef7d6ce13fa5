// The etcd backend against a real etcd (Debian's etcd-server): what it writes
// (keys, JSON or ip:port values, one lease), what services() reports, lease
// loss and repair, errors in bounded time; then a real `muster sidecar` on a
// real Docker engine: a killed sidecar's services expire, an etcd restart
// (with or without its data) ends with everything registered again.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { Registration } from '../../src/docker/types.js';
import { CONTAINER_META, OWNER_META } from '../../src/docker/types.js';
import { EtcdBackend, ETCD_LEASE_META, etcdOptionsFromUri, type EtcdBackendOptions } from '../../src/backends/etcd.js';
import { MusterError } from '../../src/errors.js';
import { spawnMuster, startSidecar, type Teardown } from '../helpers/agent.js';
import { uniqueHostname } from '../helpers/catalog.js';
import { dockerSocketPath, hostPort, removeContainer, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import {
  etcdDelete, etcdKey, etcdKeys, etcdLease, etcdPut, etcdRevoke, freePort, requireEtcd, startEtcd, type EtcdServer,
} from '../helpers/etcd.js';
import { IDLE, IMAGE_SERVICE_NAME } from '../helpers/integration.js';
import { waitFor } from '../helpers/wait.js';

/** A registration as the mapping makes it for `host`'s container `container`. */
function registration(host: string, container: string, port: number, over: { name?: string; address?: string; tags?: string[] } = {}): Registration {
  const containerId = randomBytes(32).toString('hex');
  return {
    service: {
      id: `${host}:${container}:80`, name: over.name ?? 'web', tags: over.tags ?? ['a', 'b'],
      address: over.address ?? '127.0.0.1', port,
      meta: { [OWNER_META]: host, [CONTAINER_META]: containerId, version: '1' },
      enableTagOverride: false, weights: { passing: 1, warning: 1 }, checks: [],
    },
    containerId, containerName: container, exposedPort: '80', protocol: 'tcp', ttl: 0,
  };
}

function uniquePrefix(): string {
  return `/t-${randomBytes(4).toString('hex')}`;
}

/** A backend on `etcd` under a fresh prefix, closed at teardown. */
function backendOn(t: Teardown, etcd: EtcdServer, opts: Partial<EtcdBackendOptions> = {}): EtcdBackend {
  const backend = new EtcdBackend({ endpoint: etcd.url, prefix: uniquePrefix(), leaseTtlSeconds: 5, ...opts });
  t.teardown(() => backend.close());
  return backend;
}

/** Resolves with how long `p` took to reject, and the error. */
async function rejection(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const start = Date.now();
  try {
    await p;
  } catch (err) {
    return { ms: Date.now() - start, err };
  }
  throw new Error('expected a rejection');
}

t.test('etcd:// URIs', async (t) => {
  const parse = (s: string) => etcdOptionsFromUri(new URL(s));
  t.same(parse('etcd://10.0.0.1:2379/services'), { endpoint: 'http://10.0.0.1:2379', prefix: '/services', format: 'json' });
  t.same(parse('etcd://10.0.0.1:2379/services/?format=plain'), { endpoint: 'http://10.0.0.1:2379', prefix: '/services', format: 'plain' });
  t.same(parse('etcd://etcd.local/a/b'), { endpoint: 'http://etcd.local:2379', prefix: '/a/b', format: 'json' }, 'no port: 2379');
  t.same(parse('etcd:///services'), { endpoint: 'http://127.0.0.1:2379', prefix: '/services', format: 'json' }, 'no host: registrator\'s default');
  t.same(parse('etcd://127.0.0.1:2379'), { endpoint: 'http://127.0.0.1:2379', prefix: '', format: 'json' }, 'no path: keys /<name>/<id>');
  t.throws(() => parse('etcd://h:1/p?format=xml'), { code: 'ERR_CONFIG', message: /format must be "json" or "plain", not "xml"/ });
  t.throws(() => parse('etcd://h:1/p?ttl=3'), { code: 'ERR_CONFIG', message: /unknown parameter "ttl"/ });
  t.equal(new EtcdBackend({ ...parse('etcd://127.0.0.1:2379/s?format=plain') }).name, 'etcd://127.0.0.1:2379/s?format=plain');
});

t.test('register writes a JSON value under PREFIX/<name>/<id>, attached to a lease', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const backend = backendOn(t, etcd, { prefix, leaseTtlSeconds: 7 });
  await backend.ping();
  const reg = registration('host-a', 'web-1', 32768);
  await backend.register(reg);

  const key = `${prefix}/web/host-a:web-1:80`;
  const stored = await etcdKey(etcd.url, key);
  t.ok(stored, `${key} is there`);
  t.same(JSON.parse(stored?.value ?? '{}'), {
    id: 'host-a:web-1:80', name: 'web', address: '127.0.0.1', port: 32768, tags: ['a', 'b'], meta: reg.service.meta,
  }, 'the value: id, name, address, port, tags and meta (with the owner marks)');
  t.not(stored?.lease, '0', 'attached to a lease');
  const lease = await etcdLease(etcd.url, stored?.lease ?? '0');
  t.equal(lease.grantedTtl, 7, 'granted for the configured TTL');
  t.same(lease.keys, [key], 'the lease holds the key');

  await backend.register(registration('host-a', 'web-2', 32769));
  t.equal((await etcdKey(etcd.url, `${prefix}/web/host-a:web-2:80`))?.lease, stored?.lease, 'one lease for every key');
});

t.test('services() reports what is under the prefix; deregister deletes the key', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const backend = backendOn(t, etcd, { prefix });
  const mine = registration('host-a', 'web-1', 8080);
  await backend.register(mine);
  // someone else's: another sidecar's JSON (no lease here), and a registrator-style ip:port
  await etcdPut(etcd.url, `${prefix}/db/host-b:db-1:5432`, JSON.stringify({ id: 'host-b:db-1:5432', name: 'db', address: '10.0.0.2', port: 5432, tags: [], meta: { [OWNER_META]: 'host-b' } }));
  await etcdPut(etcd.url, `${prefix}/cache/host-a:old:6379`, '10.0.0.3:6379');
  await etcdPut(etcd.url, `${prefix}/junk`, 'not a service');

  const byId = new Map((await backend.services()).map((s) => [s.id, s]));
  t.same(byId.get(mine.service.id), {
    id: mine.service.id, name: 'web', address: '127.0.0.1', port: 8080, tags: ['a', 'b'], meta: mine.service.meta,
  }, 'its own service, exactly as registered (so a resync writes nothing)');
  t.same(byId.get('host-b:db-1:5432'), {
    id: 'host-b:db-1:5432', name: 'db', address: '10.0.0.2', port: 5432, tags: [], meta: { [OWNER_META]: 'host-b', [ETCD_LEASE_META]: '0' },
  }, 'another owner\'s service, marked as not held by this lease');
  t.same(byId.get('host-a:old:6379'), {
    id: 'host-a:old:6379', name: 'cache', address: '10.0.0.3', port: 6379, tags: [], meta: { [ETCD_LEASE_META]: '0' },
  }, 'a registrator-style ip:port value, with the id and name from the key');
  t.equal(byId.size, 3, 'a key that is no service instance is left out');

  await backend.deregister(mine.service.id);
  t.equal(await etcdKey(etcd.url, `${prefix}/web/${mine.service.id}`), undefined, 'deregister deletes the key');
  await backend.deregister('host-a:old:6379');
  t.equal(await etcdKey(etcd.url, `${prefix}/cache/host-a:old:6379`), undefined, 'a key it did not write is found by its id and deleted (dangling, -cleanup)');
  await backend.deregister('no-such-id');
  t.pass('an unknown id is not an error');
  t.same((await etcdKeys(etcd.url, `${prefix}/`)).map((k) => k.key).sort(), [`${prefix}/db/host-b:db-1:5432`, `${prefix}/junk`], 'the rest untouched');
});

t.test('format=plain writes registrator\'s ip:port and still reports the registration', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const backend = backendOn(t, etcd, { prefix, format: 'plain' });
  const reg = registration('host-a', 'web-1', 8080);
  const v6 = registration('host-a', 'web-6', 8081, { address: '::1' });
  await backend.register(reg);
  await backend.register(v6);
  const stored = await etcdKey(etcd.url, `${prefix}/web/host-a:web-1:80`);
  t.equal(stored?.value, '127.0.0.1:8080', 'the value is ip:port');
  t.not(stored?.lease, '0', 'under the lease');
  t.equal((await etcdKey(etcd.url, `${prefix}/web/host-a:web-6:80`))?.value, '[::1]:8081', 'IPv6 in brackets (JoinHostPort)');
  const listed = (await backend.services()).find((s) => s.id === reg.service.id);
  t.same(listed?.meta, reg.service.meta, 'services() reports what it wrote, owner marks included');
  await backend.deregister(reg.service.id);
  t.equal(await etcdKey(etcd.url, `${prefix}/web/host-a:web-1:80`), undefined, 'deregistered');
});

t.test('a restarted sidecar (new lease) sees its old keys as not held, rewrites them and they move to its lease', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const first = backendOn(t, etcd, { prefix });
  const reg = registration('host-a', 'web-1', 8080);
  await first.register(reg);
  const oldLease = (await etcdKey(etcd.url, `${prefix}/web/${reg.service.id}`))?.lease;
  await first.close();

  const second = backendOn(t, etcd, { prefix });
  const seen = (await second.services()).find((s) => s.id === reg.service.id);
  t.equal(seen?.meta[OWNER_META], 'host-a', 'still owned by this host');
  t.equal(seen?.meta[ETCD_LEASE_META], oldLease, 'but held by the old lease: it does not match the wanted registration');
  await second.register(reg);
  const moved = await etcdKey(etcd.url, `${prefix}/web/${reg.service.id}`);
  t.not(moved?.lease, oldLease, 'rewritten under the new lease');
  t.same((await second.services()).find((s) => s.id === reg.service.id)?.meta, reg.service.meta, 'and now reported as registered');
});

t.test('a closed backend stops renewing: its keys expire with the lease', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const backend = backendOn(t, etcd, { prefix, leaseTtlSeconds: 6 });
  await backend.register(registration('host-a', 'web-1', 8080));
  const key = `${prefix}/web/host-a:web-1:80`;
  const lease = (await etcdKey(etcd.url, key))?.lease ?? '0';
  // renewed while open (every TTL/3): the remaining TTL goes down, then back up
  let low = Infinity;
  await waitFor(async () => {
    const ttl = (await etcdLease(etcd.url, lease)).ttl;
    if (ttl <= 0) throw new Error('the lease expired while the backend was open');
    low = Math.min(low, ttl);
    return ttl > low;
  }, { timeoutMs: 20_000, intervalMs: 100, message: 'the lease renewed' });
  t.pass('renewed while open');
  await backend.close();
  const closedAt = Date.now();
  await waitFor(async () => (await etcdKey(etcd.url, key)) === undefined, { timeoutMs: 30_000, intervalMs: 100, message: `${key} expired` });
  t.pass(`the key expired ${Date.now() - closedAt} ms after close (TTL 6 s)`);
});

t.test('a lost lease (revoked, or etcd forgot it) is replaced and everything written again', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const etcd = await startEtcd(t, bin);
  const prefix = uniquePrefix();
  const backend = backendOn(t, etcd, { prefix, leaseTtlSeconds: 3 });
  const regs = [registration('host-a', 'web-1', 8080), registration('host-a', 'web-2', 8081)];
  for (const r of regs) await backend.register(r);
  const keys = regs.map((r) => `${prefix}/web/${r.service.id}`);
  const lease = (await etcdKey(etcd.url, keys[0] as string))?.lease ?? '0';

  await etcdRevoke(etcd.url, lease);
  t.same(await etcdKeys(etcd.url, `${prefix}/`), [], 'revoking the lease deleted the keys');
  const back = await waitFor(async () => {
    const now = await etcdKeys(etcd.url, `${prefix}/`);
    return now.length === 2 ? now : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100, message: 'both keys written again' });
  t.same(back.map((k) => k.key).sort(), keys.sort(), 'both keys are back (by the renewal tick, with no write from the sidecar)');
  t.ok(back.every((k) => k.lease !== lease && k.lease === back[0]?.lease), 'under one new lease');
  t.ok((await etcdLease(etcd.url, back[0]?.lease ?? '0')).ttl > 0, 'which is alive');

  // a write that meets a lease etcd does not know replaces it at once
  await etcdRevoke(etcd.url, back[0]?.lease ?? '0');
  await backend.register(registration('host-a', 'web-3', 8082));
  t.equal((await etcdKeys(etcd.url, `${prefix}/`)).length, 3, 'a register after the loss writes the others again too');
});

t.test('an unreachable or silent etcd: one-line errors in bounded time', async (t) => {
  const closedPort = await freePort();
  const refused = new EtcdBackend({ endpoint: `http://127.0.0.1:${closedPort}`, prefix: '/s', timeoutMs: 2_000 });
  t.teardown(() => refused.close());
  for (const [what, call] of [['ping', () => refused.ping()], ['register', () => refused.register(registration('h', 'c', 1))], ['services', () => refused.services()], ['deregister', () => refused.deregister('x')]] as const) {
    const { ms, err } = await rejection(call());
    t.ok(err instanceof MusterError, `${what}: a MusterError`);
    t.match((err as Error).message, new RegExp(`^etcd://127\\.0\\.0\\.1:${closedPort}/s unreachable: ECONNREFUSED$`), `${what}: says what and why, in one line`);
    t.ok(ms < 2_000, `${what}: at once (${ms} ms)`);
  }

  // accepts connections and never answers
  const sockets = new Set<Socket>();
  const silent = createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const port = (silent.address() as { port: number }).port;
  const stuck = new EtcdBackend({ endpoint: `http://127.0.0.1:${port}`, prefix: '/s', timeoutMs: 1_000 });
  t.teardown(() => stuck.close());
  for (const [what, call] of [['ping', () => stuck.ping()], ['register', () => stuck.register(registration('h', 'c', 1))], ['services', () => stuck.services()]] as const) {
    const { ms, err } = await rejection(call());
    t.match((err as Error).message, /did not answer \/v3\/\S+ within 1000 ms$/, `${what}: a timeout, named`);
    t.ok(ms >= 900 && ms < 5_000, `${what}: after the deadline, not much later (${ms} ms)`);
  }
});

t.test('muster sidecar with etcd down: exits 1 with one line; a bad etcd URI is a config error', async (t) => {
  const port = await freePort();
  const down = spawnMuster(t, ['sidecar', '-docker', 'unix:///nonexistent.sock', `etcd://127.0.0.1:${port}/services`]);
  const code = await new Promise<number | null>((resolve) => down.proc.once('exit', resolve));
  t.equal(code, 1, 'exit 1');
  t.match(down.stderr(), new RegExp(`^muster: backend not reachable: etcd://127\\.0\\.0\\.1:${port}/services unreachable: ECONNREFUSED\\n$`), 'one line: which etcd, and why');

  const bad = spawnMuster(t, ['sidecar', 'etcd://127.0.0.1:2379/services?format=yaml']);
  t.equal(await new Promise<number | null>((resolve) => bad.proc.once('exit', resolve)), 1, 'exit 1');
  t.match(bad.stderr(), /^muster: etcd format must be "json" or "plain", not "yaml"/, 'says what is wrong');
});

/** A sidecar on the test engine writing to `etcd` under `/services`, with a unique -hostname. */
async function etcdSidecar(t: Teardown, etcd: EtcdServer, hostname: string, flags: string[]) {
  return startSidecar(t, {
    registry: `etcd://127.0.0.1:${etcd.port}/services`,
    args: ['-hostname', hostname, '-docker', `unix://${dockerSocketPath()}`, ...flags],
    readyTimeoutMs: 60_000,
  });
}

function serviceKeyOf(hostname: string, container: string): string {
  return `/services/${IMAGE_SERVICE_NAME}/${hostname}:${container}:80`;
}

t.test('sidecar: a container is registered under a lease; SIGKILL the sidecar and the key expires', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const docker = await requireDocker(t);
  if (!docker) return;
  const etcd = await startEtcd(t, bin);
  const hostname = uniqueHostname('etcd');
  const name = uniqueContainerName('etcd');
  const container = await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const port = await hostPort(container, 80);
  const sidecar = await etcdSidecar(t, etcd, hostname, ['-ttl', '3', '-ttl-refresh', '1']);

  const key = serviceKeyOf(hostname, name);
  const stored = await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 30_000, intervalMs: 100, message: `${key} written` });
  t.match(JSON.parse(stored.value), { id: `${hostname}:${name}:80`, name: IMAGE_SERVICE_NAME, address: '127.0.0.1', port, meta: { [OWNER_META]: hostname, [CONTAINER_META]: container.id } }, 'JSON with the owner marks');
  t.equal((await etcdLease(etcd.url, stored.lease)).grantedTtl, 3, 'under a lease of -ttl seconds');

  await sidecar.stop('SIGKILL');
  const killedAt = Date.now();
  await waitFor(async () => (await etcdKey(etcd.url, key)) === undefined, { timeoutMs: 3_000 + 15_000, intervalMs: 100, message: `${key} expired after the sidecar died` });
  t.pass(`gone ${Date.now() - killedAt} ms after the SIGKILL (-ttl 3)`);
  t.equal((await container.inspect()).State.Running, true, 'while the container still runs');
});

t.test('sidecar: etcd restarts with its data, after the lease ran out locally: a new lease, the key kept', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const docker = await requireDocker(t);
  if (!docker) return;
  const etcd = await startEtcd(t, bin);
  const hostname = uniqueHostname('etcd');
  const name = uniqueContainerName('etcd');
  await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  const sidecar = await etcdSidecar(t, etcd, hostname, ['-ttl', '3', '-ttl-refresh', '1']);
  const key = serviceKeyOf(hostname, name);
  const before = await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 30_000, intervalMs: 100, message: `${key} written` });

  const mark = sidecar.lines.length;
  await etcd.kill();
  // down for longer than the TTL: the sidecar gives the lease up
  await waitFor(() => sidecar.lines.slice(mark).some((l) => typeof l.msg === 'string' && l.msg.startsWith('etcd lease lost')), {
    timeoutMs: 30_000, message: 'the sidecar noticed that the lease ran out',
  });
  await etcd.restart();
  t.equal(sidecar.proc.exitCode, null, 'the sidecar kept running while etcd was away');

  // etcd restores the old lease with a full TTL; the sidecar moves the key to a new one
  const after = await waitFor(async () => {
    const kv = await etcdKey(etcd.url, key);
    return kv && kv.lease !== before.lease ? kv : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100, message: `${key} under a new lease` });
  t.same(JSON.parse(after.value), JSON.parse(before.value), 'the same value');
  await waitFor(async () => (await etcdLease(etcd.url, before.lease)).ttl < 0, { timeoutMs: 30_000, intervalMs: 200, message: 'the old lease expired' });
  t.ok(await etcdKey(etcd.url, key), 'the key outlives the old lease');
  t.ok((await etcdLease(etcd.url, after.lease)).ttl > 0, 'its lease is alive');
});

t.test('sidecar: etcd restarts without its data: everything is registered again', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const docker = await requireDocker(t);
  if (!docker) return;
  const etcd = await startEtcd(t, bin);
  const hostname = uniqueHostname('etcd');
  const names = [uniqueContainerName('etcd-a'), uniqueContainerName('etcd-b')];
  for (const name of names) await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  // default lease TTL (30 s): the keepalive finds the lease unknown long before it could run out
  const sidecar = await etcdSidecar(t, etcd, hostname, []);
  const keys = names.map((n) => serviceKeyOf(hostname, n));
  for (const key of keys) await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 30_000, intervalMs: 100, message: `${key} written` });
  t.equal((await etcdLease(etcd.url, (await etcdKey(etcd.url, keys[0] as string))?.lease ?? '0')).grantedTtl, 30, 'no -ttl: a 30 s lease');

  await etcd.restart({ freshData: true });
  t.same(await etcdKeys(etcd.url, '/services/'), [], 'etcd came back empty');
  const restartedAt = Date.now();
  for (const key of keys) await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 60_000, intervalMs: 200, message: `${key} registered again` });
  t.pass(`both registered again ${Date.now() - restartedAt} ms after etcd came back`);
  t.ok(sidecar.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('etcd lease lost')), 'the sidecar logged the lost lease');
});

t.test('sidecar: -resync puts back a key deleted by hand, and removes the key of a removed container', async (t) => {
  const bin = requireEtcd(t);
  if (!bin) return;
  const docker = await requireDocker(t);
  if (!docker) return;
  const etcd = await startEtcd(t, bin);
  const hostname = uniqueHostname('etcd');
  const name = uniqueContainerName('etcd');
  const container = await runContainer(t, docker, { name, cmd: IDLE, publish: ['127.0.0.1::80'] });
  await etcdSidecar(t, etcd, hostname, ['-resync', '1']);
  const key = serviceKeyOf(hostname, name);
  await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 30_000, intervalMs: 100, message: `${key} written` });

  await etcdDelete(etcd.url, key);
  await waitFor(() => etcdKey(etcd.url, key), { timeoutMs: 30_000, intervalMs: 100, message: `${key} written again by a resync` });
  t.pass('deleted by hand, written again');

  await removeContainer(container);
  await waitFor(async () => (await etcdKey(etcd.url, key)) === undefined, { timeoutMs: 30_000, intervalMs: 100, message: `${key} deregistered` });
  t.pass('the removed container is deregistered');
});
