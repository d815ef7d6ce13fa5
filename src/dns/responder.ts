import * as dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { DnsConfig } from '../config/types.js';
import type { HealthReader } from '../agent/health-reader.js';
import { DEFAULTS } from '../config/defaults.js';
import { RCODE, answerQuestion, type AnswerContext, type Found, type Question, type Reply } from './answer.js';
import { encodeReply, headerOnlyReply, MAX_MESSAGE_BYTES, udpLimit } from './message.js';
import { isUnderDomain, normaliseDomain, parseQueryName, type Lookup } from './query-name.js';
import { seconds, serviceTtlSeconds } from './ttl.js';

export type Transport = 'udp' | 'tcp';

export interface ResponderConfig {
  domain: string;
  datacenter: string;
  dns: DnsConfig;
}

export interface ResponderDeps {
  reader: HealthReader;
  log: Logger;
  /** Uniform in [0, 1); shuffles answers. */
  random?: () => number;
  /** Wall-clock ms, for the SOA serial. */
  now?: () => number;
}

/** The service whose instances answer for the domain's NS records (the servers), as Consul. */
const SERVER_SERVICE = 'consul';

/**
 * One DNS message in, one out: decode, parse the name, read the catalog
 * through the agent's HealthReader, build the answer, encode it within the
 * transport's size. Malformed input is logged at debug and answered with
 * FORMERR when its header can be read, otherwise dropped; it never throws.
 */
export class DnsResponder {
  private readonly domain: string;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly config: ResponderConfig, private readonly deps: ResponderDeps) {
    this.domain = normaliseDomain(config.domain);
    this.log = deps.log;
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  /** The response bytes for `raw`, or undefined when nothing should be sent back. */
  async respond(raw: Buffer, transport: Transport): Promise<Buffer | undefined> {
    try {
      return await this.respondOrThrow(raw, transport);
    } catch (err) {
      // a bug in building the answer must not take the server down: SERVFAIL if we can
      this.log.error({ err: errorMessage(err) }, 'dns query failed');
      return headerOnlyReply(raw, RCODE.servFail);
    }
  }

  private async respondOrThrow(raw: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (raw.length < 12) {
      this.log.debug({ bytes: raw.length, transport }, 'dropped a dns message too short for a header');
      return undefined;
    }
    if (raw.readUInt16BE(2) & 0x8000) {
      this.log.debug({ transport }, 'dropped a dns response sent to the server');
      return undefined;
    }
    const opcode = (raw.readUInt16BE(2) >> 11) & 0xf;
    if (opcode !== 0) {
      this.log.debug({ opcode, transport }, 'dns opcode not implemented');
      return headerOnlyReply(raw, RCODE.notImp);
    }
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(raw);
    } catch (err) {
      this.log.debug({ err: errorMessage(err), bytes: raw.length, transport }, 'malformed dns query');
      return headerOnlyReply(raw, RCODE.formErr);
    }
    const questions = query.questions ?? [];
    const q = questions[0];
    if (questions.length !== 1 || !q || !encodable(q.name)) {
      this.log.debug({ questions: questions.length, transport }, 'malformed dns query: not one well-formed question');
      return headerOnlyReply(raw, RCODE.formErr);
    }
    const question: Question = { name: q.name, type: q.type };
    let reply: Reply;
    if (q.type === 'AXFR' || q.type === 'IXFR') {
      reply = { rcode: RCODE.notImp, answers: [], authorities: [], additionals: [] };
    } else if (q.class !== undefined && q.class !== 'IN' && q.class !== 'ANY') {
      reply = { rcode: RCODE.refused, answers: [], authorities: [], additionals: [] };
    } else {
      let found: Found;
      try {
        found = await this.find(q.name);
      } catch (err) {
        this.log.warn({ err: errorMessage(err), qname: q.name }, 'dns lookup failed');
        reply = { rcode: RCODE.servFail, answers: [], authorities: [], additionals: [] };
        return this.encode(query, reply, transport);
      }
      reply = answerQuestion(question, found, this.context());
    }
    return this.encode(query, reply, transport);
  }

  private encode(query: DecodedPacket, reply: Reply, transport: Transport): Buffer {
    const maxBytes = transport === 'udp' ? udpLimit(query, DEFAULTS.dns.udpMaxBytes) : MAX_MESSAGE_BYTES;
    const out = encodeReply(query, reply, { maxBytes, truncate: transport === 'udp' && this.config.dns.enableTruncate });
    const q = query.questions?.[0];
    if (out.trimmed) this.log.debug({ qname: q?.name, transport, answers: out.answers, of: out.of, maxBytes }, 'dns answer trimmed to fit');
    if (this.log.isLevelEnabled('trace')) this.log.trace({ qname: q?.name, qtype: q?.type, rcode: reply.rcode, answers: out.answers, transport }, 'dns query');
    return out.bytes;
  }

  /** Reads what the catalog knows about `name`. */
  private async find(name: string): Promise<Found> {
    if (!isUnderDomain(name, this.domain)) return { kind: 'outside' };
    const lookup = parseQueryName(name, this.domain);
    if (!lookup) {
      this.log.debug({ qname: name }, 'dns name not understood');
      return { kind: 'unknown' };
    }
    if (lookup.kind !== 'apex' && !this.isOwnDatacenter(lookup)) return { kind: 'unknown' };
    const reader = this.deps.reader;
    switch (lookup.kind) {
      case 'apex':
        return { kind: 'apex', servers: await reader.serviceHealth(SERVER_SERVICE, undefined) };
      case 'service': {
        const entries = await reader.serviceHealth(lookup.service, lookup.tag);
        const registered = entries[0]?.service.service ?? lookup.service;
        return { kind: 'service', entries, ttlSeconds: serviceTtlSeconds(this.config.dns.serviceTtlMs, registered) };
      }
      case 'node':
        return { kind: 'node', node: await reader.node(lookup.node) };
      case 'addr':
        return { kind: 'addr', ip: lookup.ip };
    }
  }

  /** Only one datacenter exists: a name naming another is NXDOMAIN (Consul: "No path to datacenter"). */
  private isOwnDatacenter(lookup: Exclude<Lookup, { kind: 'apex' }>): boolean {
    return lookup.datacenter === undefined || lookup.datacenter === this.config.datacenter.toLowerCase();
  }

  private context(): AnswerContext {
    const dns = this.config.dns;
    return {
      domain: this.domain,
      datacenter: this.config.datacenter,
      nodeTtlSeconds: seconds(dns.nodeTtlMs),
      onlyPassing: dns.onlyPassing,
      soa: dns.soa,
      maxNameservers: DEFAULTS.dns.maxNameservers,
      nowSeconds: Math.floor(this.now() / 1000),
      shuffle: (items) => shuffle(items, this.random),
    };
  }
}

/** Fisher–Yates over a copy. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Whether a decoded name encodes back to what was asked: dns-packet joins
 * labels with dots and reads bytes as UTF-8, so a label holding a dot or
 * bytes outside printable ASCII would be echoed as a different name.
 */
function encodable(name: string): boolean {
  if (name.length > 253) return false;
  if (name === '' || name === '.') return true;
  return name.replace(/\.$/, '').split('.').every((l) => l.length > 0 && l.length <= 63 && /^[\x21-\x7e]+$/.test(l));
}
