import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import type { KvTable } from '../../src/state/kv.js';
import { startApi, type CallResult, type InProcessApi } from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';

interface DirEntry { LockIndex: number; Key: string; Flags: number; Value: string | null; Session?: string; CreateIndex: number; ModifyIndex: number }

const LOCK_FLAG = '3304740253564472344';
const SEMAPHORE_FLAG = '16209093007834647008';

function entries(r: CallResult): DirEntry[] {
  return r.json() as DirEntry[];
}

function index(r: CallResult): number {
  return Number(r.headers.get('x-consul-index'));
}

async function put(api: InProcessApi, key: string, value = '', query = ''): Promise<CallResult> {
  return api.call('PUT', `/v1/kv/${key}${query ? `?${query}` : ''}`, value);
}

async function createSession(t: Test, api: InProcessApi, body: unknown = {}): Promise<string> {
  const r = await api.call('PUT', '/v1/session/create', body);
  t.equal(r.status, 200, 'session created');
  return (r.json() as { ID: string }).ID;
}

/** Counts calls to one KV read, so a test knows when a blocking query has read the store and is being held. */
function countCalls(kv: KvTable, method: 'keyIndex' | 'prefixIndex'): { count: () => number } {
  let calls = 0;
  const original = kv[method].bind(kv);
  (kv as unknown as Record<string, unknown>)[method] = (key: string) => { calls++; return original(key); };
  return { count: () => calls };
}

t.test('GET a single key', async (t) => {
  const api = await startApi(t);
  const w = await put(api, 'app/config', 'hello world', 'flags=42');
  t.equal(w.text, 'true');

  const r = await api.call('GET', '/v1/kv/app/config');
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/json/);
  const list = entries(r);
  t.equal(list.length, 1, 'an array with one entry');
  const e = list[0] as DirEntry;
  t.same(Object.keys(e), ['LockIndex', 'Key', 'Flags', 'Value', 'CreateIndex', 'ModifyIndex'], 'Consul\'s field order; no Session when unlocked');
  t.match(e, { LockIndex: 0, Key: 'app/config', Flags: 42 });
  t.equal(e.Value, Buffer.from('hello world').toString('base64'), 'base64 Value');
  t.equal(e.CreateIndex, e.ModifyIndex);
  t.equal(index(r), e.ModifyIndex, 'X-Consul-Index is the key\'s ModifyIndex');
  t.equal(r.headers.get('x-consul-knownleader'), 'true');
  t.equal(r.headers.get('x-consul-lastcontact'), '0');
});

t.test('an empty value is Value:null', async (t) => {
  const api = await startApi(t);
  await put(api, 'empty');
  const r = await api.call('GET', '/v1/kv/empty');
  t.match(r.text, /"Value":null/);
  t.equal(entries(r)[0]?.Value, null);
});

t.test('binary values round-trip through base64', async (t) => {
  const api = await startApi(t);
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a]);
  await api.call('PUT', '/v1/kv/bin', bytes);
  t.same(Buffer.from(entries(await api.call('GET', '/v1/kv/bin'))[0]?.Value ?? '', 'base64'), bytes);
  t.same(Buffer.from(await (await fetch(`${api.base}/v1/kv/bin?raw`)).arrayBuffer()), bytes, 'and through ?raw');
});

t.test('uint64 Flags appear in the JSON text exactly', async (t) => {
  const api = await startApi(t);
  for (const flags of [LOCK_FLAG, SEMAPHORE_FLAG, '18446744073709551615']) {
    t.test(flags, async (t) => {
      await put(api, `f/${flags}`, 'x', `flags=${flags}`);
      const one = await api.call('GET', `/v1/kv/f/${flags}`);
      t.ok(one.text.includes(`"Flags":${flags},`), `single GET text has "Flags":${flags}`);
      const many = await api.call('GET', `/v1/kv/f/${flags}?recurse`);
      t.ok(many.text.includes(`"Flags":${flags},`), 'recurse GET too');
    });
  }
  t.test('a flag above uint64 is a 400', async (t) => {
    const r = await put(api, 'f/big', 'x', 'flags=18446744073709551616');
    t.equal(r.status, 400);
  });
});

