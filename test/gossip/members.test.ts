import t from 'tap';
import { formatAddress, MemberTable, parseAddress, sameTags } from '../../src/gossip/members.js';
import { createRng } from '../../src/gossip/rng.js';

t.test('parseAddress and formatAddress', async (t) => {
  const cases: [text: string, want: { addr: string; port: number } | undefined][] = [
    ['127.0.0.1:8301', { addr: '127.0.0.1', port: 8301 }],
    ['127.0.0.1', { addr: '127.0.0.1', port: 7946 }],
    ['[::1]:8301', { addr: '::1', port: 8301 }],
    ['[::1]', { addr: '::1', port: 7946 }],
    ['node-1.example:8301', { addr: 'node-1.example', port: 8301 }],
    ['127.0.0.1:0', undefined],
    ['127.0.0.1:70000', undefined],
    ['127.0.0.1:x', undefined],
    ['::1:8301', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) {
    t.test(JSON.stringify(text), async (t) => {
      t.same(parseAddress(text, 7946), want);
      if (want) t.same(parseAddress(formatAddress(want.addr, want.port)), want, 'formatAddress round-trips');
    });
  }
});

t.test('sameTags compares keys and values', async (t) => {
  t.ok(sameTags({ a: '1', b: '2' }, { b: '2', a: '1' }));
  t.notOk(sameTags({ a: '1' }, { a: '2' }));
  t.notOk(sameTags({ a: '1' }, { a: '1', b: '' }));
});

t.test('MemberTable keeps the live count through state changes and removals', async (t) => {
  const table = new MemberTable();
  const rec = (name: string) => ({ name, addr: '10.0.0.1', port: 1, tags: {}, incarnation: 1, state: 'alive' as const, stateChangedAtMs: 0 });
  for (const n of ['a', 'b', 'c', 'd']) table.add(rec(n));
  t.equal(table.liveCount, 4);
  table.setState(table.get('b')!, 'suspect', 1);
  t.equal(table.liveCount, 4, 'suspect members are live');
  table.setState(table.get('b')!, 'dead', 2);
  table.setState(table.get('c')!, 'left', 2);
  t.equal(table.liveCount, 2);
  t.equal(table.get('b')!.stateChangedAtMs, 2);
  table.remove('b');
  table.remove('a');
  t.equal(table.liveCount, 1);
  t.same(table.all().map((m) => m.name).sort(), ['c', 'd']);
  t.throws(() => table.add(rec('c')));
  const picked = table.randomMembers(5, createRng(1), (m) => m.state !== 'alive');
  t.same(picked.map((m) => m.name), ['d'], 'random picks honour the filter and never repeat');
});
