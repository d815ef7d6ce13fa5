// Blocking-query watches: Consul's index rules and back-off on a scripted query,
// then waking on change and stopping on abort against a real agent.
import t from 'tap';
import { startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { MusterClient, MusterError, watch, watchKey, watchPrefix, watchPath, backoffDelayMs, retryOptions, type Indexed, type WatchEvent } from '../../src/client/index.js';

/** A query that answers from a script and records the index it was asked with. */
function scripted<T>(answers: Array<Indexed<T> | Error>) {
  const asked: number[] = [];
  const query = async (q: { index: number }) => {
    asked.push(q.index);
    const next = answers.shift();
    if (next === undefined) throw new MusterError('ERR_API', 'script over', { status: 400 });
    if (next instanceof Error) throw next;
    return next;
  };
  return { asked, query };
}

const meta = (index: number) => ({ index, knownLeader: true, lastContactMs: 0 });

async function collect<T>(gen: AsyncGenerator<WatchEvent<T>>, max = 100): Promise<{ events: Array<WatchEvent<T>>; err?: unknown }> {
  const events: Array<WatchEvent<T>> = [];
  try {
    for await (const e of gen) {
      events.push(e);
      if (events.length >= max) break;
    }
  } catch (err) {
    return { events, err };
  }
  return { events };
}

t.test('index rules', async (t) => {
  const { asked, query } = scripted<string>([
    { value: 'a', meta: meta(5) },
    { value: 'a', meta: meta(5) }, // wait ended, nothing changed: not yielded
    { value: 'b', meta: meta(7) },
    { value: 'c', meta: meta(3) }, // went backwards: restart from 0, not yielded
    { value: 'c', meta: meta(3) }, // the answer to index 0: yielded as new
    { value: 'd', meta: meta(0) }, // 0 after 3: backwards too, restart
    { value: 'd', meta: meta(0) }, // a confused server answers 0 again: yielded, and the next request says 1
    { value: 'd', meta: meta(1) }, // unchanged
  ]);
  const ac = new AbortController();
  const { events, err } = await collect(watch(query, { signal: ac.signal, sleep: async () => {} }));
  t.same(events.map((e) => e.value), ['a', 'b', 'c', 'd'], 'yields the first answer and each change');
  t.same(asked, [0, 5, 5, 7, 0, 3, 0, 1, 1], 'indexes sent: 0 first, 0 again after going backwards, never 0 otherwise');
  t.match(err, { code: 'ERR_API', status: 400 }, 'a 4xx ends the watch with its error');
});

t.test('back-off on errors, p-retry style, with the injected sleep', async (t) => {
  const fail = () => new MusterError('ERR_UNREACHABLE', 'down');
  const { query } = scripted<string>([fail(), fail(), fail(), { value: 'up', meta: meta(2) }, fail()]);
  const slept: number[] = [];
  const errors: number[] = [];
  const ac = new AbortController();
  const { events } = await collect(watch(query, {
    signal: ac.signal,
    retry: { minTimeoutMs: 100, factor: 2, maxTimeoutMs: 300 },
    sleep: async (ms) => { slept.push(ms); },
    onError: (_err, ctx) => { errors.push(ctx.attempt); },
  }), 1);
  t.same(events.map((e) => e.value), ['up']);
  t.same(slept, [100, 200, 300], 'delays grow by the factor up to the cap');
  t.same(errors, [1, 2, 3], 'each failure reported');

  const limited = scripted<string>([fail(), fail()]);
  const res = await collect(watch(limited.query, { signal: ac.signal, retry: { retries: 1, minTimeoutMs: 1 }, sleep: async () => {} }));
  t.match(res.err, { code: 'ERR_UNREACHABLE' }, 'gives up after retry.retries');

  const o = retryOptions({ minTimeoutMs: 1000, maxTimeoutMs: 30_000, randomize: true });
  t.equal(backoffDelayMs(1, o, () => 0.5), 1500, 'randomize multiplies by 1 + random()');
  t.equal(backoffDelayMs(10, o, () => 0), 30_000, 'capped');
  t.throws(() => retryOptions({ factor: -1 }), { code: 'ERR_CONFIG' });
});

t.test('abort during the back-off ends the watch quietly', async (t) => {
  const ac = new AbortController();
  const query = async () => { throw new MusterError('ERR_UNREACHABLE', 'down'); };
  const gen = watch<string>(query, {
    signal: ac.signal,
    sleep: (ms, signal) => new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
    }),
    retry: { minTimeoutMs: 60_000, maxTimeoutMs: 60_000 },
  });
  setTimeout(() => ac.abort(), 50);
  const started = Date.now();
  const { events, err } = await collect(gen);
  t.same(events, []);
  t.equal(err, undefined, 'no error');
  t.ok(Date.now() - started < 5000, 'did not wait out the back-off');
});