t.test('a missing key: 404, empty body, with X-Consul-Index', async (t) => {
  const api = await startApi(t);
  await put(api, 'other', 'x');
  const del = await api.call('DELETE', '/v1/kv/other');
  t.equal(del.status, 200);
  for (const path of ['/v1/kv/missing', '/v1/kv/missing?raw', '/v1/kv/missing/?recurse', '/v1/kv/missing/?keys']) {
    t.test(path, async (t) => {
      const r = await api.call('GET', path);
      t.equal(r.status, 404);
      t.equal(r.text, '');
      t.match(r.headers.get('x-consul-index'), /^\d+$/);
      t.ok(index(r) >= 1, 'never 0');
    });
  }
  t.test('the index of a missing key is the table index, which moved on the delete', async (t) => {
    const r = await api.call('GET', '/v1/kv/missing');
    t.equal(index(r), api.agent.store!.kv.index);
  });
});

t.test('?recurse lists every key with the prefix, ascending', async (t) => {
  const api = await startApi(t);
  for (const k of ['web/b', 'web/a', 'webby', 'db/x', 'web/a/deep']) await put(api, k, k);
  const r = await api.call('GET', '/v1/kv/web?recurse');
  t.equal(r.status, 200);
  t.same(entries(r).map((e) => e.Key), ['web/a', 'web/a/deep', 'web/b', 'webby']);
  t.equal(index(r), Math.max(...entries(r).map((e) => e.ModifyIndex)), 'the highest ModifyIndex under the prefix');
  const all = await api.call('GET', '/v1/kv/?recurse');
  t.same(entries(all).map((e) => e.Key), ['db/x', 'web/a', 'web/a/deep', 'web/b', 'webby'], 'an empty prefix lists everything');
  for (const v of ['recurse=true', 'recurse=1', 'recurse=', 'recurse=false']) {
    t.equal(entries(await api.call('GET', `/v1/kv/web/?${v}`)).length, 3, `?${v} counts by presence`);
  }
});

t.test('?keys', async (t) => {
  const api = await startApi(t);
  for (const k of ['web/bar', 'web/foo', 'web/subdir/a', 'web/subdir/b', 'web2']) await put(api, k);
  const cases: Array<[string, string[]]> = [
    ['/v1/kv/web/?keys', ['web/bar', 'web/foo', 'web/subdir/a', 'web/subdir/b']],
    ['/v1/kv/web/?keys&separator=/', ['web/bar', 'web/foo', 'web/subdir/']],
    ['/v1/kv/web/?keys&seperator=/', ['web/bar', 'web/foo', 'web/subdir/']],
    ['/v1/kv/?keys&separator=/', ['web/', 'web2']],
    ['/v1/kv/web?keys=true&separator=/', ['web/', 'web2']],
  ];
  for (const [path, want] of cases) {
    t.test(path, async (t) => {
      const r = await api.call('GET', path);
      t.equal(r.status, 200);
      t.same(r.json(), want);
    });
  }
  t.test('an empty store with an empty prefix is [] with 200', async (t) => {
    const empty = await startApi(t);
    const r = await empty.call('GET', '/v1/kv/?keys');
    t.equal(r.status, 200);
    t.equal(r.text, '[]');
    t.ok(index(r) >= 1);
  });
  t.test('a non-empty prefix with no keys is 404', async (t) => {
    t.equal((await api.call('GET', '/v1/kv/nope/?keys')).status, 404);
  });
});

