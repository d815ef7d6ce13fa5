import t from 'tap';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { api, startAgent, type RunningAgent } from '../helpers/agent.js';
import { dig, dnsPortOf, frame, requireDig, tcpExchange, udpExchange } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';
import { mulberry32 } from '../helpers/prng.js';

const SEED = Number(process.env['SEED'] ?? Date.now() % 1_000_000);
const random = mulberry32(SEED);
const junkBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));

/**
 * A real `muster agent -dev` with services registered through the HTTP API,
 * asked through its DNS port by dig and by Node's resolver (c-ares).
 */

interface CatalogEntry { ServiceID: string; ServiceAddress: string; Address: string; ServicePort: number; Node: string }

async function register(agent: RunningAgent, body: Record<string, unknown>): Promise<void> {
  const r = await api(agent.url, 'PUT', '/v1/agent/service/register', body);
  if (r.status !== 200) throw new Error(`register ${JSON.stringify(body)}: ${r.status} ${r.text}`);
}

async function catalog(agent: RunningAgent, service: string, tag?: string): Promise<CatalogEntry[]> {
  const r = await api(agent.url, 'GET', `/v1/catalog/service/${service}${tag ? `?tag=${tag}` : ''}`);
  return r.body as CatalogEntry[];
}

function resolverFor(port: number): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 2 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

const sorted = <T>(xs: T[]) => [...xs].sort();

