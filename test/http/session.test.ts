import t, { type Test } from 'tap';
import { Sessions, validateTtl, type SessionRequest } from '../../src/agent/sessions.js';
import { LocalWriter } from '../../src/agent/writer.js';
import { silentLogger } from '../../src/log.js';
import { StateStore } from '../../src/state/store.js';
import { FakeTimers } from '../health/fake-timers.js';
import { NODE, startApi, type CallResult, type InProcessApi } from '../helpers/in-process.js';

interface SessionJson {
  ID: string; Name: string; Node: string; Checks: string[]; NodeChecks: string[]; ServiceChecks: unknown;
  LockDelay: number; Behavior: string; TTL: string; CreateIndex: number; ModifyIndex: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function create(t: Test, api: InProcessApi, body?: unknown): Promise<string> {
  const r = await api.call('PUT', '/v1/session/create', body);
  t.equal(r.status, 200, `created: ${r.text}`);
  return (r.json() as { ID: string }).ID;
}

async function info(api: InProcessApi, id: string): Promise<SessionJson | undefined> {
  const r = await api.call('GET', `/v1/session/info/${id}`);
  return (r.json() as SessionJson[])[0];
}

function sessions(r: CallResult): SessionJson[] {
  return r.json() as SessionJson[];
}

t.test('create', async (t) => {
  t.test('an empty body gives Consul\'s defaults', async (t) => {
    const api = await startApi(t);
    const r = await api.call('PUT', '/v1/session/create');
    t.equal(r.status, 200);
    const body = r.json() as { ID: string };
    t.same(Object.keys(body), ['ID']);
    t.match(body.ID, UUID);
    const s = await info(api, body.ID);
    t.same(s, {
      ID: body.ID, Name: '', Node: NODE, Checks: ['serfHealth'], NodeChecks: ['serfHealth'], ServiceChecks: null,
      LockDelay: 15_000_000_000, Behavior: 'release', TTL: '',
      CreateIndex: s?.CreateIndex, ModifyIndex: s?.CreateIndex,
    });
    t.ok((s?.CreateIndex ?? 0) > 0);
  });

  t.test('fields are matched case-insensitively', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { name: 'my-lock', behavior: 'delete', ttl: '30s', lock_delay: '5s' });
    t.match(await info(api, id), { Name: 'my-lock', Behavior: 'delete', TTL: '30s', LockDelay: 5_000_000_000 });
  });

  t.test('LockDelay: a number below 1000 is seconds, above is nanoseconds, a string is a duration', async (t) => {
    const api = await startApi(t);
    const cases: Array<[unknown, number]> = [
      [15, 15_000_000_000],
      ['15s', 15_000_000_000],
      [15_000_000_000, 15_000_000_000],
      ['500ms', 500_000_000],
      [0, 0],
      ['0s', 0],
    ];
    for (const [lockDelay, ns] of cases) {
      const id = await create(t, api, { LockDelay: lockDelay });
      t.equal((await info(api, id))?.LockDelay, ns, `LockDelay ${JSON.stringify(lockDelay)} → ${ns} ns`);
    }
  });

  t.test('Checks replace the default list, even when empty', async (t) => {
    const api = await startApi(t);
    await api.call('PUT', '/v1/agent/check/register', { ID: 'app', Name: 'app', TTL: '30s', Status: 'passing' });
    const both = await create(t, api, { Checks: ['serfHealth', 'app'] });
    t.match(await info(api, both), { Checks: ['serfHealth', 'app'], NodeChecks: ['serfHealth', 'app'] });
    const none = await create(t, api, { Checks: [] });
    t.match(await info(api, none), { Checks: [], NodeChecks: [] });
  });

