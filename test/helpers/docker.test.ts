// The Docker test helpers against the real engine: what they start must be reachable
// on loopback, labelled, and gone after the test.
import t from 'tap';
import type { Test } from 'tap';
import {
  hostPort,
  parsePublishSpec,
  requireDocker,
  runContainer,
  TEST_LABEL,
  waitForHttp,
} from './docker.js';
import { waitFor } from './wait.js';

const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];

t.test('parsePublishSpec reads the docker CLI forms', async (t) => {
  const cases: Array<[string, ReturnType<typeof parsePublishSpec>]> = [
    ['80', { containerPort: 80 }],
    ['80/udp', { containerPort: 80, protocol: 'udp' }],
    ['8080:80', { containerPort: 80, hostPort: '8080' }],
    ['127.0.0.1::80/tcp', { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1' }],
    ['127.0.0.1::53/udp', { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1' }],
    ['127.0.0.1:8053:53/udp', { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: '8053' }],
    ['[::1]::80', { containerPort: 80, hostIp: '::1' }],
  ];
  for (const [spec, want] of cases) t.same(parsePublishSpec(spec), want, spec);
  t.throws(() => parsePublishSpec('http'), /bad publish spec/);
});

t.test('requireDocker with an unreachable engine', async (t) => {
  const socketPath = '/nonexistent/muster-test-docker.sock';

  t.test('fails the test under CI', async (t) => {
    const fake = fakeTest();
    const docker = await requireDocker(fake.t, { socketPath, ci: true });
    t.equal(docker, undefined);
    t.equal(fake.failed.length, 1, 'one failure');
    t.match(fake.failed[0], /docker engine required under CI=true/);
    t.match(fake.failed[0], socketPath);
    t.same(fake.skipped, [], 'not skipped');
  });

  t.test('skips the test elsewhere', async (t) => {
    const fake = fakeTest();
    const docker = await requireDocker(fake.t, { socketPath, ci: false });
    t.equal(docker, undefined);
    t.same(fake.failed, [], 'no failure');
    t.equal(fake.skipped.length, 1, 'skipped');
    t.match(fake.skipped[0], /docker not available/);
  });
});

t.test('a busybox httpd container answers on its published loopback port', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const container = await runContainer(t, docker, { cmd: HTTPD, publish: ['127.0.0.1::80/tcp'] });
  const port = await hostPort(container, '80/tcp');
  t.ok(port > 0, `published on 127.0.0.1:${port}`);

  const index = await waitForHttp(`http://127.0.0.1:${port}/`);
  t.equal(index.body.trim(), 'hello');
  const health = await waitForHttp(`http://127.0.0.1:${port}/health`);
  t.equal(health.body.trim(), 'ok');

  const info = await container.inspect();
  t.equal(info.Config.Labels[TEST_LABEL], '1', 'labelled as a test container');
  t.match(info.Name, /^\/muster-test-[0-9a-f]{8}$/, 'unique test name');
  t.equal(info.NetworkSettings.Ports['80/tcp']?.[0]?.HostIp, '127.0.0.1', 'bound to loopback only');
});

t.test('options: env, labels, expose, udp and structured publish', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const container = await runContainer(t, docker, {
    cmd: ['sleep', '300'],
    env: { SERVICE_NAME: 'web', SERVICE_TAGS: 'a,b' },
    labels: { 'com.example.role': 'test' },
    expose: ['9000'],
    publish: ['127.0.0.1::53/udp', { containerPort: 8080, hostIp: '127.0.0.1' }],
  });
  const udp = await hostPort(container, '53/udp');
  const tcp = await hostPort(container, 8080);
  t.ok(udp > 0 && tcp > 0, `udp ${udp}, tcp ${tcp}`);

  const info = await container.inspect();
  t.ok(info.Config.Env.includes('SERVICE_NAME=web'), 'env as a record');
  t.equal(info.Config.Labels['com.example.role'], 'test', 'caller label kept');
  t.equal(info.Config.Labels[TEST_LABEL], '1', 'test label added');
  t.same(Object.keys(info.Config.ExposedPorts ?? {}).sort(), ['53/udp', '8080/tcp', '9000/tcp']);
});

t.test('a healthcheck reaches healthy', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const container = await runContainer(t, docker, {
    cmd: HTTPD,
    healthcheck: { test: 'wget -q -O /dev/null http://127.0.0.1/health', intervalMs: 200, timeoutMs: 2_000, retries: 3 },
  });
  let status = '';
  await waitFor(
    async () => {
      status = (await container.inspect()).State.Health?.Status ?? '';
      return status === 'healthy';
    },
    { timeoutMs: 30_000, intervalMs: 100, message: 'container healthy' },
  ).catch(() => undefined); // the assertion below reports the last status
  t.equal(status, 'healthy');
});

t.test('teardown removes the container', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  let id = '';
  await t.test('runs a container', async (t) => {
    const container = await runContainer(t, docker, { cmd: ['sleep', '300'] });
    id = container.id;
    t.equal((await container.inspect()).State.Running, true, 'running');
  });
  t.ok(id, 'the subtest started a container');

  const gone = await waitFor(
    async () => {
      try {
        await docker.getContainer(id).inspect();
        return false;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return true;
        throw err;
      }
    },
    { timeoutMs: 15_000, intervalMs: 100, message: `container ${id.slice(0, 12)} removed` },
  );
  t.ok(gone, `container ${id.slice(0, 12)} removed after its test ended`);
});

/** A stand-in for a tap Test that records what requireDocker does to it. */
function fakeTest(): { t: Test; failed: string[]; skipped: string[] } {
  const failed: string[] = [];
  const skipped: string[] = [];
  const fake = {
    fail: (message: string) => {
      failed.push(message);
      return false;
    },
    plan: (n: number, reason: string) => {
      if (n === 0) skipped.push(reason);
    },
    skip: (reason: string) => {
      skipped.push(reason);
    },
  };
  return { t: fake as unknown as Test, failed, skipped };
}
