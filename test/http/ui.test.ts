// The web UI's serving (on with -ui/-dev, off otherwise) and the summaries it
// reads from /v1/internal/ui/*, without a browser (test/ui/ has those tests).
import t from 'tap';
import { NODE, startApi } from '../helpers/in-process.js';

t.test('without -ui there is no UI: / answers like Consul, /ui/ is a 404', async (t) => {
  const { call } = await startApi(t, { ui: false });
  const root = await call('GET', '/');
  t.equal(root.status, 200);
  t.equal(root.text, 'Consul Agent');
  t.equal((await call('GET', '/ui/')).status, 404);
  t.equal((await call('GET', '/ui/main.js')).status, 404);
  t.equal((await call('GET', '/v1/internal/ui/services')).status, 200, 'the summaries stay: client agents with -ui forward to servers without it');
});

t.test('with -ui (here -dev) the page is served, and / and /ui redirect to /ui/', async (t) => {
  const { call } = await startApi(t);
  for (const path of ['/', '/ui']) {
    const r = await call('GET', path, undefined, { redirect: 'manual' });
    t.equal(r.status, 302, `${path} redirects`);
    t.equal(r.headers.get('location'), '/ui/');
  }
  const page = await call('GET', '/ui/');
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html; charset=utf-8$/);
  t.match(page.text, /<script type="module" src="\/ui\/main\.js"><\/script>/, 'the page loads the compiled scripts');
  t.notMatch(page.text, /https?:\/\//, 'and nothing from the internet');
  const head = await call('HEAD', '/ui/main.js');
  t.equal(head.status, 200, 'main.js was built into dist/ui/');
  t.match(head.headers.get('content-type'), /^text\/javascript/);
  t.equal((await call('GET', '/ui/views/kv-key.js')).status, 200, 'scripts in sub-folders too');
  t.equal((await call('GET', '/ui/../server.js')).status, 404, 'nothing outside the UI folder');
  t.equal((await call('GET', '/ui/%2e%2e/%2e%2e/package.json')).status, 404, 'even encoded');
  t.equal((await call('PUT', '/ui/')).status, 404, 'read only');
});

t.test('/v1/internal/ui/services: one summary per service name', async (t) => {
  const { call } = await startApi(t);
  const reg = (body: unknown) => call('PUT', '/v1/catalog/register', body);
  await reg({ Node: 'n2', Address: '10.0.0.2', Service: { ID: 'web-a', Service: 'web', Tags: ['a'], Port: 80 },
    Checks: [{ CheckID: 'web-a-check', Name: 'a', Status: 'passing', ServiceID: 'web-a' }, { CheckID: 'n2-disk', Name: 'disk', Status: 'warning' }] });
  await reg({ Node: 'n3', Address: '10.0.0.3', Service: { ID: 'web-b', Service: 'web', Tags: ['b', 'a'], Port: 80, Meta: { 'external-source': 'docker' } },
    Check: { CheckID: 'web-b-check', Name: 'b', Status: 'critical', ServiceID: 'web-b' } });
  await reg({ Node: 'n3', Address: '10.0.0.3', Service: { ID: 'db', Service: 'db', Port: 5432 } });

  const first = await call('GET', '/v1/internal/ui/services');
  t.equal(first.status, 200);
  const index = Number(first.headers.get('x-consul-index'));
  t.ok(index > 0, 'an index for blocking queries');
  const byName = new Map((first.json() as Array<{ Name: string }>).map((s) => [s.Name, s]));
  t.same(byName.get('web'), {
    Name: 'web', Datacenter: 'dc1', Tags: ['a', 'b'], Nodes: ['n2', 'n3'], ExternalSources: ['docker'], InstanceCount: 2,
    ChecksPassing: 1, ChecksWarning: 1, ChecksCritical: 1,
  }, 'instances, nodes, tags and checks of both (a node check counts too)');
  t.match(byName.get('db'), { InstanceCount: 1, ChecksPassing: 0, ChecksWarning: 0, ChecksCritical: 0 });
  t.match(byName.get('consul'), { InstanceCount: 1, Nodes: [NODE], ChecksPassing: 1 }, 'the agent itself, with serfHealth');

  const blocked = call('GET', `/v1/internal/ui/services?index=${index}&wait=10s`);
  await reg({ Node: 'n3', Address: '10.0.0.3', Service: { ID: 'cache', Service: 'cache', Port: 6379 } });
  const woken = await blocked;
  t.ok(Number(woken.headers.get('x-consul-index')) > index, 'a blocking query wakes on a registration');
  t.ok((woken.json() as Array<{ Name: string }>).some((s) => s.Name === 'cache'), 'and has the new service');
});

t.test('/v1/internal/ui/nodes and /v1/internal/ui/node/:node', async (t) => {
  const { call } = await startApi(t);
  await call('PUT', '/v1/catalog/register', { Node: 'n2', Address: '10.0.0.2', NodeMeta: { rack: 'r1' },
    Service: { ID: 'web-a', Service: 'web', Port: 80 }, Check: { CheckID: 'disk', Name: 'disk', Status: 'warning' } });
  const nodes = (await call('GET', '/v1/internal/ui/nodes')).json() as Array<{ Node: string; Services: unknown[]; Checks: unknown[] }>;
  t.same(nodes.map((n) => n.Node), [NODE, 'n2'], 'every node, sorted');
  const one = await call('GET', '/v1/internal/ui/node/n2');
  t.match(one.json(), { Node: 'n2', Address: '10.0.0.2', Meta: { rack: 'r1' }, Services: [{ ID: 'web-a', Service: 'web' }], Checks: [{ CheckID: 'disk', Status: 'warning' }] });
  const missing = await call('GET', '/v1/internal/ui/node/nope');
  t.equal(missing.status, 404, 'an unknown node is a 404');
  t.match(missing.headers.get('x-consul-index'), /^\d+$/, 'with an index to block on');
});
