// /v1/agent/metrics on a real `muster agent -dev` process: the Prometheus text
// parses strictly, the JSON has Consul's shape, and counters move when KV
// writes and HTTP requests happen.
import t from 'tap';
import { api, startAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheus, sampleValue, type PromFamily } from '../helpers/prometheus.js';

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/v1/agent/metrics?format=prometheus`);
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

const KV_PUT = { method: 'PUT', path: 'v1.kv._', code: '200' };

t.test('a dev agent: Prometheus text, Consul JSON, counters that move', async (t) => {
  const agent = await startAgent(t);

  const res = await fetch(`${agent.url}/v1/agent/metrics?format=prometheus`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/, 'the exposition format\'s content type');
  const before = parsePrometheus(await res.text());
  for (const name of ['consul_raft_apply', 'consul_raft_commitTime', 'consul_api_http', 'muster_http_requests', 'muster_raft_term',
    'muster_raft_commit_index', 'muster_raft_leader_changes', 'muster_gossip_members', 'consul_memberlist_udp_sent',
    'muster_gossip_probe_failures', 'consul_runtime_alloc_bytes', 'consul_runtime_sys_bytes', 'muster_sidecar_registrations',
    'muster_sidecar_registration_latency']) {
    t.ok(before.has(name), `${name} is there`);
  }
  t.equal(before.get('consul_raft_commitTime')?.type, 'histogram');
  t.equal(before.get('consul_raft_apply')?.type, 'counter');
  t.equal(before.get('consul_runtime_sys_bytes')?.type, 'gauge');
  t.ok((sampleValue(before, 'consul_runtime_sys_bytes') ?? 0) > 0, 'rss sampled');
  t.ok((sampleValue(before, 'consul_runtime_alloc_bytes') ?? 0) > 0, 'heap used sampled');
  t.ok((sampleValue(before, 'muster_raft_term') ?? 0) >= 1, 'a term');
  t.equal(sampleValue(before, 'muster_raft_leader'), 1, 'the dev server leads');
  t.equal(sampleValue(before, 'muster_gossip_members', { status: 'alive' }), 1, 'itself, alive');

  const applyBefore = sampleValue(before, 'consul_raft_apply') ?? 0;
  const commitBefore = sampleValue(before, 'muster_raft_commit_index') ?? 0;
  const putsBefore = sampleValue(before, 'muster_http_requests', KV_PUT) ?? 0;
  for (const key of ['metrics/a', 'metrics/b', 'metrics/c']) {
    t.equal((await api(agent.url, 'PUT', `/v1/kv/${key}`, 'v')).status, 200, `PUT ${key}`);
  }
  t.equal((await api(agent.url, 'GET', '/v1/no-such-route')).status, 404);

  const after = await waitFor(async () => {
    const m = await scrape(agent.url);
    const counted = (sampleValue(m, 'muster_http_requests', KV_PUT) ?? 0) >= putsBefore + 3
      && sampleValue(m, 'muster_http_requests', { method: 'GET', path: '_unknown', code: '404' }) !== undefined;
    return counted ? m : undefined;
  }, { timeoutMs: 10_000, message: 'the KV PUTs and the 404 counted' });
  t.equal(sampleValue(after, 'muster_http_requests', KV_PUT), putsBefore + 3, 'three PUTs on the kv route, by pattern not path');
  t.notOk(sampleValue(after, 'muster_http_requests', { path: 'v1.kv.metrics.a' }), 'no raw path as a label');
  t.equal(sampleValue(after, 'muster_http_requests', { method: 'GET', path: '_unknown', code: '404' }), 1, 'the unknown route');
  t.ok((sampleValue(after, 'consul_api_http_count', { method: 'PUT', path: 'v1.kv._' }) ?? 0) >= 3, 'request durations observed');
  t.ok((sampleValue(after, 'consul_raft_apply') ?? 0) >= applyBefore + 3, 'every KV write went through raft');
  t.ok((sampleValue(after, 'consul_raft_commitTime_count') ?? 0) >= 3, 'and was timed');
  t.ok((sampleValue(after, 'consul_raft_fsm_apply_count') ?? 0) >= 3, 'and applied to the state store');
  t.ok((sampleValue(after, 'muster_raft_commit_index') ?? 0) >= commitBefore + 3, 'the commit index moved');

  const json = await api(agent.url, 'GET', '/v1/agent/metrics');
  t.equal(json.status, 200);
  t.match(json.headers.get('content-type'), /^application\/json/);
  const body = json.body as {
    Timestamp: string; Gauges: Array<{ Name: string; Value: number; Labels: Record<string, string> }>; Points: unknown[];
    Counters: Array<{ Name: string; Count: number; Sum: number; Labels: Record<string, string> }>;
    Samples: Array<{ Name: string; Count: number; Sum: number; Min: number; Max: number; Mean: number; Stddev: number; Labels: Record<string, string> }>;
  };
  t.match(body.Timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/, 'Timestamp as Consul writes it');
  t.same(body.Points, []);
  t.ok(body.Gauges.some((g) => g.Name === 'consul.runtime.alloc_bytes' && g.Value > 0), 'gauges by Consul name');
  const apply = body.Counters.find((c) => c.Name === 'consul.raft.apply');
  t.ok(apply && apply.Sum >= applyBefore + 3, 'counters by Consul name, with Sum');
  const http = body.Samples.find((s) => s.Name === 'consul.api.http' && s.Labels['method'] === 'PUT' && s.Labels['path'] === 'v1.kv._');
  t.ok(http && http.Count >= 3 && http.Min <= http.Mean && http.Mean <= http.Max, 'samples with Count, Min, Mean, Max and Labels');
  t.match(http, { Stddev: Number, Sum: Number });
});