t.test('?raw answers the bytes as text/plain', async (t) => {
  const api = await startApi(t);
  await put(api, 'page', '<b>hi</b>');
  const r = await api.call('GET', '/v1/kv/page?raw');
  t.equal(r.status, 200);
  t.equal(r.text, '<b>hi</b>');
  t.match(r.headers.get('content-type'), /^text\/plain/);
  t.equal(r.headers.get('x-content-type-options'), 'nosniff');
  t.ok(index(r) >= 1);
});

t.test('PUT', async (t) => {
  t.test('answers true as JSON', async (t) => {
    const api = await startApi(t);
    const r = await put(api, 'k', 'v');
    t.equal(r.status, 200);
    t.equal(r.text, 'true');
    t.match(r.headers.get('content-type'), /^application\/json/);
    t.equal((await api.call('POST', '/v1/kv/k2', 'v')).text, 'true', 'POST too');
  });

  t.test('?cas=0 creates only; ?cas=N needs the ModifyIndex', async (t) => {
    const api = await startApi(t);
    t.equal((await put(api, 'k', 'first', 'cas=0')).text, 'true');
    t.equal((await put(api, 'k', 'second', 'cas=0')).text, 'false');
    const e = entries(await api.call('GET', '/v1/kv/k'))[0] as DirEntry;
    t.equal(Buffer.from(e.Value ?? '', 'base64').toString(), 'first');
    t.equal((await put(api, 'k', 'stale', `cas=${e.ModifyIndex + 1}`)).text, 'false');
    t.equal((await put(api, 'k', 'third', `cas=${e.ModifyIndex}`)).text, 'true');
    t.equal((await api.call('GET', '/v1/kv/k?raw')).text, 'third');
  });

  t.test('?acquire and ?release', async (t) => {
    const api = await startApi(t);
    const s1 = await createSession(t, api);
    const s2 = await createSession(t, api);
    t.equal((await put(api, 'lock', 'mine', `acquire=${s1}&flags=${LOCK_FLAG}`)).text, 'true');
    const held = await api.call('GET', '/v1/kv/lock');
    t.match(entries(held)[0], { LockIndex: 1, Session: s1 });
    t.ok(held.text.includes(`"Session":"${s1}"`), 'Session present while held');
    t.equal((await put(api, 'lock', 'theirs', `acquire=${s2}`)).text, 'false', 'another session is refused');
    t.equal((await put(api, 'lock', 'x', `release=${s2}`)).text, 'false', 'a non-holder cannot release');
    t.equal((await put(api, 'lock', 'released', `release=${s1}&flags=${LOCK_FLAG}`)).text, 'true');
    const free = await api.call('GET', '/v1/kv/lock');
    t.notOk(free.text.includes('"Session"'), 'Session omitted once released');
    t.ok(free.text.includes(`"LockIndex":1,`), 'LockIndex kept');
    t.equal((await put(api, 'lock', 'theirs', `acquire=${s2}`)).text, 'true', 'a release leaves no lock-delay');
  });

  const errors: Array<{ name: string; method?: string; path: string; body?: string; status: number; text: string | RegExp }> = [
    { name: '?acquire with an unknown session', path: '/v1/kv/k?acquire=00000000-0000-0000-0000-000000000000', status: 500, text: 'invalid session "00000000-0000-0000-0000-000000000000"' },
    { name: '?release with an empty session', path: '/v1/kv/k?release=', status: 500, text: 'missing session' },
    { name: '?acquire with an empty session', path: '/v1/kv/k?acquire=', status: 500, text: 'missing session' },
    { name: '?cas with ?acquire', path: '/v1/kv/k?cas=0&acquire=abc', status: 400, text: /^Conflicting flags: / },
    { name: '?acquire with ?release', path: '/v1/kv/k?acquire=a&release=a', status: 400, text: /^Conflicting flags: / },
    { name: '?flags=abc', path: '/v1/kv/k?flags=abc', status: 400, text: /./ },
    { name: '?flags=-1', path: '/v1/kv/k?flags=-1', status: 400, text: /./ },
    { name: '?cas=abc', path: '/v1/kv/k?cas=abc', status: 400, text: /./ },
    { name: 'an empty key', path: '/v1/kv/', status: 400, text: 'Missing key name' },
    { name: 'no key at all', path: '/v1/kv', status: 400, text: 'Missing key name' },
    { name: 'an empty key with GET', method: 'GET', path: '/v1/kv/', status: 400, text: 'Missing key name' },
    { name: 'an empty key with DELETE', method: 'DELETE', path: '/v1/kv/', status: 400, text: 'Missing key name' },
    { name: 'DELETE ?recurse with ?cas', method: 'DELETE', path: '/v1/kv/a?recurse&cas=1', status: 400, text: /^Conflicting flags: / },
  ];
  for (const c of errors) {
    t.test(`${c.status}: ${c.name}`, async (t) => {
      const api = await startApi(t);
      await put(api, 'k', 'before');
      const before = api.agent.store!.kv.dump();
      const r = await api.call(c.method ?? 'PUT', c.path, c.method === 'GET' || c.method === 'DELETE' ? undefined : (c.body ?? 'v'));
      t.equal(r.status, c.status);
      if (typeof c.text === 'string') t.equal(r.text, c.text); else t.match(r.text, c.text);
      t.match(r.headers.get('content-type'), /^text\/plain/);
      t.same(api.agent.store!.kv.dump(), before, 'state untouched');
    });
  }

  t.test('a value of 512 KiB is fine, one byte more is 413', async (t) => {
    const api = await startApi(t);
    const max = 512 * 1024;
    t.equal((await api.call('PUT', '/v1/kv/big', Buffer.alloc(max, 0x61))).text, 'true');
    const r = await api.call('PUT', '/v1/kv/bigger', Buffer.alloc(max + 1, 0x61));
    t.equal(r.status, 413);
    t.ok(r.text.startsWith(`Request body(${max + 1} bytes) too large, max size: ${max} bytes.`), r.text);
    t.equal((await api.call('GET', '/v1/kv/bigger')).status, 404, 'not stored');
  });
});

