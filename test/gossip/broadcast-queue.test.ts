import t from 'tap';
import { BroadcastQueue, retransmitLimit } from '../../src/gossip/broadcast-queue.js';

t.test('retransmitLimit is retransmitMult × ceil(log10(n + 1))', async (t) => {
  const cases: [mult: number, n: number, want: number][] = [
    [4, 0, 0], [4, 1, 4], [4, 2, 4], [4, 9, 4], [4, 10, 8], [4, 50, 8], [4, 99, 8], [4, 100, 12],
    [4, 320, 12], [4, 999, 12], [4, 1000, 16], [2, 50, 4], [3, 10_000, 15],
  ];
  for (const [mult, n, want] of cases) {
    t.test(`mult=${mult} n=${n}`, async (t) => t.equal(retransmitLimit(mult, n), want));
  }
});

const msg = (tag: number, size = 10) => new Uint8Array(size).fill(tag);

t.test('BroadcastQueue', async (t) => {
  t.test('sends fewest-transmitted first, newest first among equals', async (t) => {
    const q = new BroadcastQueue();
    q.queue('a', msg(1));
    q.queue('b', msg(2));
    q.queue('c', msg(3));
    t.same(q.take(20, 10).map((m) => m[0]), [3, 2], 'two fit: the newest two');
    t.same(q.take(20, 10).map((m) => m[0]), [1, 3], 'a has never been sent: it goes first');
    t.same(q.take(100, 10).map((m) => m[0]), [2, 1, 3], 'b and a sent once (newest first), then c sent twice');
  });

  t.test('drops a broadcast after `limit` transmissions and reports it finished', async (t) => {
    const q = new BroadcastQueue();
    let finished = 0;
    q.queue('a', msg(1), () => finished++);
    for (let i = 0; i < 3; i++) t.equal(q.take(100, 3).length, 1);
    t.equal(finished, 1);
    t.equal(q.length, 0);
    t.same(q.take(100, 3), []);
  });

  t.test('a newer broadcast about the same member invalidates the queued one', async (t) => {
    const q = new BroadcastQueue();
    let superseded = false;
    q.queue('a', msg(1), () => (superseded = true));
    q.take(100, 5);
    q.queue('a', msg(9));
    t.ok(superseded);
    t.equal(q.length, 1);
    t.same(q.take(100, 5).map((m) => m[0]), [9]);
  });

  t.test('skips what does not fit and packs smaller ones behind it', async (t) => {
    const q = new BroadcastQueue();
    q.queue('small', msg(1, 10));
    q.queue('big', msg(2, 50));
    t.same(q.take(30, 5).map((m) => m[0]), [1]);
    t.same(q.take(60, 5).map((m) => m[0]), [2, 1], 'the unsent one first, then what still fits');
  });

  t.test('drop removes a member\'s broadcast', async (t) => {
    const q = new BroadcastQueue();
    q.queue('a', msg(1));
    q.drop('a');
    t.notOk(q.has('a'));
    t.same(q.take(100, 5), []);
  });
});
