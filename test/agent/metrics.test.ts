import t from 'tap';
import { AgentMetrics, routeLabel } from '../../src/agent/metrics.js';

t.test('route patterns become Consul-style path labels', async (t) => {
  const cases: Array<[string, string]> = [
    ['/v1/kv/*key', 'v1.kv._'],
    ['/v1/agent/service/:id', 'v1.agent.service._'],
    ['/v1/agent/metrics', 'v1.agent.metrics'],
    ['/', '_root'],
    ['_unknown', '_unknown'],
    ['_forwarded', '_forwarded'],
  ];
  for (const [pattern, label] of cases) t.equal(routeLabel(pattern), label, pattern);
});

t.test('raft state changes count elections, leaderships and leader changes', async (t) => {
  const m = new AgentMetrics({ now: () => 0 });
  const value = (name: string) => {
    const f = m.registry.collect().find((x) => x.name === name);
    return f?.type === 'counter' ? f.series[0]?.value : undefined;
  };
  m.raft.stateChanged('pre-candidate', '');
  m.raft.stateChanged('candidate', '');
  m.raft.stateChanged('leader', 'a');
  m.raft.stateChanged('leader', 'a'); // the same state again: nothing new
  m.raft.stateChanged('follower', 'b');
  m.raft.stateChanged('follower', '');
  m.raft.stateChanged('follower', 'b'); // leader unknown for a while, then the same one
  t.equal(value('consul.raft.state.candidate'), 1);
  t.equal(value('consul.raft.state.leader'), 1);
  t.equal(value('muster.raft.leader.changes'), 2, 'a, then b');
  m.raft.proposed(3);
  m.raft.proposed(undefined);
  t.equal(value('consul.raft.apply'), 2, 'every proposal counts; only the applied ones are timed');
});

t.test('HTTP requests by method, route and code', async (t) => {
  const m = new AgentMetrics({ now: () => 0 });
  m.requestServed('PUT', '/v1/kv/*key', 200, 1.5);
  m.requestServed('PUT', '/v1/kv/*key', 200, 2.5);
  m.requestServed('GET', '_unknown', 404, 0.1);
  const fams = m.registry.collect();
  const requests = fams.find((f) => f.name === 'muster.http.requests');
  t.same(requests?.series.map((s) => ({ labels: s.labels, value: 'value' in s ? s.value : undefined })), [
    { labels: { method: 'PUT', path: 'v1.kv._', code: '200' }, value: 2 },
    { labels: { method: 'GET', path: '_unknown', code: '404' }, value: 1 },
  ]);
});