t.test('DELETE', async (t) => {
  t.test('a key: true, even when missing', async (t) => {
    const api = await startApi(t);
    await put(api, 'k');
    const r = await api.call('DELETE', '/v1/kv/k');
    t.equal(r.status, 200);
    t.equal(r.text, 'true');
    t.equal((await api.call('GET', '/v1/kv/k')).status, 404);
    t.equal((await api.call('DELETE', '/v1/kv/k')).text, 'true');
  });

  t.test('?recurse deletes the prefix and nothing else', async (t) => {
    const api = await startApi(t);
    for (const k of ['app/a', 'app/b/c', 'apple']) await put(api, k);
    t.equal((await api.call('DELETE', '/v1/kv/app/?recurse')).text, 'true');
    t.same((await api.call('GET', '/v1/kv/?keys')).json(), ['apple']);
    t.equal((await api.call('DELETE', '/v1/kv/?recurse')).text, 'true', 'an empty prefix wipes everything');
    t.equal((await api.call('GET', '/v1/kv/?keys')).text, '[]');
  });

  t.test('?cas deletes only at the current ModifyIndex; 0 never deletes', async (t) => {
    const api = await startApi(t);
    await put(api, 'k');
    const idx = entries(await api.call('GET', '/v1/kv/k'))[0]?.ModifyIndex ?? 0;
    t.equal((await api.call('DELETE', '/v1/kv/k?cas=0')).text, 'false');
    t.equal((await api.call('DELETE', `/v1/kv/k?cas=${idx + 1}`)).text, 'false');
    t.equal((await api.call('GET', '/v1/kv/k')).status, 200, 'still there');
    t.equal((await api.call('DELETE', `/v1/kv/k?cas=${idx}`)).text, 'true');
    t.equal((await api.call('GET', '/v1/kv/k')).status, 404);
  });

  t.test('a held key can be deleted', async (t) => {
    const api = await startApi(t);
    const s = await createSession(t, api);
    await put(api, 'lock', '', `acquire=${s}`);
    t.equal((await api.call('DELETE', '/v1/kv/lock')).text, 'true');
    t.equal((await api.call('GET', '/v1/kv/lock')).status, 404);
  });
});

