// The compose examples, as written, under Debian's docker-compose (v1) with the
// locally built image (scripts/local-image.sh) and free host ports.
import t, { type Test } from 'tap';
import type Docker from 'dockerode';
import { requireDocker, dockerSocketPath, waitForHttp, TEST_IMAGE } from '../helpers/docker.js';
import { buildLocalMusterImage, localEtcdImage } from '../helpers/image.js';
import { etcdKeys } from '../helpers/etcd.js';
import { composeMissing, composeProject, type ComposeProject } from '../helpers/compose.js';
import { freePort, getJson, kvGet, kvPut } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

interface MemberJson { Name: string; Addr: string; Status: number; Tags: Record<string, string> }
interface CatalogServiceJson { ServiceID: string; ServiceName: string; ServiceAddress: string; ServicePort: number }

const STATUS_ALIVE = 1;
const WAIT = { timeoutMs: 120_000, intervalMs: 500 };

async function setUp(t: Test): Promise<{ docker: Docker; image: string } | undefined> {
  const docker = await requireDocker(t);
  if (!docker) return undefined;
  const missing = await composeMissing();
  if (missing !== undefined) {
    if (process.env['CI'] === 'true') t.fail(`${missing} (CI=true; .ci/run installs it)`);
    else t.plan(0, missing);
    return undefined;
  }
  // fetch() against a docker-proxy port whose container is not listening yet can hang with
  // nothing else keeping the event loop alive (AbortSignal.timeout's timer is unref'd): keep it
  // alive for the test, so a wait times out instead of the process ending the test unfinished
  const keepAlive = setInterval(() => {}, 1_000);
  t.teardown(() => clearInterval(keepAlive));
  const { image, ms } = await buildLocalMusterImage(dockerSocketPath());
  t.comment(`image ${image} ready in ${Math.round(ms / 1000)} s`);
  return { docker, image };
}

