// The seed's Raft scenario with real processes and a real partition: three
// servers, each on its own loopback address; iptables cuts the leader off.
// The majority elects a new leader and keeps taking writes; the old leader
// cannot commit what it is sent and steps down; when the partition heals it
// follows the new leader, drops what it never committed and catches up.
import t from 'tap';
import { TestCluster, kvGet, kvPut, request, type ClusterAgent } from '../helpers/cluster.js';
import { LoopbackFirewall } from '../helpers/loopback-firewall.js';
import { waitFor } from '../helpers/wait.js';

t.test('a partitioned leader is replaced, commits nothing alone, and rolls back when the partition heals', { timeout: 180_000 }, async (t) => {
  const firewall = LoopbackFirewall.open(t);
  if (typeof firewall === 'string') {
    if (process.env.CI === 'true') t.fail(`partitions need iptables: ${firewall}`);
    else t.comment(`skipped: partitions need iptables: ${firewall}`);
    return;
  }
  const cluster = await TestCluster.start(t, { servers: 3, ownAddresses: true });
  const old = await cluster.leader();
  t.ok(await kvPut(old.url, 'part/before', 'v1'), 'a write before the partition');
  const majority = cluster.servers.filter((s) => s !== old);

  firewall.isolate(old.host, cluster.servers.map((s) => s.host));
  t.equal(firewall.cutCount, 4, 'the old leader is cut off from both others, both ways');

  // a write sent to the old leader now: it may append it, but can never commit it
  const lonely = request(old.url, 'PUT', '/v1/kv/part/lonely', 'never', 30_000).catch((err: Error) => err);

  const next = await cluster.leader({ among: majority, timeoutMs: 30_000 });
  t.not(next, old, `the majority elected ${next.name}`);
  t.ok(await kvPut(next.url, 'part/during', 'v2'), 'the majority takes writes');
  // a default-mode read on the old leader: outside its lease it must confirm with a quorum, which it cannot
  const dflt = await request(old.url, 'GET', '/v1/kv/part/during?raw', undefined, 30_000);
  t.not(dflt.status, 404, `the isolated server does not answer a default read from its stale state (${dflt.status} ${dflt.text.trim()})`);

  const answer = await lonely;
  t.ok(answer instanceof Error || answer.status !== 200, `the isolated old leader did not acknowledge its write (${answer instanceof Error ? answer.message : `${answer.status} ${answer.text.trim()}`})`);
  // it stepped down (check-quorum) and knows no leader, so its own view says so
  await waitFor(async () => {
    const r = await request(old.url, 'GET', '/v1/status/leader', undefined, 5000).catch(() => undefined);
    return r !== undefined && r.status === 200 && JSON.parse(r.text) === '';
  }, { timeoutMs: 20_000, message: 'the isolated server reports no leader' });
  const refused = await request(old.url, 'PUT', '/v1/kv/part/refused', 'x', 30_000);
  t.equal(refused.status, 500, 'a write to the isolated server answers 500');
  t.match(refused.text, /No cluster leader/, `with a clear reason (${refused.text.trim()})`);
  t.equal(await kvGet(old.url, 'part/during', 'stale'), null, 'the isolated server has not seen the majority\'s write');

  firewall.heal();
  await waitFor(async () => (await kvGet(old.url, 'part/during', 'stale').catch(() => null)) === 'v2', {
    timeoutMs: 30_000, message: 'the old leader catches up after the partition heals',
  });
  const after = await cluster.leader({ timeoutMs: 30_000 });
  t.ok(cluster.servers.includes(after), `one leader for all three after healing (${after.name})`);
  for (const s of cluster.servers as ClusterAgent[]) {
    t.equal(await kvGet(s.url, 'part/lonely', 'stale'), null, `${s.name}: the write the isolated leader never committed is gone`);
    t.equal(await kvGet(s.url, 'part/before', 'stale'), 'v1', `${s.name}: the write from before the partition is there`);
  }
  t.ok(await kvPut(old.url, 'part/after', 'v3'), 'writes through the old leader work again (forwarded)');
  t.equal(await kvGet(after.url, 'part/after', 'consistent'), 'v3', 'and are read back from the leader');
});