t.test('blocking queries', async (t) => {
  t.test('on a missing key: wakes when the key is created', async (t) => {
    const api = await startApi(t);
    const first = await api.call('GET', '/v1/kv/wanted');
    t.equal(first.status, 404);
    const calls = countCalls(api.agent.store!.kv, 'keyIndex');
    const started = performance.now();
    const pending = api.call('GET', `/v1/kv/wanted?index=${index(first)}&wait=10s`);
    await waitFor(() => calls.count() >= 1, { message: 'the query never read the store' });
    // a catalog write re-checks the query but does not move the KV index (a KV write would: a
    // missing key reports the table index, as in Consul)
    await api.call('PUT', '/v1/agent/service/register', { Name: 'unrelated' });
    await waitFor(() => calls.count() >= 2, { message: 'the unrelated write did not re-check the query' });
    await put(api, 'wanted', 'here');
    const r = await pending;
    t.equal(r.status, 200);
    t.equal(Buffer.from(entries(r)[0]?.Value ?? '', 'base64').toString(), 'here');
    t.ok(index(r) > index(first), 'a newer index');
    t.ok(performance.now() - started < 5000, 'long before the 10 s wait (sanity bound)');
  });

  t.test('on a prefix: wakes on a delete inside it', async (t) => {
    const api = await startApi(t);
    await put(api, 'svc/a', 'a');
    await put(api, 'svc/b', 'b');
    await put(api, 'elsewhere', 'e');
    const first = await api.call('GET', '/v1/kv/svc/?recurse');
    const calls = countCalls(api.agent.store!.kv, 'prefixIndex');
    const pending = api.call('GET', `/v1/kv/svc/?recurse&index=${index(first)}&wait=10s`);
    await waitFor(() => calls.count() >= 1, { message: 'the query never read the store' });
    await api.call('DELETE', '/v1/kv/svc/a');
    const r = await pending;
    t.equal(r.status, 200);
    t.same(entries(r).map((e) => e.Key), ['svc/b']);
    t.ok(index(r) > index(first), 'the tombstone moved the prefix index');
  });

  t.test('on a prefix: a write elsewhere does not end it', async (t) => {
    const api = await startApi(t);
    await put(api, 'svc/a', 'a');
    const first = await api.call('GET', '/v1/kv/svc/?keys');
    const calls = countCalls(api.agent.store!.kv, 'prefixIndex');
    const pending = api.call('GET', `/v1/kv/svc/?keys&index=${index(first)}&wait=300ms`);
    await waitFor(() => calls.count() >= 1, { message: 'the query never read the store' });
    await put(api, 'elsewhere', 'e');
    await waitFor(() => calls.count() >= 2, { message: 'the write did not re-check the query' });
    const r = await pending;
    t.equal(index(r), index(first), 'same index after the wait');
    t.same(r.json(), ['svc/a']);
  });

  t.test('a lock release wakes a watcher of the key (what a waiting Lock does)', async (t) => {
    const api = await startApi(t);
    const s = await createSession(t, api);
    await put(api, 'lock', '', `acquire=${s}&flags=${LOCK_FLAG}`);
    const held = await api.call('GET', '/v1/kv/lock');
    const pending = api.call('GET', `/v1/kv/lock?index=${index(held)}&wait=10s`);
    await api.call('PUT', `/v1/session/destroy/${s}`);
    const r = await pending;
    t.notOk(r.text.includes('"Session"'), 'the lock is free');
    t.ok(index(r) > index(held));
  });
});
