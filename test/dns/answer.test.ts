import t from 'tap';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, SrvAnswer } from 'dns-packet';
import { RCODE, answerQuestion, isAnswerable, isDnsName, type AnswerContext, type Found, type Reply } from '../../src/dns/answer.js';
import { encodeReply, headerOnlyReply, udpLimit } from '../../src/dns/message.js';
import { serviceTtlSeconds } from '../../src/dns/ttl.js';
import type { ServiceHealth } from '../../src/state/catalog.js';
import type { HealthStatus } from '../../src/agent/definition.js';
import type { NodeRow } from '../../src/state/types.js';

const ctx: AnswerContext = {
  domain: 'consul', datacenter: 'dc1', nodeTtlSeconds: 0, onlyPassing: false,
  soa: { refresh: 3600, retry: 600, expire: 86400, minTtl: 0 }, maxNameservers: 3, nowSeconds: 1_700_000_000,
  shuffle: (items) => [...items], // pinned: the order given
};

function node(name: string, address: string, meta: Record<string, string> = {}): NodeRow {
  return { id: `id-${name}`, node: name, address, datacenter: 'dc1', taggedAddresses: {}, meta, createIndex: 1, modifyIndex: 1 };
}

function entry(id: string, n: NodeRow, opts: { address?: string; port?: number; status?: HealthStatus[]; weights?: { passing: number; warning: number }; service?: string } = {}): ServiceHealth {
  return {
    node: n,
    service: {
      id, service: opts.service ?? 'web', tags: [], address: opts.address ?? '', port: opts.port ?? 80, meta: {},
      weights: opts.weights ?? { passing: 1, warning: 1 }, enableTagOverride: false, node: n.node, createIndex: 1, modifyIndex: 1,
    },
    checks: (opts.status ?? ['passing']).map((status, i) => ({
      checkId: `c${i}`, name: `c${i}`, status, notes: '', output: '', serviceId: id, type: 'ttl' as const, definition: {},
      node: n.node, serviceName: 'web', serviceTags: [], createIndex: 1, modifyIndex: 1,
    })),
  };
}

const n1 = node('n1', '10.0.0.1', { rack: 'r1', 'a=b': 'c' });
const n2 = node('n2', '10.0.0.2');
const n6 = node('n6', '2001:db8::6');
const q = (name: string, type: string) => ({ name, type });
const service = (entries: ServiceHealth[], ttlSeconds = 0): Found => ({ kind: 'service', entries, ttlSeconds });
const data = (rr: Answer[]) => rr.map((r) => (r.type === 'OPT' ? null : r.data));

t.test('A: one record per healthy instance, service address first, node address as fallback', async (t) => {
  const r = answerQuestion(q('web.service.consul', 'A'), service([entry('a', n1), entry('b', n2, { address: '10.9.9.9' }), entry('c', n6)]), ctx);
  t.equal(r.rcode, RCODE.noError);
  t.same(data(r.answers), ['10.0.0.1', '10.9.9.9'], 'the IPv6-only instance has no A record');
  t.same(r.answers.map((a) => a.name), ['web.service.consul', 'web.service.consul']);
  t.same(r.authorities, []);
});

t.test('AAAA: only IPv6 addresses; none is NODATA with the SOA', async (t) => {
  const six = answerQuestion(q('web.service.consul', 'AAAA'), service([entry('a', n1), entry('c', n6)]), ctx);
  t.same(data(six.answers), ['2001:db8::6']);
  const none = answerQuestion(q('web.service.consul', 'AAAA'), service([entry('a', n1)]), ctx);
  t.equal(none.rcode, RCODE.noError);
  t.same(none.answers, []);
  t.equal(none.authorities[0]?.type, 'SOA');
});

t.test('health: critical and maintenance are left out, warning only under only_passing', async (t) => {
  const entries = [
    entry('ok', n1), entry('warn', node('w', '10.0.0.3'), { status: ['passing', 'warning'] }),
    entry('crit', node('c', '10.0.0.4'), { status: ['passing', 'critical'] }), entry('maint', node('m', '10.0.0.5'), { status: ['maintenance'] }),
  ];
  t.same(data(answerQuestion(q('web.service.consul', 'A'), service(entries), ctx).answers), ['10.0.0.1', '10.0.0.3']);
  t.same(data(answerQuestion(q('web.service.consul', 'A'), service(entries), { ...ctx, onlyPassing: true }).answers), ['10.0.0.1']);
  t.notOk(isAnswerable(entries[2] as ServiceHealth, false));
});

