// The Dockerfile, built for real (scripts/local-image.sh: the offline build on a
// base made from this machine's node) and run the way users run it:
// `docker run --net=host -v /var/run/docker.sock:/var/run/docker.sock muster agent ...`.
import t from 'tap';
import { requireDocker, runContainer, uniqueContainerName, dockerSocketPath, waitForHttp, execIn } from '../helpers/docker.js';
import { buildLocalMusterImage } from '../helpers/image.js';
import { freePort, getJson } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

interface MemberJson { Name: string; Status: number }
interface CatalogServiceJson { ServiceID: string; ServiceName: string; ServicePort: number }

const STATUS_ALIVE = 1;
const STATUS_LEFT = 3;

/** Agent flags for host networking: our own free ports, so other agents on this machine are not disturbed. */
async function hostAgentPorts(): Promise<{ http: number; serf: number; args: string[] }> {
  const [http, serf, server] = [await freePort(), await freePort(), await freePort()];
  return { http, serf, args: ['-http-port', String(http), '-serf-lan-port', String(serf), '-server-port', String(server), '-dns-port', '-1'] };
}

t.test('the image: docker run with the socket and host networking', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  // a pending fetch() alone does not keep the event loop alive (AbortSignal.timeout is unref'd)
  const keepAlive = setInterval(() => {}, 1_000);
  t.teardown(() => clearInterval(keepAlive));
  const socket = dockerSocketPath();
  const { image, ms } = await buildLocalMusterImage(socket);
  t.comment(`image ${image} ready in ${Math.round(ms / 1000)} s`);

  const info = await docker.getImage(image).inspect();
  t.same(info.Config.Entrypoint, ['muster'], 'ENTRYPOINT ["muster"]');
  t.same(info.Config.Cmd, ['agent', '-dev', '-client', '0.0.0.0'], 'default command');
  t.ok(info.Config.Healthcheck?.Test?.length, 'a HEALTHCHECK');
  t.same(Object.keys(info.Config.ExposedPorts ?? {}).sort(),
    ['8300/tcp', '8301/tcp', '8301/udp', '8302/tcp', '8302/udp', '8500/tcp', '8600/tcp', '8600/udp'], 'Consul\'s ports declared');

  const suffix = uniqueContainerName().slice('muster-test-'.length);
  const server = await hostAgentPorts();
  const serverNode = `image-server-${suffix}`;
  const muster = await runContainer(t, docker, {
    image, name: uniqueContainerName('muster'), networkMode: 'host', stopTimeout: 10,
    binds: [`${socket}:/var/run/docker.sock`],
    cmd: ['agent', '-dev', '-client', '127.0.0.1', '-node', serverNode, ...server.args],
    // the HEALTHCHECK asks the agent through `muster members`, which reads this
    env: { MUSTER_HTTP_ADDR: `127.0.0.1:${server.http}` },
  });
  const url = `http://127.0.0.1:${server.http}`;
  await waitForHttp(`${url}/v1/status/leader`, { timeoutMs: 60_000 });

  t.test('the image holds dist/, bin/, package.json and the production dependencies only', async (t) => {
    const ls = await execIn(muster, ['sh', '-c', 'cd /opt/muster && ls && ls node_modules && ls dist && readlink /usr/local/bin/muster']);
    t.equal(ls.exitCode, 0, ls.output);
    const names = new Set(ls.output.split(/\s+/));
    for (const want of ['bin', 'dist', 'node_modules', 'package.json', 'src', 'dockerode', 'pino', 'axios', '/opt/muster/bin/muster']) {
      t.ok(names.has(want), `has ${want}`);
    }
    const devDeps = ['typescript', 'tap', 'eslint', 'consul', 'playwright-core', '@types/dockerode'];
    const present = await execIn(muster, ['sh', '-c', `cd /opt/muster/node_modules && for d in ${devDeps.join(' ')}; do test -e $d && echo $d; done; true`]);
    t.same(present.output.split(/\s+/).filter(Boolean), [], 'no dev dependency');
  });

  t.test('a container started afterwards is in the catalog', async (t) => {
    const name = `image-web-${suffix}`;
    await runContainer(t, docker, {
      name: uniqueContainerName('web'), cmd: ['httpd', '-f', '-p', '80', '-h', '/www'], publish: ['80'],
      labels: { SERVICE_NAME: name, SERVICE_CHECK_HTTP: '/health', SERVICE_CHECK_INTERVAL: '1s' },
    });
    const entries = await waitFor(async () => {
      const got = await getJson<CatalogServiceJson[]>(url, `/v1/catalog/service/${name}`);
      return got.length > 0 ? got : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, message: `${name} never reached the catalog of the containerised agent` });
    t.equal(entries.length, 1);
    t.ok((entries[0]?.ServicePort ?? 0) > 0, 'registered with its published port');
    await waitFor(async () => (await getJson<unknown[]>(url, `/v1/health/service/${name}?passing`)).length === 1,
      { timeoutMs: 30_000, intervalMs: 250, message: 'its HTTP check never passed' });
  });

  t.test('the HEALTHCHECK reports the agent healthy', async (t) => {
    const status = await waitFor(async () => {
      const s = (await muster.inspect()).State.Health?.Status;
      return s === 'healthy' || s === 'unhealthy' ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'no health status' });
    t.equal(status, 'healthy');
  });

  t.test('docker stop of a client agent: it leaves the cluster and exits 0', async (t) => {
    const client = await hostAgentPorts();
    const clientNode = `image-client-${suffix}`;
    const agent = await runContainer(t, docker, {
      image, name: uniqueContainerName('client'), networkMode: 'host', stopTimeout: 10,
      // where registrator's users mount the socket
      binds: [`${socket}:/tmp/docker.sock`],
      cmd: ['agent', '-node', clientNode, '-bind', '127.0.0.1', '-client', '127.0.0.1',
        '-join', `127.0.0.1:${server.serf}`, ...client.args],
    });
    const members = () => getJson<MemberJson[]>(url, '/v1/agent/members');
    await waitFor(async () => (await members()).some((m) => m.Name === clientNode && m.Status === STATUS_ALIVE),
      { timeoutMs: 60_000, intervalMs: 250, message: 'the client never joined' });

    await waitFor(async () => /synced with docker/.test((await agent.logs({ stdout: true, stderr: true })).toString('utf8')),
      { timeoutMs: 60_000, intervalMs: 500, message: 'the client\'s sidecar never synced with docker' });
    t.match((await agent.logs({ stdout: true, stderr: true })).toString('utf8'), /"docker":"unix:\/\/\/tmp\/docker.sock"/,
      'without -docker or DOCKER_HOST it found the socket at /tmp/docker.sock');
    await agent.stop({ t: 10 });
    const state = (await agent.inspect()).State;
    t.equal(state.ExitCode, 0, 'exit code 0 (SIGTERM handled; a SIGKILL after the timeout would give 137)');
    t.equal(state.OOMKilled, false);
    const left = await waitFor(async () => (await members()).find((m) => m.Name === clientNode && m.Status !== STATUS_ALIVE),
      { timeoutMs: 20_000, intervalMs: 250, message: 'the client is still alive in the members' });
    t.equal(left.Status, STATUS_LEFT, 'the server sees it as left, not failed');
    const logs = (await agent.logs({ stdout: true, stderr: true })).toString('utf8');
    t.match(logs, /left the cluster/, 'the client logged its graceful leave');
  });

  t.test('docker stop of the server: exits 0', async (t) => {
    await muster.stop({ t: 10 });
    const state = (await muster.inspect()).State;
    t.equal(state.ExitCode, 0);
    const logs = (await muster.logs({ stdout: true, stderr: true })).toString('utf8');
    t.match(logs, /"signal":"SIGTERM"/, 'stopped by SIGTERM');
    t.match(logs, /agent stopped/);
  });
});
