import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import type { Reply, Rcode } from './answer.js';

/** Header bits (RFC 1035 §4.1.1) in dns-packet's 15-bit `flags` (QR is its `type`). */
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const TC = dnsPacket.TRUNCATED_RESPONSE;
const RD = dnsPacket.RECURSION_DESIRED;
const OPCODE_MASK = 0x7800;

/** The largest DNS message: TCP frames it with a 16-bit length. */
export const MAX_MESSAGE_BYTES = 65_535;
/** The largest UDP payload worth asking for (an IPv6 datagram's payload less headers, as Consul). */
export const MAX_UDP_BYTES = 65_535 - 68;

/** The query's EDNS record, when it has one. */
export function ednsOf(query: DecodedPacket): OptAnswer | undefined {
  return (query.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
}

/** How many bytes a UDP answer may take: 512 without EDNS, else the size the query advertises (never less than 512). */
export function udpLimit(query: DecodedPacket, base: number): number {
  const size = ednsOf(query)?.udpPayloadSize ?? 0;
  return Math.min(Math.max(base, size), MAX_UDP_BYTES);
}

export interface Encoded {
  bytes: Buffer;
  /** Answers were left out to fit. */
  trimmed: boolean;
  answers: number;
  of: number;
}

/**
 * The response to `query` carrying `reply`, at most `maxBytes` long. When
 * the whole answer does not fit, the authority section goes first, then as
 * many answers as fit are kept (with the additional records their SRV or NS
 * targets need) and, with `truncate`, TC is set so the client asks again
 * over TCP.
 */
export function encodeReply(query: DecodedPacket, reply: Reply, opts: { maxBytes: number; truncate: boolean }): Encoded {
  const opt = ednsOf(query);
  const extras: Answer[] = opt ? [responseOpt(opt)] : [];
  const make = (answers: Answer[], authorities: Answer[], additionals: Answer[], flags = 0): Packet => ({
    type: 'response', id: query.id ?? 0,
    flags: AA | ((query.flags ?? 0) & RD) | flags | (reply.rcode & 0xf),
    questions: query.questions ?? [], answers, authorities, additionals: [...additionals, ...extras],
  });
  const whole = make(reply.answers, reply.authorities, reply.additionals);
  const of = reply.answers.length;
  if (dnsPacket.encodingLength(whole) <= opts.maxBytes) return { bytes: dnsPacket.encode(whole), trimmed: false, answers: of, of };

  const fits = (n: number) => dnsPacket.encodingLength(make(reply.answers.slice(0, n), [], neededExtras(reply.answers.slice(0, n), reply.additionals))) <= opts.maxBytes;
  // largest n in [0, of] that fits: fits(0) holds unless the question alone is too big
  let lo = 0;
  let hi = of;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid; else hi = mid - 1;
  }
  const kept = reply.answers.slice(0, lo);
  const trimmed = lo < of;
  const packet = make(kept, [], neededExtras(kept, reply.additionals), trimmed && opts.truncate ? TC : 0);
  return { bytes: dnsPacket.encode(packet), trimmed, answers: lo, of };
}

/**
 * A header-only response to a message whose header could be read but whose
 * rest could not (FORMERR) or asks what Muster does not do (NOTIMP). Undefined
 * when the message is too short for a header or is itself a response: those
 * are dropped, never answered.
 */
export function headerOnlyReply(raw: Buffer, rcode: Rcode): Buffer | undefined {
  if (raw.length < 12) return undefined;
  const flags = raw.readUInt16BE(2);
  if (flags & 0x8000) return undefined;
  const out = Buffer.alloc(12);
  out.writeUInt16BE(raw.readUInt16BE(0), 0);
  out.writeUInt16BE(0x8000 | (flags & OPCODE_MASK) | (flags & RD) | (rcode & 0xf), 2);
  return out;
}

/** The additional records the kept answers point at (SRV targets, NS names). */
function neededExtras(answers: Answer[], additionals: Answer[]): Answer[] {
  const targets = new Set<string>();
  for (const a of answers) {
    if (a.type === 'SRV') targets.add(a.data.target.toLowerCase());
    else if (a.type === 'NS') targets.add(a.data.toLowerCase());
  }
  return additionals.filter((a) => targets.has(a.name.toLowerCase()));
}

function responseOpt(query: OptAnswer): OptAnswer {
  return {
    type: 'OPT', name: '.', udpPayloadSize: Math.min(Math.max(query.udpPayloadSize, 512), MAX_UDP_BYTES),
    extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [],
  };
}