async function projectContainers(docker: Docker, project: ComposeProject): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project.name}`] } });
}

/** Members as one agent sees them; [] while it does not answer. */
async function members(url: string): Promise<MemberJson[]> {
  try { return await getJson<MemberJson[]>(url, '/v1/agent/members'); } catch { return []; }
}

async function leaderOf(url: string): Promise<string> {
  try { return await getJson<string>(url, '/v1/status/leader'); } catch { return ''; }
}

t.test('every example is a valid compose file', async (t) => {
  const missing = await composeMissing();
  if (missing !== undefined) {
    if (process.env['CI'] === 'true') t.fail(missing);
    else t.plan(0, missing);
    return;
  }
  for (const example of ['seed-cluster', 'sidecar', 'forward']) {
    // the defaults as users get them: no variables set
    const project = composeProject(t, example, {}, { down: false });
    const out = await project.run(['config']);
    t.match(out, /services:/, `${example}: docker-compose config accepts it`);
  }
});

t.test('seed-cluster: three servers and a client', async (t) => {
  const env = await setUp(t);
  if (!env) return;
  const { docker, image } = env;
  const ports = { s1: await freePort(), s2: await freePort(), s3: await freePort(), client: await freePort() };
  const project = composeProject(t, 'seed-cluster', {
    MUSTER_IMAGE: image,
    SERVER_1_HTTP_PORT: String(ports.s1), SERVER_2_HTTP_PORT: String(ports.s2),
    SERVER_3_HTTP_PORT: String(ports.s3), CLIENT_HTTP_PORT: String(ports.client),
  }, { services: ['server-1', 'server-2', 'server-3', 'client-1'] });
  await project.run(['up', '-d', '--no-build']);
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const client = url(ports.client);
  await waitForHttp(`${client}/v1/agent/self`, { timeoutMs: 120_000 });

  const all = await waitFor(async () => {
    const m = await members(client);
    return m.length === 4 && m.every((x) => x.Status === STATUS_ALIVE) ? m : undefined;
  }, { ...WAIT, message: 'the four agents never were alive together' });
  t.same(all.map((m) => m.Name).sort(), ['client-1', 'server-1', 'server-2', 'server-3'], 'members');
  t.same(all.filter((m) => m.Tags['role'] === 'consul').map((m) => m.Name).sort(), ['server-1', 'server-2', 'server-3'], 'three servers');
  const addrs = all.map((m) => m.Addr);
  t.equal(new Set(addrs).size, 4, 'each agent advertises its own address');
  t.notOk(addrs.some((a) => a.startsWith('127.')), 'and none a loopback one');

  const leader = await waitFor(async () => (await leaderOf(client)) || undefined, { ...WAIT, message: 'no leader' });
  t.ok(leader.endsWith(':8300'), `leader ${leader}`);
  for (let i = 0; i < 5; i++) t.ok(await kvPut(client, `seed/${i}`, `v${i}`), `put seed/${i} through the client`);
  t.equal(await kvGet(url(ports.s2), 'seed/4'), 'v4', 'a server answers it');

  t.test('docker kill of the leader: a new leader, the data intact', async (t) => {
    const leaderIp = leader.slice(0, leader.lastIndexOf(':'));
    const containers = await projectContainers(docker, project);
    const victim = containers.find((c) => Object.values(c.NetworkSettings?.Networks ?? {}).some((n) => n.IPAddress === leaderIp));
    t.ok(victim, `a container has the leader's address ${leaderIp}`);
    if (!victim) return;
    const victimService = victim.Labels['com.docker.compose.service'] ?? '';
    t.match(victimService, /^server-\d$/);
    await docker.getContainer(victim.Id).kill();

    const survivors = [ports.s1, ports.s2, ports.s3].filter((_, i) => `server-${i + 1}` !== victimService).map(url);
    const next = await waitFor(async () => {
      const l = await leaderOf(survivors[0] as string);
      return l !== '' && l !== leader ? l : undefined;
    }, { ...WAIT, message: 'no new leader after the kill' });
    t.not(next, leader, `new leader ${next}`);
    for (const s of survivors) {
      for (let i = 0; i < 5; i++) t.equal(await kvGet(s, `seed/${i}`, 'consistent'), `v${i}`, `seed/${i} on ${s}`);
    }
    t.ok(await kvPut(client, 'seed/after', 'yes'), 'writes go on through the client');
    t.equal(await kvGet(survivors[1] as string, 'seed/after'), 'yes');
  });

  t.test('docker-compose down leaves nothing behind', async (t) => {
    await project.run(['down', '-v', '--remove-orphans', '-t', '5']);
    t.same(await projectContainers(docker, project), [], 'no container of the project');
    const volumes = await docker.listVolumes({ filters: { label: [`com.docker.compose.project=${project.name}`] } });
    t.same(volumes.Volumes ?? [], [], 'no volume');
  });
});