t.test('the DNS interface of a dev agent', async (t) => {
  const digBin = requireDig(t);
  if (!digBin) return;
  const dir = mkdtempSync(join(tmpdir(), 'muster-dns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'dns.json');
  writeFileSync(configFile, JSON.stringify({ dns_config: { service_ttl: { 'bi*': '7s' }, node_ttl: '3s' } }));
  const agent = await startAgent(t, { args: ['-docker', '', '-config-file', configFile] });
  const port = await dnsPortOf(agent);
  t.ok(port > 0, `dns on port ${port}`);
  const resolver = resolverFor(port);

  await register(agent, { ID: 'web1', Name: 'web', Port: 8081, Tags: ['v1', 'primary'], Check: { TTL: '10m', Status: 'passing' } });
  await register(agent, { ID: 'web2', Name: 'web', Port: 8082, Tags: ['v1'], Address: '127.0.0.2', Check: { TTL: '10m', Status: 'passing' } });
  await register(agent, { ID: 'web3', Name: 'web', Port: 8083, Tags: ['v2'], Address: '127.0.0.3', Check: { TTL: '10m', Status: 'warning' } });
  const web = await catalog(agent, 'web');
  t.equal(web.length, 3, 'three instances in the catalog');
  const addressesOf = (entries: CatalogEntry[]) => sorted(entries.map((e) => e.ServiceAddress || e.Address));

  await t.test('A answers match the catalog (dig and node:dns)', async (t) => {
    const r = await dig(digBin, port, ['web.service.consul', 'A']);
    t.equal(r.status, 'NOERROR');
    t.ok(r.flags.includes('aa'), 'authoritative');
    t.same(sorted(r.answer.map((a) => a[4] as string)), addressesOf(web), 'dig: one A per instance, warning included');
    t.same(r.answer.map((a) => a[1]), ['0', '0', '0'], 'TTL 0 by default');
    t.same(sorted(await resolver.resolve4('web.service.consul')), addressesOf(web), 'node:dns resolve4');
    t.same(sorted(await resolver.resolve4('WEB.Service.DC1.Consul')), addressesOf(web), 'case-insensitive, with the datacenter');
  });

  await t.test('SRV answers match the catalog: ports, node targets and their A records', async (t) => {
    const r = await dig(digBin, port, ['web.service.consul', 'SRV']);
    t.equal(r.status, 'NOERROR');
    t.same(sorted(r.answer.map((a) => a[6] as string)), sorted(web.map((e) => String(e.ServicePort))), 'dig: ports');
    const web1 = r.answer.find((a) => a[6] === '8081');
    t.equal(web1?.[7], `${agent.node}.node.dc1.consul.`, 'an instance on the node\'s address points at the node');
    t.ok(r.additional.some((a) => a[0] === `${agent.node}.node.dc1.consul.` && a[3] === 'A' && a[4] === '127.0.0.1'), 'the node\'s A record in additional');
    t.ok(r.additional.some((a) => a[0] === '7f000002.addr.dc1.consul.' && a[4] === '127.0.0.2'), 'another address: an .addr. target and its A');
    const srv = await resolver.resolveSrv('web.service.consul');
    t.same(sorted(srv.map((s) => s.port)), sorted(web.map((e) => e.ServicePort)), 'node:dns resolveSrv');
  });

  await t.test('tags: TAG.NAME.service and RFC 2782 _NAME._TAG', async (t) => {
    const v1 = await catalog(agent, 'web', 'v1');
    t.equal(v1.length, 2);
    t.same(sorted(await resolver.resolve4('v1.web.service.consul')), addressesOf(v1));
    const srv = await resolver.resolveSrv('_web._v1.service.consul');
    t.same(sorted(srv.map((s) => s.port)), sorted(v1.map((e) => e.ServicePort)));
    const all = await resolver.resolveSrv('_web._tcp.service.consul');
    t.equal(all.length, 3, '_tcp filters nothing');
    const r = await dig(digBin, port, ['primary.web.service.consul', 'SRV']);
    t.same(r.answer.map((a) => a[6]), ['8081']);
  });

  await t.test('nodes: NODE.node.consul', async (t) => {
    t.same(await resolver.resolve4(`${agent.node}.node.consul`), ['127.0.0.1']);
    const r = await dig(digBin, port, [`${agent.node}.node.dc1.consul`]);
    t.same(r.answer.map((a) => a[4]), ['127.0.0.1']);
    t.same(r.answer.map((a) => a[1]), ['3'], 'dns_config.node_ttl');
  });

  await t.test('unknown names: NXDOMAIN with the SOA', async (t) => {
    for (const name of ['nope.service.consul', 'web.service.dc2.consul', 'nope.node.consul', 'what.consul']) {
      const r = await dig(digBin, port, [name]);
      t.equal(r.status, 'NXDOMAIN', name);
      t.match(r.authority, [['consul.', '0', 'IN', 'SOA', 'ns.consul.', 'hostmaster.consul.']], `${name}: SOA in authority`);
    }
    await t.rejects(resolver.resolve4('nope.service.consul'), { code: 'ENOTFOUND' }, 'node:dns: ENOTFOUND');
    const mx = await dig(digBin, port, ['web.service.consul', 'MX']);
    t.equal(mx.status, 'NOERROR', 'an unsupported type for a known name: NODATA');
    t.same(mx.answer, []);
    t.equal(mx.authority[0]?.[3], 'SOA');
  });

  await t.test('the apex: SOA and NS', async (t) => {
    const soa = await dig(digBin, port, ['consul.', 'SOA']);
    t.match(soa.answer, [['consul.', '0', 'IN', 'SOA', 'ns.consul.', 'hostmaster.consul.']]);
    const ns = await dig(digBin, port, ['consul.', 'NS']);
    t.same(ns.answer.map((a) => a[4]), [`${agent.node}.node.dc1.consul.`], 'the server is the name server');
    t.ok(ns.additional.some((a) => a[3] === 'A' && a[4] === '127.0.0.1'), 'with glue');
  });

  await t.test('a critical instance disappears from the answers, and comes back', async (t) => {
    const fail = await api(agent.url, 'PUT', '/v1/agent/check/fail/service:web2?note=down');
    t.equal(fail.status, 200);
    await waitFor(async () => {
      const r = await dig(digBin, port, ['web.service.consul', 'SRV']);
      return r.answer.length === 2 && !r.answer.some((a) => a[6] === '8082');
    }, { timeoutMs: 10_000, message: 'web2 left the SRV answer' });
    t.same(sorted(await resolver.resolve4('web.service.consul')), ['127.0.0.1', '127.0.0.3'], 'gone from A too');
    t.same((await resolver.resolveSrv('_web._v1.service.consul')).map((s) => s.port), [8081]);

    await register(agent, { ID: 'lonely', Name: 'lonely', Port: 9000, Check: { TTL: '10m', Status: 'critical' } });
    const r = await dig(digBin, port, ['lonely.service.consul']);
    t.equal(r.status, 'NXDOMAIN', 'a service whose only instance is critical');

    await api(agent.url, 'PUT', '/v1/agent/check/pass/service:web2');
    await waitFor(async () => (await resolver.resolve4('web.service.consul')).length === 3, { timeoutMs: 10_000, message: 'web2 back' });
    t.pass('passing again: answered again');
  });

  await t.test('60 instances: TC over UDP without EDNS, the whole answer over TCP', async (t) => {
    const n = 60;
    for (let i = 0; i < n; i++) {
      await register(agent, { ID: `big${i}`, Name: 'big', Port: 20_000 + i, Address: `127.1.0.${i + 1}`, Check: { TTL: '10m', Status: 'passing' } });
    }
    t.equal((await catalog(agent, 'big')).length, n);

    const udp = await dig(digBin, port, ['big.service.consul', 'SRV', '+ignore', '+noedns']);
    t.ok(udp.flags.includes('tc'), `TC set over UDP (flags: ${udp.flags.join(' ')})`);
    t.ok(udp.answer.length > 0 && udp.answer.length < n, `a part of the answer over UDP: ${udp.answer.length}`);
    t.ok(udp.answer.every((a) => udp.additional.some((x) => x[0] === a[7])), 'each SRV kept has its A record');

    const tcp = await dig(digBin, port, ['big.service.consul', 'SRV', '+tcp']);
    t.notOk(tcp.flags.includes('tc'));
    t.equal(tcp.answer.length, n, 'all 60 over TCP');
    t.ok(tcp.answer.every((a) => a[1] === '7'), 'dns_config.service_ttl by prefix');
    t.equal(tcp.additional.filter((a) => a[3] === 'A').length, n, 'with 60 A records');

    const aUdp = await dig(digBin, port, ['big.service.consul', 'A', '+ignore', '+noedns']);
    t.ok(aUdp.flags.includes('tc') && aUdp.answer.length < n, `A over UDP: TC with ${aUdp.answer.length}`);
    const fallback = await dig(digBin, port, ['big.service.consul', 'A', '+noedns']);
    t.equal(fallback.answer.length, n, 'dig falls back to TCP on TC and gets all 60');
    t.equal((await resolver.resolve4('big.service.consul')).length, n, 'so does node:dns');
  });

  await t.test('garbage never takes the server down: FORMERR when a header can be read, else silence', async (t) => {
    const formErr = (b: Buffer | undefined) => b !== undefined && dnsPacket.decode(b).type === 'response' && (b.readUInt16BE(2) & 0xf) === 1;
    const headerOnly = Buffer.from([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]); // one question promised, none there
    const cut = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'web.service.consul' }] }).subarray(0, 20);
    const u1 = await udpExchange(port, headerOnly);
    t.ok(formErr(u1), 'UDP: a header without its question → FORMERR');
    t.equal(u1?.readUInt16BE(0), 0xbeef, 'with the query id');
    t.ok(formErr(await udpExchange(port, cut)), 'UDP: a question cut short → FORMERR');
    t.equal(await udpExchange(port, Buffer.from([1, 2, 3, 4, 5]), 300), undefined, 'UDP: too short for a header → dropped');
    t.equal(await udpExchange(port, Buffer.alloc(0), 300), undefined, 'UDP: empty → dropped');
    const response = Buffer.from(headerOnly);
    response.writeUInt16BE(0x8000, 2);
    t.equal(await udpExchange(port, response, 300), undefined, 'UDP: a response is never answered');
    t.comment(`random bytes from SEED=${SEED}`);
    for (let i = 0; i < 50; i++) {
      const junk = junkBytes(1 + Math.floor(random() * 600));
      const out = await udpExchange(port, junk, 100);
      if (out) t.ok(out.length >= 12 && (out.readUInt16BE(2) & 0x8000) !== 0, `random ${junk.length} bytes: a response header`);
    }

    const frames = await tcpExchange(port, Buffer.concat([frame(headerOnly), frame(Buffer.from([9, 9, 9])), frame(cut)]), { expect: 2 });
    t.equal(frames.length, 2, 'TCP: one FORMERR per framed message with a header; the short one dropped');
    t.ok(frames.every((f) => formErr(f)));
    const partial = await tcpExchange(port, Buffer.from([0x00, 0x64, 1, 2, 3]), { timeoutMs: 1000 });
    t.same(partial, [], 'TCP: a frame cut short gets nothing, and the connection is closed after the client\'s');
    await tcpExchange(port, junkBytes(3000), { timeoutMs: 500 });

    const ok = dnsPacket.encode({ type: 'query', id: 99, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'web.service.consul' }] });
    const [viaTcp] = await tcpExchange(port, frame(ok), { expect: 1 });
    t.equal(viaTcp && dnsPacket.decode(viaTcp).answers?.length, 3, 'TCP still answers');
    const viaUdp = await udpExchange(port, ok);
    t.equal(viaUdp && dnsPacket.decode(viaUdp).answers?.length, 3, 'UDP still answers');
    t.equal(agent.proc.exitCode, null, 'the agent is running');
    t.notOk(agent.lines.some((l) => l.msg === 'dns query failed'), 'no query broke the responder');
  });

  await t.test('names outside the domain are refused; zone transfers are not implemented', async (t) => {
    t.equal((await dig(digBin, port, ['example.com'])).status, 'REFUSED');
    const axfr = dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: 'AXFR', name: 'consul' }] });
    const [out] = await tcpExchange(port, frame(axfr), { expect: 1 });
    t.equal(out && (out.readUInt16BE(2) & 0xf), 4, 'AXFR: NOTIMP');
  });
});
