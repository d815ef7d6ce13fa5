import t from 'tap';
import { MetricsRegistry } from '../../src/metrics/registry.js';
import { escapeLabelValue, formatValue, renderPrometheus } from '../../src/metrics/prometheus.js';
import { goTimestamp, renderConsulJson } from '../../src/metrics/consul-json.js';
import { MusterError } from '../../src/errors.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return err instanceof MusterError ? err.code : 'not a MusterError'; }
  return undefined;
}

t.test('counters', async (t) => {
  t.test('go up, by labels, and an unlabelled one starts at 0', async (t) => {
    const r = new MetricsRegistry();
    const plain = r.counter({ name: 'consul.raft.apply', help: 'h' });
    const byCode = r.counter({ name: 'x.requests', help: 'h', labelNames: ['code'] });
    t.equal(plain.value(), 0);
    plain.inc();
    plain.add(2);
    byCode.inc({ code: '200' });
    byCode.inc({ code: '200' });
    byCode.inc({ code: '404' });
    t.equal(plain.value(), 3);
    t.equal(byCode.value({ code: '200' }), 2);
    t.equal(byCode.value({ code: '500' }), 0, 'reading a series does not create it');
    const fam = r.collect().find((f) => f.name === 'x.requests');
    t.equal(fam?.series.length, 2, 'only the series that were counted');
  });

  t.test('refuse to go down, and wrong labels', async (t) => {
    const c = new MetricsRegistry().counter({ name: 'c', help: 'h', labelNames: ['a'] });
    t.equal(codeOf(() => c.add(-1, { a: 'x' })), 'ERR_INTERNAL', 'negative');
    t.equal(codeOf(() => c.add(Infinity, { a: 'x' })), 'ERR_INTERNAL', 'infinite');
    t.equal(codeOf(() => c.inc({})), 'ERR_INTERNAL', 'missing label');
    t.equal(codeOf(() => c.inc({ a: 'x', b: 'y' })), 'ERR_INTERNAL', 'extra label');
  });
});

t.test('the registry', async (t) => {
  const r = new MetricsRegistry();
  r.gauge({ name: 'a.b', help: 'h' });
  t.equal(codeOf(() => r.gauge({ name: 'a.b', help: 'h' })), 'ERR_INTERNAL', 'a name twice');
  t.equal(codeOf(() => r.gauge({ name: 'a_b', help: 'h' })), 'ERR_INTERNAL', 'a name that is the same in Prometheus');
  t.equal(codeOf(() => r.gauge({ name: '9x', help: 'h' })), 'ERR_INTERNAL', 'a bad metric name');
  t.equal(codeOf(() => r.gauge({ name: 'y', help: 'h', labelNames: ['__x'] })), 'ERR_INTERNAL', 'a reserved label name');
  t.equal(codeOf(() => r.gauge({ name: 'z', help: 'h', labelNames: ['a', 'a'] })), 'ERR_INTERNAL', 'a label name twice');
  t.equal(codeOf(() => r.histogram({ name: 'h1', help: 'h', labelNames: ['le'], buckets: [1] })), 'ERR_INTERNAL', 'le on a histogram');
  t.equal(codeOf(() => r.histogram({ name: 'h2', help: 'h', buckets: [2, 1] })), 'ERR_INTERNAL', 'buckets not increasing');

  let sampled = 0;
  const g = r.gauge({ name: 'sampled', help: 'h' });
  r.onCollect(() => g.set(++sampled));
  r.collect();
  const fams = r.collect();
  const fam = fams.find((f) => f.name === 'sampled');
  t.equal(fam?.type === 'gauge' ? fam.series[0]?.value : undefined, 2, 'hooks run at every collection');
  t.same(fams.map((f) => f.name), [...fams.map((f) => f.name)].sort(), 'sorted by name');
});

t.test('histogram buckets', async (t) => {
  const r = new MetricsRegistry();
  const h = r.histogram({ name: 'lat', help: 'h', buckets: [1, 5, 10] });
  for (const v of [0.5, 1, 3, 5, 7, 100]) h.observe(v);
  t.equal(h.count(), 6);
  const fam = r.collect()[0];
  if (fam?.type !== 'histogram') throw new Error('not a histogram');
  t.same(fam.series[0]?.bucketCounts, [2, 2, 1, 1], 'upper bounds are inclusive; above the last goes to +Inf');
  const text = renderPrometheus(r.collect());
  t.match(text, 'lat_bucket{le="1"} 2\nlat_bucket{le="5"} 4\nlat_bucket{le="10"} 5\nlat_bucket{le="+Inf"} 6\nlat_sum 116.5\nlat_count 6\n', 'cumulative, then sum and count');
  t.equal(codeOf(() => h.observe(NaN)), 'ERR_INTERNAL', 'NaN is refused');
});