t.test('sidecar: a host-networked agent registers the replicas of an app', async (t) => {
  const env = await setUp(t);
  if (!env) return;
  const { docker, image } = env;
  const http = await freePort();
  const project = composeProject(t, 'sidecar', {
    MUSTER_IMAGE: image, APP_IMAGE: TEST_IMAGE,
    MUSTER_HTTP_PORT: String(http), MUSTER_SERF_PORT: String(await freePort()), MUSTER_SERVER_PORT: String(await freePort()),
  }, { services: ['muster', 'app'] });
  await project.run(['up', '-d', '--no-build']);
  const url = `http://127.0.0.1:${http}`;
  await waitForHttp(`${url}/v1/agent/self`, { timeoutMs: 120_000 });

  // the agent sees every container of this engine: count only this project's instances of `web`
  const ours = (list: CatalogServiceJson[]) => list.filter((s) => s.ServiceID.includes(`:${project.name}_app_`));
  const instances = async (query = '') => ours(await getJson<CatalogServiceJson[]>(url, `/v1/catalog/service/web${query}`));
  const passing = async () => ours((await getJson<Array<{ Service: { ID: string } }>>(url, '/v1/health/service/web?passing'))
    .map((e) => ({ ServiceID: e.Service.ID, ServiceName: 'web', ServiceAddress: '', ServicePort: 0 })));
  const settle = (n: number, what: string) => waitFor(async () => {
    const [all, ok] = [await instances(), await passing()];
    return all.length === n && ok.length === n ? all : undefined;
  }, { ...WAIT, message: `${what}: never ${n} passing instances of web` });

  const three = await settle(3, 'up');
  t.equal(three.length, 3, 'deploy.replicas: 3 instances registered, their HTTP checks passing');
  t.ok(three.every((s) => s.ServiceAddress === '127.0.0.1' && s.ServicePort > 0), 'at their published address and port');
  t.ok((await members(url)).some((m) => m.Name === 'sidecar-demo' && m.Status === STATUS_ALIVE), 'the agent is a member of its own pool');
  t.same(ours(await getJson<CatalogServiceJson[]>(url, '/v1/catalog/service/muster')), [], 'Muster itself is not registered (SERVICE_IGNORE)');

  await project.run(['up', '-d', '--no-build', '--scale', 'app=5']);
  t.equal((await settle(5, 'scale up')).length, 5, 'scaled up to 5');
  await project.run(['up', '-d', '--no-build', '--scale', 'app=1']);
  t.equal((await settle(1, 'scale down')).length, 1, 'scaled down to 1');
  await project.run(['up', '-d', '--no-build', '--scale', 'app=0']);
  t.same(await waitFor(async () => ((await instances()).length === 0 ? [] : undefined), { ...WAIT, message: 'instances left after scale 0' }), [],
    'no instance registered once the app is gone');

  await project.run(['down', '-v', '--remove-orphans', '-t', '5']);
  t.same(await projectContainers(docker, project), [], 'down: no container of the project');
});

t.test('forward: sidecars into a Consul-API registry and into etcd', async (t) => {
  const env = await setUp(t);
  if (!env) return;
  const { docker, image } = env;
  const etcdImage = (await localEtcdImage(dockerSocketPath())).image;
  const [consulHttp, etcdPort] = [await freePort(), await freePort()];
  // Consul's stand-in: a Muster server agent, which speaks the same API and takes the same flags
  const project = composeProject(t, 'forward', {
    MUSTER_IMAGE: image, CONSUL_IMAGE: image, ETCD_IMAGE: etcdImage, APP_IMAGE: TEST_IMAGE,
    CONSUL_HTTP_PORT: String(consulHttp), CONSUL_SERF_PORT: String(await freePort()),
    CONSUL_SERVER_PORT: String(await freePort()), CONSUL_DNS_PORT: '-1',
    ETCD_PORT: String(etcdPort), ETCD_PEER_PORT: String(await freePort()),
  }, { services: ['consul', 'etcd', 'to-consul', 'to-etcd', 'app'] });
  await project.run(['up', '-d', '--no-build']);
  const consul = `http://127.0.0.1:${consulHttp}`;
  const etcd = `http://127.0.0.1:${etcdPort}`;
  const app = (await projectContainers(docker, project)).find((c) => c.Labels['com.docker.compose.service'] === 'app');
  t.ok(app, 'the app container runs');
  const appName = (app?.Names[0] ?? '').replace(/^\//, '');

  const inConsul = await waitFor(async () => {
    try {
      const list = await getJson<Array<{ Service: { ID: string; Port: number } }>>(consul, '/v1/health/service/web?passing');
      return list.find((e) => e.Service.ID.includes(`:${appName}:`));
    } catch { return undefined; }
  }, { ...WAIT, message: `${appName} never passing in the Consul-API registry` });
  t.ok(inConsul.Service.Port > 0, `registered in the Consul-API registry as ${inConsul.Service.ID}, check passing`);

  const inEtcd = await waitFor(async () => {
    try {
      return (await etcdKeys(etcd, '/services/web/')).find((k) => k.key.includes(`:${appName}:`));
    } catch { return undefined; }
  }, { ...WAIT, message: `${appName} never written to etcd` });
  t.match(JSON.parse(inEtcd.value), { name: 'web', address: '127.0.0.1' }, `written to etcd at ${inEtcd.key}`);
  t.not(inEtcd.lease, '0', 'on a lease');

  await project.run(['down', '-v', '--remove-orphans', '-t', '5']);
  t.same(await projectContainers(docker, project), [], 'down: no container of the project');
});