  const refused: Array<{ name: string; body: unknown; status: number; text: string | RegExp }> = [
    { name: 'a Behavior other than release|delete', body: { Behavior: 'explode' }, status: 400, text: "Invalid Behavior setting 'explode'" },
    { name: 'TTL below 10s', body: { TTL: '5s' }, status: 400, text: /^Invalid Session TTL '5000000000', must be between \[10s=24h0m0s\]/ },
    { name: 'TTL above 24h', body: { TTL: '25h' }, status: 400, text: /^Invalid Session TTL / },
    { name: 'a TTL that does not parse', body: { TTL: 'bogus' }, status: 400, text: /^Session TTL 'bogus' invalid/ },
    { name: 'a negative TTL', body: { TTL: '-30s' }, status: 400, text: /^Invalid Session TTL / },
    { name: 'a node not in the catalog', body: { Node: 'ghost' }, status: 500, text: 'Missing node registration' },
    { name: 'an unknown check', body: { Checks: ['serfHealth', 'nope'] }, status: 500, text: "Missing check 'nope' registration" },
    { name: 'malformed JSON', body: '{"Name":', status: 400, text: /^Request decode failed: / },
    { name: 'a body that is not an object', body: '[1]', status: 400, text: /^Request decode failed: / },
    { name: 'a bad LockDelay', body: { LockDelay: 'soon' }, status: 400, text: /^Request decode failed: / },
  ];
  for (const c of refused) {
    t.test(`refused: ${c.name}`, async (t) => {
      const api = await startApi(t);
      const r = await api.call('PUT', '/v1/session/create', c.body);
      t.equal(r.status, c.status);
      if (typeof c.text === 'string') t.equal(r.text, c.text); else t.match(r.text, c.text);
      t.same(sessions(await api.call('GET', '/v1/session/list')), [], 'no session was created');
    });
  }
});

t.test('renew', async (t) => {
  t.test('answers an array with the one session', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { TTL: '15s', Name: 'renewed' });
    const r = await api.call('PUT', `/v1/session/renew/${id}`);
    t.equal(r.status, 200);
    const list = sessions(r);
    t.equal(list.length, 1);
    t.match(list[0], { ID: id, Name: 'renewed', TTL: '15s' });
  });

  t.test('an unknown session is 404 with Consul\'s text', async (t) => {
    const api = await startApi(t);
    const id = 'adf4238a-882b-9ddc-4a9d-5b6758e4159e';
    const r = await api.call('PUT', `/v1/session/renew/${id}`);
    t.equal(r.status, 404);
    t.equal(r.text, `Session id '${id}' not found`);
  });

  t.test('a destroyed session is 404 too', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { TTL: '15s' });
    await api.call('PUT', `/v1/session/destroy/${id}`);
    t.equal((await api.call('PUT', `/v1/session/renew/${id}`)).status, 404);
  });
});

t.test('reads', async (t) => {
  t.test('info of an unknown session is [] with an index', async (t) => {
    const api = await startApi(t);
    const r = await api.call('GET', '/v1/session/info/adf4238a-882b-9ddc-4a9d-5b6758e4159e');
    t.equal(r.status, 200);
    t.equal(r.text, '[]');
    t.ok(Number(r.headers.get('x-consul-index')) >= 1);
  });

  t.test('list and node list every session, node only its own', async (t) => {
    const api = await startApi(t);
    t.equal((await api.call('GET', '/v1/session/list')).text, '[]', 'none yet: []');
    const a = await create(t, api, { Name: 'a' });
    const b = await create(t, api, { Name: 'b' });
    const list = await api.call('GET', '/v1/session/list');
    t.equal(list.status, 200);
    t.same(sessions(list).map((s) => s.ID).sort(), [a, b].sort());
    t.equal(Number(list.headers.get('x-consul-index')), Math.max(...sessions(list).map((s) => s.ModifyIndex)));
    t.same(sessions(await api.call('GET', `/v1/session/node/${NODE}`)).map((s) => s.ID).sort(), [a, b].sort());
    const other = await api.call('GET', '/v1/session/node/other-node');
    t.equal(other.status, 200);
    t.equal(other.text, '[]');
  });

  t.test('a blocking list wakes when a session is created', async (t) => {
    const api = await startApi(t);
    const first = await api.call('GET', '/v1/session/list');
    const pending = api.call('GET', `/v1/session/list?index=${first.headers.get('x-consul-index')}&wait=10s`);
    const id = await create(t, api);
    const r = await pending;
    t.same(sessions(r).map((s) => s.ID), [id]);
  });
});

