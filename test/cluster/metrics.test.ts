// /v1/agent/metrics on a client agent is answered by the client itself (an
// agent endpoint), and requests it forwards to the servers are counted under
// one bounded label; the server's raft counters move with the client's writes.
import t from 'tap';
import { TestCluster, kvPut } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheus, sampleValue, type PromFamily } from '../helpers/prometheus.js';

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/v1/agent/metrics?format=prometheus`);
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

t.test('a client agent answers its own metrics', async (t) => {
  const cluster = await TestCluster.start(t, { servers: 1, clients: 1 });
  const server = cluster.get('s1');
  const client = cluster.get('c1');

  const before = await scrape(client.url);
  t.equal(sampleValue(before, 'muster_gossip_members', { status: 'alive' }), 2, 'the client sees itself and the server alive');
  t.equal(sampleValue(before, 'muster_raft_leader'), 0, 'no raft on a client');
  const serverApply = sampleValue(await scrape(server.url), 'consul_raft_apply') ?? 0;

  t.ok(await kvPut(client.url, 'metrics/client', 'v'), 'a write through the client');
  const after = await waitFor(async () => {
    const m = await scrape(client.url);
    return (sampleValue(m, 'muster_http_requests', { method: 'PUT', path: '_forwarded', code: '200' }) ?? 0) >= 1 ? m : undefined;
  }, { timeoutMs: 10_000, message: 'the forwarded PUT counted on the client' });
  t.notOk(sampleValue(after, 'muster_http_requests', { path: 'v1.kv._' }), 'the client has no kv route of its own');
  const s = await scrape(server.url);
  t.ok((sampleValue(s, 'consul_raft_apply') ?? 0) >= serverApply + 1, 'the server applied the client\'s write');
  // the members met over TCP (join's push-pull); UDP probes follow within a probe interval or so
  const udp = await waitFor(async () => {
    const n = sampleValue(await scrape(server.url), 'consul_memberlist_udp_received') ?? 0;
    return n > 0 ? n : undefined;
  }, { timeoutMs: 15_000, message: 'the server counts gossip bytes received over UDP' });
  t.ok(udp > 0, `the server received gossip bytes (${udp})`);
});
