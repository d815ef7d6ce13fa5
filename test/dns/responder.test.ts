import t from 'tap';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { DnsResponder } from '../../src/dns/responder.js';
import type { HealthReader } from '../../src/agent/health-reader.js';
import type { ServiceHealth } from '../../src/state/catalog.js';
import type { NodeRow } from '../../src/state/types.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { silentLogger } from '../../src/log.js';
import { mulberry32 } from '../helpers/prng.js';

const SEED = Number(process.env['SEED'] ?? Date.now() % 1_000_000);

const n1: NodeRow = { id: 'id1', node: 'n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {}, createIndex: 1, modifyIndex: 1 };
const web: ServiceHealth = {
  node: n1,
  service: { id: 'web1', service: 'web', tags: ['v1'], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, node: 'n1', createIndex: 1, modifyIndex: 1 },
  checks: [],
};

function responder(reader: Partial<HealthReader> = {}): DnsResponder {
  const full: HealthReader = {
    serviceHealth: (name, tag) => Promise.resolve(name === 'web' && (tag === undefined || tag === 'v1') ? [web] : []),
    node: (name) => Promise.resolve(name === 'n1' ? n1 : undefined),
    ...reader,
  };
  const dns = { serviceTtlMs: {}, nodeTtlMs: 0, onlyPassing: false, enableTruncate: true, soa: { ...DEFAULTS.dns.soa } };
  return new DnsResponder({ domain: 'consul.', datacenter: 'dc1', dns }, { reader: full, log: silentLogger(), random: mulberry32(SEED), now: () => 1_700_000_000_000 });
}

const rcodeOf = (b: Buffer | undefined) => (b === undefined ? undefined : b.readUInt16BE(2) & 0xf);
const query = (q: dnsPacket.Question, extra: Partial<dnsPacket.Packet> = {}) => dnsPacket.encode({ type: 'query', id: 321, questions: [q], ...extra });

t.test('a query is answered through the reader', async (t) => {
  const out = await responder().respond(query({ type: 'A', name: 'web.service.consul' }), 'udp');
  const back = dnsPacket.decode(out as Buffer);
  t.equal(back.id, 321);
  t.same(back.answers?.map((a) => a.type !== 'OPT' && a.data), ['10.0.0.1']);
});

t.test('what is not a plain query gets the right code', async (t) => {
  const r = responder();
  t.equal(rcodeOf(await r.respond(query({ type: 'AXFR', name: 'consul' }), 'tcp')), 4, 'AXFR: NOTIMP');
  t.equal(rcodeOf(await r.respond(query({ type: 'A', name: 'web.service.consul', class: 'CH' }), 'udp')), 5, 'class CH: REFUSED');
  const notify = Buffer.from(query({ type: 'SOA', name: 'consul' }));
  notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2);
  t.equal(rcodeOf(await r.respond(notify, 'udp')), 4, 'opcode NOTIFY: NOTIMP');
  const two = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.consul' }, { type: 'A', name: 'b.consul' }] });
  t.equal(rcodeOf(await r.respond(two, 'udp')), 1, 'two questions: FORMERR');
  const none = dnsPacket.encode({ type: 'query', id: 1, questions: [] });
  t.equal(rcodeOf(await r.respond(none, 'udp')), 1, 'no question: FORMERR');
  const odd = query({ type: 'A', name: 'we\u0001b.service.consul' });
  t.equal(rcodeOf(await r.respond(odd, 'udp')), 1, 'a name that would not echo back: FORMERR');
});

t.test('a failing read is SERVFAIL, with the question', async (t) => {
  const r = responder({ serviceHealth: () => Promise.reject(new Error('No known Consul servers')) });
  const out = await r.respond(query({ type: 'SRV', name: 'web.service.consul' }), 'udp');
  const back = dnsPacket.decode(out as Buffer) as DecodedPacket & { rcode: string };
  t.equal(back.rcode, 'SERVFAIL');
  t.same(back.questions, [{ name: 'web.service.consul', type: 'SRV', class: 'IN' }]);
});

t.test(`fuzz: mutated and random messages never throw, and every answer decodes (SEED=${SEED})`, async (t) => {
  const rnd = mulberry32(SEED);
  const r = responder();
  const seeds = [
    query({ type: 'A', name: 'web.service.consul' }),
    query({ type: 'SRV', name: '_web._v1.service.dc1.consul' }, { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] }),
    query({ type: 'TXT', name: 'n1.node.consul' }),
    query({ type: 'NS', name: 'consul' }),
  ];
  let answered = 0;
  for (let i = 0; i < 3000; i++) {
    let msg: Buffer;
    if (i % 4 === 3) {
      msg = Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
    } else {
      msg = Buffer.from(seeds[i % seeds.length] as Buffer);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rnd() * msg.length);
        msg[at] = (msg[at] as number) ^ (1 << Math.floor(rnd() * 8));
      }
      if (rnd() < 0.3) msg = msg.subarray(0, Math.floor(rnd() * msg.length));
    }
    const out = await r.respond(msg, rnd() < 0.5 ? 'udp' : 'tcp');
    if (out === undefined) {
      if (msg.length >= 12 && (msg.readUInt16BE(2) & 0x8000) === 0) t.fail(`a query with a header got no answer: ${msg.toString('hex')}`);
      continue;
    }
    answered++;
    let back: DecodedPacket;
    try {
      back = dnsPacket.decode(out);
    } catch (err) {
      t.fail(`undecodable answer to ${msg.toString('hex')}: ${(err as Error).message}`);
      continue;
    }
    if (back.type !== 'response' || back.id !== msg.readUInt16BE(0)) t.fail(`bad header for ${msg.toString('hex')}`);
  }
  t.ok(answered > 1000, `${answered} of 3000 answered`);
});