t.test('destroy', async (t) => {
  t.test('answers true, removes the session and releases its keys', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { LockDelay: 0 });
    t.equal((await api.call('PUT', `/v1/kv/lock?acquire=${id}`, 'v')).text, 'true');
    const r = await api.call('PUT', `/v1/session/destroy/${id}`);
    t.equal(r.status, 200);
    t.equal(r.text, 'true');
    t.equal((await api.call('GET', `/v1/session/info/${id}`)).text, '[]');
    const key = await api.call('GET', '/v1/kv/lock');
    t.notOk(key.text.includes('"Session"'), 'the key is released');
    t.ok(key.text.includes('"LockIndex":1,'), 'LockIndex kept');
    const other = await create(t, api);
    t.equal((await api.call('PUT', `/v1/kv/lock?acquire=${other}`, 'v')).text, 'true', 'LockDelay 0: free at once');
  });

  t.test('honours the lock-delay: another session is refused right after', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { LockDelay: '60s' });
    await api.call('PUT', `/v1/kv/lock?acquire=${id}`, 'v');
    await api.call('PUT', `/v1/session/destroy/${id}`);
    const other = await create(t, api);
    t.equal((await api.call('PUT', `/v1/kv/lock?acquire=${other}`, 'v')).text, 'false');
  });

  t.test('behavior delete deletes its keys', async (t) => {
    const api = await startApi(t);
    const id = await create(t, api, { Behavior: 'delete' });
    await api.call('PUT', `/v1/kv/sem/${id}?acquire=${id}`, 'v');
    await api.call('PUT', `/v1/session/destroy/${id}`);
    t.equal((await api.call('GET', `/v1/kv/sem/${id}`)).status, 404);
  });

  t.test('an unknown id is fine; a missing one is 400', async (t) => {
    const api = await startApi(t);
    t.equal((await api.call('PUT', '/v1/session/destroy/adf4238a-882b-9ddc-4a9d-5b6758e4159e')).text, 'true');
    const r = await api.call('PUT', '/v1/session/destroy/');
    t.equal(r.status, 400);
    t.equal(r.text, 'Missing session');
  });
});