t.test('no healthy instance (or none at all) is NXDOMAIN with the SOA in authority', async (t) => {
  for (const entries of [[], [entry('crit', n1, { status: ['critical'] })]]) {
    const r = answerQuestion(q('web.service.consul', 'A'), service(entries), ctx);
    t.equal(r.rcode, RCODE.nxDomain);
    t.same(r.answers, []);
    t.match(r.authorities, [{ type: 'SOA', name: 'consul', data: { mname: 'ns.consul', rname: 'hostmaster.consul', serial: 1_700_000_000, minimum: 0 } }]);
  }
  t.equal(answerQuestion(q('x.consul', 'A'), { kind: 'unknown' }, ctx).rcode, RCODE.nxDomain);
});

t.test('SRV: node target with its A record in additional, .addr. target for another IP, weights, dedup', async (t) => {
  const entries = [
    entry('a', n1, { port: 8080, weights: { passing: 10, warning: 1 } }),
    entry('a-again', n1, { port: 8080 }), // same node, address and port: one SRV
    entry('b', n2, { address: '10.9.9.9', port: 9090, status: ['warning'], weights: { passing: 10, warning: 3 } }),
    entry('c', n1, { address: '10.0.0.1', port: 8081 }), // the node's own address: the node's name
  ];
  const r = answerQuestion(q('web.service.consul', 'SRV'), service(entries, 30), ctx);
  t.same(r.answers.map((a) => (a as SrvAnswer).data), [
    { priority: 1, weight: 10, port: 8080, target: 'n1.node.dc1.consul' },
    { priority: 1, weight: 3, port: 9090, target: '0a090909.addr.dc1.consul' },
    { priority: 1, weight: 1, port: 8081, target: 'n1.node.dc1.consul' },
  ]);
  t.same(r.answers.map((a) => a.type === 'OPT' ? -1 : a.ttl), [30, 30, 30], 'the service TTL');
  t.same(r.additionals.map((a) => [a.name, a.type, a.type === 'OPT' ? '' : a.data]), [
    ['n1.node.dc1.consul', 'A', '10.0.0.1'],
    ['0a090909.addr.dc1.consul', 'A', '10.9.9.9'],
  ]);
});

t.test('host-name addresses: CNAME for A, the host as SRV target', async (t) => {
  const e = entry('ext', n1, { address: 'db.example.com' });
  t.match(answerQuestion(q('web.service.consul', 'A'), service([e]), ctx).answers, [{ type: 'CNAME', data: 'db.example.com' }]);
  const srv = answerQuestion(q('web.service.consul', 'SRV'), service([e]), ctx);
  t.match(srv.answers, [{ type: 'SRV', data: { target: 'db.example.com' } }]);
  t.same(srv.additionals, []);
  const mixed = answerQuestion(q('web.service.consul', 'A'), service([e, entry('ip', n2), entry('ext2', n1, { address: 'other.example.com' })]), ctx);
  t.same(mixed.answers.map((a) => a.type), ['A'], 'addresses win over CNAMEs: a name with a CNAME has no other data');
  const two = answerQuestion(q('web.service.consul', 'A'), service([e, entry('ext2', n1, { address: 'other.example.com' })]), ctx);
  t.same(two.answers.map((a) => a.type), ['CNAME'], 'at most one CNAME');
});

t.test('names DNS cannot carry are left out, not sent broken', async (t) => {
  const long = node('x'.repeat(64), '10.0.0.7');
  const r = answerQuestion(q('web.service.consul', 'SRV'), service([entry('a', n1), entry('long', long)]), ctx);
  t.same(r.answers.map((a) => (a as SrvAnswer).data.target), ['n1.node.dc1.consul']);
  t.same(answerQuestion(q('web.service.consul', 'A'), service([entry('bad', n1, { address: 'a..b' })]), ctx).answers, []);
  t.ok(isDnsName('a.b.c.'));
  t.notOk(isDnsName(`${'a'.repeat(63)}.${'b'.repeat(64)}`));
  t.notOk(isDnsName('a'.repeat(60).split('').join('.') + '.'.repeat(0) + '.x'.repeat(100)));
});