t.test('Prometheus text', async (t) => {
  t.test('HELP, TYPE, dots to underscores, label escaping', async (t) => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'consul.api.http.requests', help: 'with a \\ backslash\nand a line feed', labelNames: ['path'] });
    c.inc({ path: 'a "quoted" \\ back\nslash' });
    const text = renderPrometheus(r.collect());
    t.equal(text, [
      '# HELP consul_api_http_requests with a \\\\ backslash\\nand a line feed',
      '# TYPE consul_api_http_requests counter',
      'consul_api_http_requests{path="a \\"quoted\\" \\\\ back\\nslash"} 1',
      '',
    ].join('\n'));
    const parsed = parsePrometheus(text);
    t.equal(sampleValue(parsed, 'consul_api_http_requests', { path: 'a "quoted" \\ back\nslash' }), 1, 'the parser reads the label back');
    t.equal(parsed.get('consul_api_http_requests')?.help, 'with a \\ backslash\nand a line feed');
  });

  t.test('values', async (t) => {
    t.equal(formatValue(Infinity), '+Inf');
    t.equal(formatValue(-Infinity), '-Inf');
    t.equal(formatValue(NaN), 'NaN');
    t.equal(formatValue(0.25), '0.25');
    t.equal(formatValue(1e21), '1e+21');
    t.equal(escapeLabelValue('plain'), 'plain');
  });

  t.test('a registry with every kind parses strictly', async (t) => {
    const r = new MetricsRegistry();
    r.counter({ name: 'c.total', help: 'c' }).add(3);
    r.gauge({ name: 'g', help: 'g', labelNames: ['status'] }).set(-2.5, { status: 'alive' });
    r.gauge({ name: 'g.inf', help: 'g' }).set(Infinity);
    const h = r.histogram({ name: 'h', help: 'h', labelNames: ['method'], buckets: [0.5, 1] });
    h.observe(0.1, { method: 'GET' });
    h.observe(3, { method: 'PUT' });
    r.counter({ name: 'never', help: 'labelled, never counted', labelNames: ['x'] });
    const parsed = parsePrometheus(renderPrometheus(r.collect()));
    t.same([...parsed.keys()].sort(), ['c_total', 'g', 'g_inf', 'h', 'never']);
    t.equal(sampleValue(parsed, 'g', { status: 'alive' }), -2.5);
    t.equal(sampleValue(parsed, 'g_inf'), Infinity);
    t.equal(sampleValue(parsed, 'h_count', { method: 'PUT' }), 1);
    t.equal(sampleValue(parsed, 'h_bucket', { method: 'PUT', le: '+Inf' }), 1);
    t.equal(sampleValue(parsed, 'h_bucket', { method: 'PUT', le: '1' }), 0);
    t.equal(parsed.get('never')?.samples.length, 0, 'HELP and TYPE only');
  });
});

t.test('the test parser is strict', async (t) => {
  const ok = '# TYPE a counter\na 1\n';
  t.doesNotThrow(() => parsePrometheus(ok));
  const bad: Array<[string, string]> = [
    ['a 1\n', 'no TYPE'],
    ['# TYPE a counter\na 1', 'no final line feed'],
    ['# TYPE a counter\na{x="1} 1\n', 'unterminated label value'],
    ['# TYPE a counter\na{x="\\t"} 1\n', 'bad escape'],
    ['# TYPE a counter\na{1x="1"} 1\n', 'bad label name'],
    ['# TYPE a counter\na one\n', 'bad value'],
    ['# TYPE a counter\na 1\na 2\n', 'duplicate series'],
    ['# TYPE a counter\n# TYPE b gauge\nb 1\na 1\n', 'lines not together'],
    ['# TYPE a widget\na 1\n', 'unknown type'],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'not cumulative'],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', 'no +Inf'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', '+Inf differs from count'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', 'no sum'],
  ];
  for (const [text, why] of bad) t.throws(() => parsePrometheus(text), why);
});

t.test('Consul JSON', async (t) => {
  const r = new MetricsRegistry();
  r.gauge({ name: 'consul.runtime.alloc_bytes', help: 'h' }).set(1024);
  const c = r.counter({ name: 'consul.raft.apply', help: 'h' });
  c.add(1);
  c.add(3);
  const h = r.histogram({ name: 'consul.api.http', help: 'h', labelNames: ['method', 'path'], buckets: [1, 10] });
  for (const v of [2, 4, 6]) h.observe(v, { method: 'GET', path: 'v1.kv._' });
  const out = renderConsulJson(r.collect(), { startedAtMs: Date.UTC(2026, 11, 2, 7, 0, 0), nowMs: Date.UTC(2026, 11, 2, 7, 0, 10) });
  t.equal(out.Timestamp, '2026-12-02 07:00:10 +0000 UTC', 'Go time format, as Consul');
  t.same(out.Points, []);
  t.same(out.Gauges, [{ Name: 'consul.runtime.alloc_bytes', Value: 1024, Labels: {} }]);
  t.same(out.Counters, [{ Name: 'consul.raft.apply', Count: 2, Rate: 0.4, Sum: 4, Min: 1, Max: 3, Mean: 2, Stddev: Math.SQRT2, Labels: {} }]);
  t.same(out.Samples, [{ Name: 'consul.api.http', Count: 3, Rate: 1.2, Sum: 12, Min: 2, Max: 6, Mean: 4, Stddev: 2, Labels: { method: 'GET', path: 'v1.kv._' } }]);
  t.equal(goTimestamp(0), '1970-01-01 00:00:00 +0000 UTC');
});