t.test('TTL timers on the leader (fake timers, fired by hand)', async (t) => {
  function setup() {
    const store = new StateStore();
    let now = 1_000_000;
    const writer = new LocalWriter(store, { now: () => now });
    const timers = new FakeTimers();
    const s = new Sessions(store, writer, silentLogger(), timers);
    const ready = writer.write({
      type: 'register', node: 'n1', id: 'id-n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {},
      nodeMeta: {}, skipNodeUpdate: false,
      checks: [{ checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', notes: '', output: '', serviceId: '', type: '', definition: {} }],
    });
    const req = (extra: Partial<SessionRequest> = {}): SessionRequest => ({
      name: '', node: 'n1', nodeChecks: ['serfHealth'], serviceChecks: [], lockDelayMs: 15_000, behavior: 'release', ttl: '', ...extra,
    });
    return { store, writer, timers, sessions: s, ready, req, setNow: (ms: number) => { now = ms; } };
  }

  t.test('create arms 2 × TTL; firing writes a session-destroy that releases the keys with a lock-delay', async (t) => {
    const { store, writer, timers, sessions: s, ready, req, setNow } = setup();
    await ready;
    const id = await s.create(req({ ttl: '10s' }));
    t.same(timers.pending().map((p) => p.ms), [20_000], 'one timer of 2 × 10 s');
    await writer.write({ type: 'kv', verb: 'lock', key: 'lock', session: id });
    setNow(2_000_000);
    const before = store.index;
    t.equal(timers.fire(), 1);
    t.equal(store.index, before + 1, 'one command written');
    t.equal(store.sessions.get(id), undefined, 'the session is gone');
    t.equal(store.kv.get('lock')?.session, '', 'its lock is released');
    t.equal(store.kv.lockDelayUntil('lock'), 2_015_000, 'lock-delay from the expiry time');
    t.same(timers.pending(), []);
  });

  t.test('renew re-arms a full timer in place of the old one', async (t) => {
    const { timers, sessions: s, ready, req, store } = setup();
    await ready;
    const id = await s.create(req({ ttl: '30s' }));
    const [first] = timers.pending();
    const row = s.renew(id);
    t.equal(row.id, id);
    const after = timers.pending();
    t.equal(after.length, 1, 'still one timer');
    t.not(after[0]?.id, first?.id, 'a new timer');
    t.equal(after[0]?.ms, 60_000);
    t.ok(store.sessions.get(id), 'the session lives on');
  });

  t.test('renew of an unknown session throws ERR_SESSION_NOT_FOUND (404) and arms nothing', async (t) => {
    const { timers, sessions: s, ready } = setup();
    await ready;
    t.throws(() => s.renew('nope'), { code: 'ERR_SESSION_NOT_FOUND', status: 404, message: "Session id 'nope' not found" });
    t.same(timers.pending(), []);
  });

  t.test('no TTL, no timer; destroy disarms', async (t) => {
    const { timers, sessions: s, ready, req, store } = setup();
    await ready;
    await s.create(req());
    t.same(timers.pending(), [], 'no TTL: nothing armed');
    const id = await s.create(req({ ttl: '10s' }));
    t.equal(timers.pending().length, 1);
    await s.destroy(id);
    t.same(timers.pending(), [], 'destroy cleared the timer');
    t.equal(store.sessions.get(id), undefined);
  });

  t.test('a timer that fires after the session is already gone writes nothing', async (t) => {
    const { timers, sessions: s, ready, req, store, writer } = setup();
    await ready;
    await s.create(req({ ttl: '10s' }));
    await writer.write({ type: 'deregister', node: 'n1' }); // invalidates it without the timer knowing
    const before = store.index;
    t.equal(timers.fire(), 1);
    t.equal(store.index, before, 'no command');
  });

  t.test('armAll (a restart or a new leader) gives every TTL session a full timer; stop clears them', async (t) => {
    const { timers, sessions: s, ready, req, store, writer } = setup();
    await ready;
    await writer.write({ type: 'session-create', session: { ...req({ ttl: '10s' }), id: 'a' } });
    await writer.write({ type: 'session-create', session: { ...req({ ttl: '1m' }), id: 'b' } });
    await writer.write({ type: 'session-create', session: { ...req(), id: 'c' } });
    t.same(timers.pending(), [], 'written directly: nothing armed yet');
    s.armAll();
    t.same(timers.pending().map((p) => p.ms).sort((x, y) => x - y), [20_000, 120_000]);
    s.stop();
    t.same(timers.pending(), []);
    t.equal(store.sessions.size, 3, 'stopping destroys nothing');
  });

  t.test('validateTtl', async (t) => {
    for (const ok of ['', '0s', '0', '10s', '15s', '24h', '86400s', '1h30m']) {
      t.doesNotThrow(() => validateTtl(ok), `${JSON.stringify(ok)} is accepted`);
    }
    for (const bad of ['9s', '9999ms', '25h', '86401s', '-10s', 'bogus', '10', '1x']) {
      t.throws(() => validateTtl(bad), { code: 'ERR_SESSION_INVALID_INPUT', status: 400 }, `${JSON.stringify(bad)} is refused`);
    }
  });
});