t.test('unsupported types for an existing name: NODATA with the SOA', async (t) => {
  for (const type of ['MX', 'TXT', 'UNKNOWN_65', 'PTR']) {
    const r = answerQuestion(q('web.service.consul', type), service([entry('a', n1)]), ctx);
    t.equal(r.rcode, RCODE.noError, type);
    t.same(r.answers, []);
    t.equal(r.authorities[0]?.type, 'SOA');
  }
});

t.test('shuffled: the order is the context\'s shuffle', async (t) => {
  const reversed = { ...ctx, shuffle: <T>(items: readonly T[]) => [...items].reverse() };
  t.same(data(answerQuestion(q('web.service.consul', 'A'), service([entry('a', n1), entry('b', n2)]), reversed).answers), ['10.0.0.2', '10.0.0.1']);
});

t.test('nodes: A, AAAA, TXT from meta, NXDOMAIN when unknown', async (t) => {
  t.match(answerQuestion(q('n1.node.consul', 'A'), { kind: 'node', node: n1 }, ctx), { rcode: 0, answers: [{ type: 'A', name: 'n1.node.consul', data: '10.0.0.1' }] });
  const txt = answerQuestion(q('n1.node.consul', 'TXT'), { kind: 'node', node: n1 }, ctx);
  t.same(txt.answers.map((a) => (a.type === 'TXT' ? Buffer.concat(a.data as Buffer[]).toString() : '')), ['a`=b=c', 'rack=r1']);
  t.same(answerQuestion(q('n1.node.consul', 'AAAA'), { kind: 'node', node: n1 }, ctx).answers, []);
  t.equal(answerQuestion(q('nope.node.consul', 'A'), { kind: 'node', node: undefined }, ctx).rcode, RCODE.nxDomain);
  t.match(answerQuestion(q('7f000001.addr.consul', 'A'), { kind: 'addr', ip: '127.0.0.1' }, ctx).answers, [{ type: 'A', data: '127.0.0.1' }]);
});

t.test('apex: SOA with NS and glue, NS with glue, other types NODATA', async (t) => {
  const servers = [entry('consul', n1, { service: 'consul' }), entry('consul', n2, { service: 'consul' })];
  const soa = answerQuestion(q('consul', 'SOA'), { kind: 'apex', servers }, ctx);
  t.match(soa.answers, [{ type: 'SOA', name: 'consul' }]);
  t.same(soa.authorities.map((a) => a.type === 'NS' && a.data), ['n1.node.dc1.consul', 'n2.node.dc1.consul']);
  t.same(soa.additionals.map((a) => a.name), ['n1.node.dc1.consul', 'n2.node.dc1.consul']);
  const ns = answerQuestion(q('consul', 'NS'), { kind: 'apex', servers }, { ...ctx, maxNameservers: 1 });
  t.same(ns.answers.map((a) => a.type === 'NS' && a.data), ['n1.node.dc1.consul'], 'at most maxNameservers');
  t.same(ns.additionals.map((a) => a.name), ['n1.node.dc1.consul']);
  t.match(answerQuestion(q('consul', 'NS'), { kind: 'apex', servers: [] }, ctx), { rcode: 0, answers: [], authorities: [{ type: 'SOA' }] }, 'no server: NODATA');
  const a = answerQuestion(q('consul', 'A'), { kind: 'apex', servers }, ctx);
  t.match(a, { rcode: 0, answers: [], authorities: [{ type: 'SOA' }] });
});

t.test('names outside the domain are refused (no recursion)', async (t) => {
  t.equal(answerQuestion(q('example.com', 'A'), { kind: 'outside' }, ctx).rcode, RCODE.refused);
});

t.test('serviceTtlSeconds: exact name, then the longest prefix*, then 0', async (t) => {
  const ttl = { '*': 5000, 'db*': 10_000, 'db-main*': 20_000, web: 30_500 };
  t.equal(serviceTtlSeconds(ttl, 'web'), 30);
  t.equal(serviceTtlSeconds(ttl, 'db-main-1'), 20);
  t.equal(serviceTtlSeconds(ttl, 'db-other'), 10);
  t.equal(serviceTtlSeconds(ttl, 'cache'), 5);
  t.equal(serviceTtlSeconds({}, 'web'), 0);
});

// ---- encoding within a size ----

function query(name: string, type: dnsPacket.RecordType, edns?: number): DecodedPacket {
  const additionals: dnsPacket.Answer[] = edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  return dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], additionals }));
}