t.test('against an agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const client = new MusterClient({ address: agent.url });

  t.test('watchKey wakes on change and stops on abort', async (t) => {
    const ac = new AbortController();
    const seen: Array<string | undefined> = [];
    const done = (async () => {
      for await (const e of watchKey(client, 'w/key', { signal: ac.signal, waitMs: 60_000 })) seen.push(e.value?.value.toString());
    })();
    await waitFor(() => seen.length === 1, { timeoutMs: 5000, message: 'the first answer' });
    t.same(seen, [undefined], 'a missing key: undefined');
    await client.kv.put('w/key', 'one');
    await waitFor(() => seen.length === 2, { timeoutMs: 5000, message: 'woken by the put' });
    await client.kv.put('w/other', 'not watched');
    await client.kv.put('w/key', 'two');
    await waitFor(() => seen.length === 3, { timeoutMs: 5000, message: 'woken by the second put' });
    t.same(seen, [undefined, 'one', 'two'], 'each value once; another key does not show');
    await client.kv.delete('w/key');
    await waitFor(() => seen.length === 4, { timeoutMs: 5000, message: 'woken by the delete' });
    t.equal(seen[3], undefined, 'deleted');
    const stopping = Date.now();
    ac.abort();
    await done;
    t.ok(Date.now() - stopping < 2000, `the blocked request (wait 60s) ended at once (${Date.now() - stopping} ms)`);
  });

  t.test('watchPrefix sees puts and deletes under the prefix', async (t) => {
    const ac = new AbortController();
    const seen: string[][] = [];
    const done = (async () => {
      for await (const e of watchPrefix(client, 'wp/', { signal: ac.signal, waitMs: 60_000 })) seen.push(e.value.map((p) => p.key));
    })();
    await waitFor(() => seen.length === 1, { timeoutMs: 5000 });
    await client.kv.put('wp/a', '1');
    await waitFor(() => seen.at(-1)?.length === 1, { timeoutMs: 5000, message: 'wp/a seen' });
    await client.kv.put('wp/b', '2');
    await waitFor(() => seen.at(-1)?.length === 2, { timeoutMs: 5000, message: 'wp/b seen' });
    await client.kv.delete('wp/a');
    await waitFor(() => seen.at(-1)?.length === 1 && seen.at(-1)?.[0] === 'wp/b', { timeoutMs: 5000, message: 'the delete seen' });
    ac.abort();
    await done;
    t.same(seen[0], [], 'starts empty');
  });

  t.test('watchPath follows a catalog read', async (t) => {
    const ac = new AbortController();
    const seen: Array<Record<string, string[]>> = [];
    const done = (async () => {
      for await (const e of watchPath<Record<string, string[]>>(client, '/v1/catalog/services', { signal: ac.signal, waitMs: 60_000 })) seen.push(e.value);
    })();
    await waitFor(() => seen.length === 1, { timeoutMs: 5000 });
    await client.agent.registerService({ Name: 'watched-svc', Port: 1234, Tags: ['x'] });
    await waitFor(() => seen.some((s) => 'watched-svc' in s), { timeoutMs: 10_000, message: 'the service shows up' });
    ac.abort();
    await done;
    t.same(seen.at(-1)?.['watched-svc'], ['x']);
    await client.agent.deregisterService('watched-svc');
  });
});
