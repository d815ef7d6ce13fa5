import t from 'tap';
import { Resolver } from 'node:dns/promises';
import { api } from '../helpers/agent.js';
import { TestCluster, type ClusterAgent } from '../helpers/cluster.js';
import { dig, dnsPortOf, requireDig } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A client agent keeps no catalog: its DNS answers come from a server, over
 * the same RPC path its other reads take.
 */
t.test('DNS on a client agent answers from the servers\' catalog', async (t) => {
  const digBin = requireDig(t);
  if (!digBin) return;
  const cluster = await TestCluster.start(t, { servers: 1 });
  const server = cluster.servers[0] as ClusterAgent;
  const client = await cluster.addClient('c1', { start: false });
  const running = await client.start({ extra: ['-dns-port', '0'] });
  await cluster.waitForMembers(cluster.all());
  const port = await dnsPortOf(running);

  const reg = async (a: ClusterAgent, body: Record<string, unknown>) => {
    const r = await api(a.url, 'PUT', '/v1/agent/service/register', body);
    t.equal(r.status, 200, `registered ${String(body.ID)} on ${a.name}`);
  };
  await reg(client, { ID: 'api-c1', Name: 'api', Port: 7001, Check: { TTL: '10m', Status: 'passing' } });
  await reg(server, { ID: 'api-s1', Name: 'api', Port: 7002, Address: '127.0.0.9', Check: { TTL: '10m', Status: 'passing' } });

  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const srv = await waitFor(async () => {
    const r = await dig(digBin, port, ['api.service.consul', 'SRV']);
    return r.answer.length === 2 ? r : undefined;
  }, { timeoutMs: 15_000, message: 'both instances answered by the client' });
  t.same(srv.answer.map((a) => a[6]).sort(), ['7001', '7002']);
  t.ok(srv.answer.some((a) => a[6] === '7001' && a[7] === 'c1.node.dc1.consul.'), 'the client\'s instance points at the client node');
  t.same((await resolver.resolve4('api.service.consul')).sort(), ['127.0.0.1', '127.0.0.9']);
  t.same(await resolver.resolve4('s1.node.consul'), ['127.0.0.1'], 'a node lookup through the client');
  t.equal((await dig(digBin, port, ['nope.service.consul'])).status, 'NXDOMAIN');

  await api(client.url, 'PUT', '/v1/agent/check/fail/service:api-c1');
  await waitFor(async () => {
    const r = await dig(digBin, port, ['api.service.consul', 'SRV']);
    return r.answer.length === 1 && r.answer[0]?.[6] === '7002';
  }, { timeoutMs: 15_000, message: 'the critical instance left the client\'s answers' });
  t.pass('a critical instance leaves the answers');

  await server.kill();
  const r = await dig(digBin, port, ['api.service.consul']);
  t.equal(r.status, 'SERVFAIL', 'no server to ask: SERVFAIL, and the client keeps running');
  t.equal(running.proc.exitCode, null);
});
