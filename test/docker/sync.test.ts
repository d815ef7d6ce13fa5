import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Reconciler, type ContainerExit } from '../../src/docker/sync.js';
import { OpQueue, isRejection } from '../../src/docker/op-queue.js';
import type { Backend, RegisteredService } from '../../src/backends/types.js';
import type { HealthStatus } from '../../src/agent/definition.js';
import { CONTAINER_META, OWNER_META, type ContainerInspect, type Registration } from '../../src/docker/types.js';
import { MusterError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

const FIXTURES = new URL('../../../test/fixtures/inspect/', import.meta.url);

function fixture(name: string, id: string, containerName: string): ContainerInspect {
  const info = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as ContainerInspect;
  info.Id = id.padEnd(64, '0');
  info.Name = `/${containerName}`;
  return info;
}

/** A registry in memory that can be made to fail, recording every call. */
class FakeBackend implements Backend {
  readonly name = 'fake';
  readonly store = new Map<string, Registration>();
  readonly calls: string[] = [];
  readonly checks = new Map<string, HealthStatus>();
  down = false;
  reject = false;

  ping(): Promise<void> { return this.down ? Promise.reject(new Error('down')) : Promise.resolve(); }

  register(reg: Registration): Promise<void> {
    if (this.down) return Promise.reject(new MusterError('ERR_BACKEND', 'unreachable', { status: 503 }));
    if (this.reject) return Promise.reject(new MusterError('ERR_BACKEND', 'bad request', { status: 400 }));
    this.calls.push(`register ${reg.service.id}`);
    this.store.set(reg.service.id, reg);
    return Promise.resolve();
  }

  deregister(id: string): Promise<void> {
    if (this.down) return Promise.reject(new MusterError('ERR_BACKEND', 'unreachable', { status: 503 }));
    this.calls.push(`deregister ${id}`);
    this.store.delete(id);
    return Promise.resolve();
  }

  async services(): Promise<RegisteredService[]> {
    if (this.down) throw new MusterError('ERR_BACKEND', 'unreachable', { status: 503 });
    return [...this.store.values()].map((r) => ({
      id: r.service.id, name: r.service.name, address: r.service.address, port: r.service.port,
      tags: [...r.service.tags], meta: { ...r.service.meta },
    }));
  }

  updateCheck(checkId: string, status: HealthStatus): Promise<void> {
    if (this.down) return Promise.reject(new MusterError('ERR_BACKEND', 'unreachable', { status: 503 }));
    this.calls.push(`check ${checkId} ${status}`);
    this.checks.set(checkId, status);
    return Promise.resolve();
  }
}

function setup(t: Test, opts: { deregister?: 'always' | 'on-success'; cleanup?: boolean } = {}) {
  const backend = new FakeBackend();
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const reconciler = new Reconciler(backend, {
    mapping: { hostname: 'h1', internal: false, explicit: false, ttl: 0 },
    deregister: opts.deregister ?? 'always', cleanup: opts.cleanup ?? false, requireLabel: undefined,
  }, silentLogger(), abort.signal);
  return { backend, reconciler, abort };
}

const noExit = (): Promise<ContainerExit> => Promise.resolve({ exists: false, running: false, exitCode: 0 });

t.test('a started container is registered once; the same inspection again writes nothing', async (t) => {
  const { backend, reconciler } = setup(t);
  const c = fixture('published', 'aaa', 'web');
  reconciler.containerUp(c);
  await reconciler.queue.idle();
  t.same(backend.calls, ['register h1:web:80']);
  reconciler.containerUp(c);
  await reconciler.queue.idle();
  t.same(backend.calls, ['register h1:web:80'], 'no second write');
});

t.test('changes made while the registry is down are kept and land, latest first-come order, when it is back', async (t) => {
  const { backend, reconciler } = setup(t);
  backend.down = true;
  const a = fixture('published', 'aaa', 'a');
  const b = fixture('published', 'bbb', 'b');
  reconciler.containerUp(a);
  reconciler.containerUp(b);
  reconciler.containerDown(a.Id, { exists: true, running: false, exitCode: 0 });
  t.equal(reconciler.queue.size, 2, 'one pending change per service');
  backend.down = false;
  await reconciler.queue.idle();
  t.same(backend.calls, ['deregister h1:a:80', 'register h1:b:80'], 'a superseded change never ran; order kept');
  t.same([...backend.store.keys()], ['h1:b:80']);
});

t.test('a change the registry refuses (4xx) is dropped, not retried forever', async (t) => {
  const { backend, reconciler } = setup(t);
  backend.reject = true;
  reconciler.containerUp(fixture('published', 'aaa', 'a'));
  await reconciler.queue.idle();
  t.equal(reconciler.queue.size, 0);
  t.same(backend.calls, []);
  t.ok(isRejection(new MusterError('ERR_BACKEND', 'x', { status: 400 })));
  t.notOk(isRejection(new MusterError('ERR_BACKEND', 'x', { status: 503 })));
  t.notOk(isRejection(new MusterError('ERR_UNKNOWN_CHECK', 'x')), '404 may pass later (the service is not there yet)');
});

t.test('-deregister on-success keeps a container that failed, and removes it when the container is destroyed', async (t) => {
  const { backend, reconciler } = setup(t, { deregister: 'on-success' });
  const failed = fixture('published', 'aaa', 'failed');
  const ok = fixture('published', 'bbb', 'ok');
  const killed = fixture('published', 'ccc', 'killed');
  for (const c of [failed, ok, killed]) reconciler.containerUp(c);
  await reconciler.queue.idle();
  reconciler.containerDown(failed.Id, { exists: true, running: false, exitCode: 1 });
  reconciler.containerDown(ok.Id, { exists: true, running: false, exitCode: 0 });
  reconciler.containerDown(killed.Id, { exists: true, running: false, exitCode: 137 });
  await reconciler.queue.idle();
  t.same([...backend.store.keys()], ['h1:failed:80'], 'exit 1 kept; exit 0 and SIGKILL removed');
  reconciler.containerDown(failed.Id, undefined);
  await reconciler.queue.idle();
  t.same([...backend.store.keys()], [], 'destroyed: removed');
});

t.test('reconcile registers what is missing, removes our dangling services, leaves others alone, writes nothing that is right', async (t) => {
  const { backend, reconciler } = setup(t);
  const running = fixture('published', 'aaa', 'web');
  reconciler.containerUp(running);
  await reconciler.queue.idle();
  // a service of ours whose container is gone, and one that belongs to someone else
  const gone = { ...backend.store.get('h1:web:80')! };
  gone.service = { ...gone.service, id: 'h1:old:80', meta: { [OWNER_META]: 'h1', [CONTAINER_META]: 'dead'.padEnd(64, '0') } };
  backend.store.set('h1:old:80', gone);
  const foreign = { ...gone, service: { ...gone.service, id: 'other', meta: {} } };
  backend.store.set('other', foreign);
  backend.calls.length = 0;

  const r = await reconciler.reconcile({ running: [running], exitOf: noExit });
  await reconciler.queue.idle();
  t.same(r, { registered: 0, removed: 1 });
  t.same(backend.calls, ['deregister h1:old:80'], 'the running one is not rewritten');
  t.same([...backend.store.keys()].sort(), ['h1:web:80', 'other']);
});

t.test('reconcile re-registers a service the registry lost or changed', async (t) => {
  const { backend, reconciler } = setup(t);
  const c = fixture('published', 'aaa', 'web');
  reconciler.containerUp(c);
  await reconciler.queue.idle();
  backend.store.clear(); // the registry restarted empty
  backend.calls.length = 0;
  const r = await reconciler.reconcile({ running: [c], exitOf: noExit });
  await reconciler.queue.idle();
  t.equal(r.registered, 1);
  t.same(backend.calls, ['register h1:web:80']);
});

t.test('-cleanup removes registrator-style services of this host whose container is not running', async (t) => {
  const { backend, reconciler } = setup(t, { cleanup: true });
  const c = fixture('published', 'aaa', 'web');
  reconciler.containerUp(c);
  await reconciler.queue.idle();
  const base = backend.store.get('h1:web:80')!;
  const plain = (id: string) => ({ ...base, service: { ...base.service, id, meta: {} } });
  for (const id of ['h1:gone:80', 'h1:web:81', 'h2:gone:80', 'custom-id']) backend.store.set(id, plain(id));
  await reconciler.reconcile({ running: [c], exitOf: noExit });
  await reconciler.queue.idle();
  t.same([...backend.store.keys()].sort(), ['custom-id', 'h1:web:80', 'h1:web:81', 'h2:gone:80'],
    'only h1:gone:80 goes: the name of a running container, another host and custom IDs stay (registrator rules)');
});

t.test('Docker health events update the health check; a removed service drops its pending update', async (t) => {
  const { backend, reconciler } = setup(t);
  const c = fixture('healthy', 'aaa', 'hc');
  reconciler.containerUp(c);
  await reconciler.queue.idle();
  const reg = [...backend.store.values()][0];
  const checkId = reg?.service.checks.find((x) => x.checkId?.endsWith(':docker-health'))?.checkId;
  t.ok(checkId, 'the service has a docker-health check');
  reconciler.healthChanged(c.Id, 'unhealthy');
  await reconciler.queue.idle();
  t.equal(backend.checks.get(checkId!), 'critical');
  backend.down = true;
  reconciler.healthChanged(c.Id, 'healthy');
  reconciler.containerDown(c.Id, { exists: true, running: false, exitCode: 0 });
  backend.down = false;
  await reconciler.queue.idle();
  t.equal(backend.checks.get(checkId!), 'critical', 'the stale health update never ran');
  t.same([...backend.store.keys()], []);
});

t.test('the op queue retries with back-off and stops on abort', async (t) => {
  const abort = new AbortController();
  const delays: number[] = [];
  let attempts = 0;
  const queue = new OpQueue({
    log: silentLogger(), signal: abort.signal, minDelayMs: 10, maxDelayMs: 40,
    sleep: (ms) => { delays.push(ms); return Promise.resolve(); },
  });
  queue.push('k', { describe: 'flaky', run: () => (++attempts < 5 ? Promise.reject(new Error('nope')) : Promise.resolve()) });
  await queue.idle();
  t.equal(attempts, 5);
  t.same(delays, [10, 20, 40, 40], 'doubling, capped');
  const stuck = new OpQueue({ log: silentLogger(), signal: abort.signal, sleep: () => new Promise(() => {}) });
  stuck.push('k', { describe: 'never', run: () => Promise.reject(new Error('down')) });
  abort.abort();
  await stuck.idle();
  t.pass('idle() returns once aborted');
});
