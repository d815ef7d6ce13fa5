// Lock and Semaphore (Consul's recipes) against a real agent.
import t from 'tap';
import { startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import {
  MusterClient, Lock, Semaphore, withLock, withSemaphore, LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE, joinKey,
} from '../../src/client/index.js';

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) resolve();
  else signal.addEventListener('abort', () => resolve(), { once: true });
});

t.test('joinKey is Go\'s path.Join', async (t) => {
  t.equal(joinKey('svc', '.lock'), 'svc/.lock');
  t.equal(joinKey('svc/', '.lock'), 'svc/.lock');
  t.equal(joinKey('a//b/../c', 'd'), 'a/c/d');
  t.equal(joinKey('', '.lock'), '.lock');
  t.equal(joinKey('/a', 'b'), '/a/b');
});

t.test('against an agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const client = new MusterClient({ address: agent.url });
  const sessionsNamed = async (name: string) => (await client.session.list()).filter((s) => s.name === name);

  t.test('lock, contend, unlock, destroy', async (t) => {
    const a = new Lock(client, { key: 'l1/.lock', sessionName: 'lock-a' });
    const lost = await a.lock();
    t.ok(lost, 'held');
    t.equal(a.isHeld, true);
    const pair = await client.kv.get('l1/.lock');
    t.equal(pair?.flags, LOCK_FLAG_VALUE, 'the key carries the lock flag');
    t.equal(pair?.session, a.session, 'and our session');
    const [session] = await sessionsNamed('lock-a');
    t.equal(session?.ttl, '15s', 'a session with Consul\'s TTL');
    await t.rejects(a.lock(), { code: 'ERR_LOCK', message: 'Lock already held' });

    const b = new Lock(client, { key: 'l1/.lock', sessionName: 'lock-b', lockTryOnce: true, lockWaitTimeMs: 300 });
    t.equal(await b.lock(), undefined, 'a second lock gives up after its wait');
    t.same(await sessionsNamed('lock-b'), [], 'and its session is gone');

    const c = new Lock(client, { key: 'l1/.lock', sessionName: 'lock-c' });
    const waiting = c.lock();
    let cHeld = false;
    void waiting.then(() => { cHeld = true; });
    await new Promise((r) => setTimeout(r, 200));
    t.equal(cHeld, false, 'a third lock waits while a holds');
    const unlockedAt = Date.now();
    await a.unlock();
    t.equal(lost?.aborted, true, 'a\'s signal aborts on unlock');
    t.same(await sessionsNamed('lock-a'), [], 'unlock destroys the session it made');
    const cLost = await waiting;
    t.ok(cLost, 'c holds it now');
    t.ok(Date.now() - unlockedAt < 3000, 'woken by the release, not by a timeout');
    await t.rejects(a.unlock(), { code: 'ERR_LOCK', message: 'Lock not held' });
    await t.rejects(a.destroy(), { code: 'ERR_LOCK_IN_USE' }, 'cannot destroy a held lock');
    await c.unlock();
    await a.destroy();
    t.equal(await client.kv.get('l1/.lock'), undefined, 'destroy deletes the free key');
  });

  t.test('a destroyed session loses the lock; the lock-delay holds the next one back', async (t) => {
    const a = new Lock(client, { key: 'l2/.lock', sessionOptions: { name: 'loser', ttl: '10s', lockDelay: '1s' } });
    const lost = await a.lock();
    t.ok(lost);
    const sessionId = a.session as string;
    const b = new Lock(client, { key: 'l2/.lock', sessionName: 'next', lockRetryTimeMs: 100 });
    const bLost = b.lock();
    const invalidatedAt = Date.now();
    await client.session.destroy(sessionId);
    await waitFor(() => lost?.aborted, { timeoutMs: 5000, message: 'the lost signal' });
    t.match(lost?.reason, { code: 'ERR_LOCK' }, 'the reason is an ERR_LOCK');
    t.ok(await bLost, 'the other lock gets it');
    t.ok(Date.now() - invalidatedAt >= 900, `only after the 1s lock-delay (${Date.now() - invalidatedAt} ms)`);
    await a.unlock(); // as Go's: releasing a lost lock is not an error
    await b.unlock();
  });

  t.test('a key that is not a lock\'s', async (t) => {
    await client.kv.put('l3/.lock', 'x', { flags: 42n });
    const l = new Lock(client, { key: 'l3/.lock' });
    await t.rejects(l.lock(), { code: 'ERR_LOCK_CONFLICT', message: 'Existing key does not match lock use' });
    await t.rejects(l.destroy(), { code: 'ERR_LOCK_CONFLICT' });
    t.same(await sessionsNamed('Consul API Lock'), [], 'the session made for the attempt is gone');
  });

  t.test('aborting the wait', async (t) => {
    const holder = new Lock(client, { key: 'l4/.lock' });
    await holder.lock();
    const ac = new AbortController();
    const waiter = new Lock(client, { key: 'l4/.lock', sessionName: 'aborted-waiter' });
    const pending = waiter.lock({ signal: ac.signal });
    await waitFor(async () => (await sessionsNamed('aborted-waiter')).length === 1, { timeoutMs: 5000 });
    const at = Date.now();
    ac.abort();
    t.equal(await pending, undefined, 'lock() resolves undefined');
    t.ok(Date.now() - at < 2000, 'at once, not after the 15s wait');
    t.same(await sessionsNamed('aborted-waiter'), [], 'its session is destroyed');
    await holder.unlock();
  });

  t.test('withLock runs, releases on return and on throw, and reports loss', async (t) => {
    const result = await withLock(client, 'l5/.lock', async (signal) => {
      t.equal(signal.aborted, false);
      t.ok((await client.kv.get('l5/.lock'))?.session, 'held inside');
      return 42;
    });
    t.equal(result, 42);
    t.equal((await client.kv.get('l5/.lock'))?.session, undefined, 'released after');

    await t.rejects(withLock(client, 'l5/.lock', async () => { throw new Error('boom'); }), { message: 'boom' });
    t.equal((await client.kv.get('l5/.lock'))?.session, undefined, 'released after a throw');

    const reason = await withLock(client, 'l5/.lock', async (signal) => {
      const session = (await client.kv.get('l5/.lock'))?.session as string;
      await client.session.destroy(session);
      await aborted(signal);
      return signal.reason as unknown;
    }, { sessionOptions: { lockDelay: '0s' } });
    t.match(reason, { code: 'ERR_LOCK' }, 'the signal aborts when the session is destroyed');

    const ac = new AbortController();
    ac.abort(new Error('not now'));
    await t.rejects(withLock(client, 'l5/.lock', () => 1, { signal: ac.signal }), { message: 'not now' });
  });

  t.test('semaphore with limit 2', async (t) => {
    const prefix = 's1';
    const s1 = new Semaphore(client, { prefix, limit: 2, sessionName: 'sem-1' });
    const s2 = new Semaphore(client, { prefix, limit: 2, sessionName: 'sem-2' });
    const s3 = new Semaphore(client, { prefix, limit: 2, sessionName: 'sem-3' });
    const l1 = await s1.acquire();
    const l2 = await s2.acquire();
    t.ok(l1 && l2, 'two holders');
    const lock = await client.kv.get(joinKey(prefix, '.lock'));
    t.equal(lock?.flags, SEMAPHORE_FLAG_VALUE, 'the coordination key carries the semaphore flag');
    const body = JSON.parse(lock?.value.toString() ?? '{}') as { Limit: number; Holders: Record<string, boolean> };
    t.equal(body.Limit, 2);
    t.same(Object.keys(body.Holders).sort(), [s1.session, s2.session].sort(), 'both listed as holders');
    const contender = await client.kv.get(joinKey(prefix, s1.session as string));
    t.equal(contender?.session, s1.session, 'contender key held by its session');
    const [sess] = await sessionsNamed('sem-1');
    t.equal(sess?.behavior, 'delete', 'sessions with Behavior delete');

    const third = s3.acquire();
    let thirdIn = false;
    void third.then(() => { thirdIn = true; });
    await new Promise((r) => setTimeout(r, 300));
    t.equal(thirdIn, false, 'a third waits');
    await s1.release();
    t.ok(await third, 'the third gets the freed slot');
    t.equal(await client.kv.get(joinKey(prefix, s1.session ?? 'none')), undefined);

    const wrongLimit = new Semaphore(client, { prefix, limit: 3 });
    await t.rejects(wrongLimit.acquire(), { code: 'ERR_LOCK', message: /semaphore limit conflict \(lock: 2, local: 3\)/ });
    const asLock = new Lock(client, { key: joinKey(prefix, '.lock') });
    await t.rejects(asLock.lock(), { code: 'ERR_LOCK_CONFLICT' }, 'a Lock on the semaphore\'s key conflicts');

    await t.rejects(s2.destroy(), { code: 'ERR_LOCK', message: 'Semaphore already held' });
    const sessionOf2 = s2.session as string;
    await client.session.destroy(sessionOf2);
    await waitFor(() => l2?.aborted, { timeoutMs: 5000, message: 'slot lost when the session goes' });
    await s2.release();
    await s3.release();
    await s1.destroy();
    t.equal(await client.kv.get(joinKey(prefix, '.lock')), undefined, 'destroy removes the free coordination key');
    t.same(await client.kv.list(`${prefix}/`), [], 'nothing left under the prefix');
  });

  t.test('withSemaphore', async (t) => {
    let inside = 0;
    let most = 0;
    await Promise.all([1, 2, 3, 4].map((i) => withSemaphore(client, 's2', 2, async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 100 + i * 10));
      inside--;
    })));
    t.equal(most, 2, 'two at a time, never more');
  });
});