function manyInstances(n: number): Found {
  return service(Array.from({ length: n }, (_, i) => entry(`w${i}`, node(`node-${String(i).padStart(3, '0')}`, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`), { port: 8000 + i })));
}

t.test('encodeReply: a whole answer as it is', async (t) => {
  const qry = query('web.service.consul', 'A');
  const reply = answerQuestion({ name: 'web.service.consul', type: 'A' }, manyInstances(3), ctx);
  const out = encodeReply(qry, reply, { maxBytes: 512, truncate: true });
  const back = dnsPacket.decode(out.bytes);
  t.equal(back.id, 4242);
  t.equal(back.type, 'response');
  t.ok(back.flag_aa, 'authoritative');
  t.ok(back.flag_rd, 'RD copied');
  t.notOk(back.flag_tc);
  t.equal(back.answers?.length, 3);
  t.same(back.questions, qry.questions);
});

t.test('encodeReply: too big for 512 bytes → as many SRV answers as fit, their glue, TC', async (t) => {
  const qry = query('web.service.consul', 'SRV');
  const reply = answerQuestion({ name: 'web.service.consul', type: 'SRV' }, manyInstances(60), ctx);
  const out = encodeReply(qry, reply, { maxBytes: 512, truncate: true });
  t.ok(out.bytes.length <= 512, `${out.bytes.length} bytes`);
  t.ok(out.trimmed);
  const back = dnsPacket.decode(out.bytes);
  t.ok(back.flag_tc, 'TC set');
  const answers = back.answers ?? [];
  t.ok(answers.length > 0 && answers.length < 60, `${answers.length} answers kept`);
  t.same((back.additionals ?? []).map((a) => a.name).sort(), answers.map((a) => (a as SrvAnswer).data.target).sort(), 'glue only for the kept targets');
  // one more answer would not have fitted
  const more = encodeReply(qry, { ...reply, answers: reply.answers.slice(0, answers.length + 1) }, { maxBytes: 100_000, truncate: true });
  t.ok(more.bytes.length > 512);

  const quiet = dnsPacket.decode(encodeReply(qry, reply, { maxBytes: 512, truncate: false }).bytes);
  t.notOk(quiet.flag_tc, 'enable_truncate off: trimmed without TC (Consul\'s default)');
});

t.test('encodeReply: the EDNS size raises the limit, and the OPT is echoed', async (t) => {
  const qry = query('web.service.consul', 'A', 4096);
  t.equal(udpLimit(qry, 512), 4096);
  t.equal(udpLimit(query('x.consul', 'A', 100), 512), 512, 'never below 512');
  t.equal(udpLimit(query('x.consul', 'A'), 512), 512);
  const reply: Reply = answerQuestion({ name: 'web.service.consul', type: 'A' }, manyInstances(60), ctx);
  const out = encodeReply(qry, reply, { maxBytes: udpLimit(qry, 512), truncate: true });
  const back = dnsPacket.decode(out.bytes);
  t.notOk(back.flag_tc);
  t.equal(back.answers?.length, 60);
  t.match(back.additionals, [{ type: 'OPT' }]);
});

t.test('encodeReply: authority goes before answers', async (t) => {
  const qry = query('web.service.consul', 'A');
  const reply: Reply = { rcode: 0, answers: [{ type: 'A', name: 'web.service.consul', data: '10.0.0.1' }], authorities: Array.from({ length: 20 }, () => ({ type: 'SOA', name: 'consul', data: { mname: 'ns.consul', rname: 'hostmaster.consul' } })), additionals: [] };
  const back = dnsPacket.decode(encodeReply(qry, reply, { maxBytes: 512, truncate: true }).bytes);
  t.equal(back.answers?.length, 1);
  t.same(back.authorities, []);
  t.notOk(back.flag_tc, 'no answer was lost');
});

t.test('headerOnlyReply: FORMERR keeps the id and opcode; short messages and responses get nothing', async (t) => {
  const raw = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]);
  const out = headerOnlyReply(raw, RCODE.formErr);
  t.ok(out);
  const back = dnsPacket.decode(out as Buffer);
  t.equal(back.id, 0x1234);
  t.equal(back.type, 'response');
  t.equal((back as DecodedPacket & { rcode: string }).rcode, 'FORMERR');
  t.equal(headerOnlyReply(Buffer.alloc(11), RCODE.formErr), undefined);
  t.equal(headerOnlyReply(Buffer.from([0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]), RCODE.formErr), undefined);
});
