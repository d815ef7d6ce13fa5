import { isIP } from 'node:net';
import type { Answer, RecordType, StringAnswer } from 'dns-packet';
import type { ServiceHealth } from '../state/catalog.js';
import type { NodeRow } from '../state/types.js';
import { hexOfIp } from './query-name.js';

/** DNS response codes Muster sends (RFC 1035 §4.1.1). */
export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

export interface Question {
  name: string;
  /** dns-packet's name for the type (`A`, `SRV`, `UNKNOWN_65`, ...). */
  type: string;
}

/**
 * What the catalog said about the name asked: the input of the answer
 * builder, fetched beforehand (the builder does no I/O).
 * `outside`: not under the domain; `unknown`: under it but names nothing.
 */
export type Found =
  | { kind: 'outside' }
  | { kind: 'unknown' }
  | { kind: 'apex'; servers: ServiceHealth[] }
  | { kind: 'service'; entries: ServiceHealth[]; ttlSeconds: number }
  | { kind: 'node'; node: NodeRow | undefined }
  | { kind: 'addr'; ip: string };

export interface Reply {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export interface AnswerContext {
  /** Normalised (`consul`). */
  domain: string;
  datacenter: string;
  nodeTtlSeconds: number;
  onlyPassing: boolean;
  soa: { refresh: number; retry: number; expire: number; minTtl: number };
  maxNameservers: number;
  /** SOA serial: the time in seconds, as Consul. */
  nowSeconds: number;
  /** Returns the items in a random order (injected, so tests can pin it). */
  shuffle<T>(items: readonly T[]): T[];
}

/**
 * The reply to one question: pure, over data already read from the catalog.
 * Consul's rules: only instances without a critical (or maintenance) check,
 * and without a warning one under `only_passing`; shuffled; NXDOMAIN (with
 * the SOA) when nothing answers the name; NOERROR with no answer and the SOA
 * (NODATA) when the name exists but has no record of the type asked.
 */
export function answerQuestion(q: Question, found: Found, ctx: AnswerContext): Reply {
  const reply: Reply = { rcode: RCODE.noError, answers: [], authorities: [], additionals: [] };
  switch (found.kind) {
    case 'outside':
      reply.rcode = RCODE.refused; // no recursion: names outside the domain are someone else's
      return reply;
    case 'unknown':
      return negative(reply, RCODE.nxDomain, ctx);
    case 'apex':
      return answerApex(q, found.servers, reply, ctx);
    case 'service':
      return answerService(q, found.entries, found.ttlSeconds, reply, ctx);
    case 'node':
      if (!found.node) return negative(reply, RCODE.nxDomain, ctx);
      if (q.type === 'TXT' || q.type === 'ANY') reply.answers.push(...metaTxt(q.name, found.node, ctx.nodeTtlSeconds));
      if (q.type !== 'TXT') reply.answers.push(...addressRecords(q.name, found.node.address, q.type, ctx.nodeTtlSeconds));
      return reply.answers.length > 0 ? reply : negative(reply, RCODE.noError, ctx);
    case 'addr':
      reply.answers.push(...addressRecords(q.name, found.ip, q.type, ctx.nodeTtlSeconds));
      return reply.answers.length > 0 ? reply : negative(reply, RCODE.noError, ctx);
  }
}

/** Whether an instance is answered: Consul's health filter for DNS. */
export function isAnswerable(entry: ServiceHealth, onlyPassing: boolean): boolean {
  return entry.checks.every((c) => c.status === 'passing' || (c.status === 'warning' && !onlyPassing));
}

/** The SOA of the domain, as Consul writes it. */
export function soaRecord(ctx: AnswerContext): Answer {
  return {
    type: 'SOA', name: ctx.domain, ttl: ctx.soa.minTtl, class: 'IN',
    data: {
      mname: `ns.${ctx.domain}`, rname: `hostmaster.${ctx.domain}`, serial: ctx.nowSeconds >>> 0,
      refresh: ctx.soa.refresh, retry: ctx.soa.retry, expire: ctx.soa.expire, minimum: ctx.soa.minTtl,
    },
  };
}

/** `<node>.node.<dc>.<domain>`: where SRV answers point. */
export function nodeTarget(node: string, ctx: AnswerContext): string {
  return `${node}.node.${ctx.datacenter}.${ctx.domain}`;
}

function negative(reply: Reply, rcode: Rcode, ctx: AnswerContext): Reply {
  reply.rcode = rcode;
  reply.authorities.push(soaRecord(ctx));
  return reply;
}

function answerApex(q: Question, servers: ServiceHealth[], reply: Reply, ctx: AnswerContext): Reply {
  if (q.type !== 'SOA' && q.type !== 'NS' && q.type !== 'ANY') return negative(reply, RCODE.noError, ctx);
  const ns: Answer[] = [];
  const glue: Answer[] = [];
  const seen = new Set<string>();
  for (const e of ctx.shuffle(servers.filter((s) => isAnswerable(s, false)))) {
    if (seen.has(e.node.node) || ns.length >= ctx.maxNameservers) continue;
    seen.add(e.node.node);
    const target = nodeTarget(e.node.node, ctx);
    if (!isDnsName(target)) continue;
    ns.push({ type: 'NS', name: ctx.domain, ttl: ctx.nodeTtlSeconds, class: 'IN', data: target });
    glue.push(...addressRecords(target, e.node.address, 'ANY', ctx.nodeTtlSeconds).filter((r) => r.type !== 'CNAME'));
  }
  if (q.type === 'NS') {
    if (ns.length === 0) return negative(reply, RCODE.noError, ctx); // no healthy server known
    reply.answers.push(...ns);
  } else {
    reply.answers.push(soaRecord(ctx));
    if (q.type === 'ANY') reply.answers.push(...ns); else reply.authorities.push(...ns);
  }
  reply.additionals.push(...glue);
  return reply;
}

function answerService(q: Question, entries: ServiceHealth[], ttl: number, reply: Reply, ctx: AnswerContext): Reply {
  const healthy = ctx.shuffle(entries.filter((e) => isAnswerable(e, ctx.onlyPassing)));
  if (healthy.length === 0) return negative(reply, RCODE.nxDomain, ctx);
  if (q.type === 'SRV') {
    const seen = new Set<string>();
    const extraNames = new Set<string>();
    for (const e of healthy) {
      const addr = e.service.address || e.node.address;
      const key = `${e.node.node}:${addr}:${e.service.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const target = srvTarget(e, ctx);
      if (!isDnsName(target.name)) continue; // one unencodable node name must not spoil the whole answer
      reply.answers.push({
        type: 'SRV', name: q.name, ttl, class: 'IN',
        data: { priority: 1, weight: weightOf(e), port: e.service.port & 0xffff, target: target.name },
      });
      if (target.ip !== undefined && !extraNames.has(target.name)) {
        extraNames.add(target.name);
        reply.additionals.push(...addressRecords(target.name, target.ip, 'ANY', ttl));
      }
    }
  } else if (q.type === 'A' || q.type === 'AAAA' || q.type === 'ANY') {
    const ips: StringAnswer[] = [];
    const names: StringAnswer[] = [];
    const seen = new Set<string>();
    for (const e of healthy) {
      for (const r of addressRecords(q.name, e.service.address || e.node.address, q.type, ttl)) {
        const key = `${r.type}:${r.data}`;
        if (seen.has(key)) continue;
        seen.add(key);
        (r.type === 'CNAME' ? names : ips).push(r);
      }
    }
    // a name with a CNAME has no other data (RFC 1034 §3.6.2): addresses win, else one CNAME
    reply.answers.push(...(ips.length > 0 ? ips : names.slice(0, 1)));
  }
  return reply.answers.length > 0 ? reply : negative(reply, RCODE.noError, ctx);
}

/** Consul's SRV targets: the node's name when the instance uses the node's address, an `.addr.` name for another IP, else the host name. */
function srvTarget(e: ServiceHealth, ctx: AnswerContext): { name: string; ip: string | undefined } {
  const svc = e.service.address;
  if (svc === '' || svc === e.node.address) {
    return { name: nodeTarget(e.node.node, ctx), ip: isIP(e.node.address) ? e.node.address : undefined };
  }
  const hex = hexOfIp(svc);
  if (hex !== undefined) return { name: `${hex}.addr.${ctx.datacenter}.${ctx.domain}`, ip: svc };
  return { name: svc.replace(/\.+$/, ''), ip: undefined };
}

/** The SRV weight: the instance's passing or warning weight, as its checks stand. */
function weightOf(e: ServiceHealth): number {
  const warning = e.checks.some((c) => c.status === 'warning');
  const w = warning ? e.service.weights.warning : e.service.weights.passing;
  return Math.max(0, Math.min(0xffff, Math.trunc(w)));
}

/** A/AAAA for an IP of the asked family (ANY: either), a CNAME for a host name. */
function addressRecords(name: string, address: string, type: string, ttl: number): StringAnswer[] {
  const family = isIP(address);
  const want = (t: RecordType) => type === t || type === 'ANY';
  if (family === 4) return want('A') ? [{ type: 'A', name, ttl, class: 'IN', data: address }] : [];
  if (family === 6) return want('AAAA') ? [{ type: 'AAAA', name, ttl, class: 'IN', data: address }] : [];
  if (!isDnsName(address) || !(type === 'A' || type === 'AAAA' || type === 'ANY')) return [];
  return [{ type: 'CNAME', name, ttl, class: 'IN', data: address.replace(/\.+$/, '') }];
}

/**
 * Whether a name can be written in a DNS message: labels of 1 to 63 bytes,
 * 253 characters in all (RFC 1035 §2.3.4). Node names and service addresses
 * come from registrations, which Consul's rules do not hold to that.
 */
export function isDnsName(name: string): boolean {
  const n = name.replace(/\.$/, '');
  if (n === '' || n.length > 253) return false;
  return n.split('.').every((l) => l !== '' && Buffer.byteLength(l) <= 63);
}

/** Node metadata as TXT, RFC 1464 style (`key=value`; a `rfc1035-` key gives its value alone). */
function metaTxt(name: string, node: NodeRow, ttl: number): Answer[] {
  return Object.entries(node.meta).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => ({
    type: 'TXT', name, ttl, class: 'IN',
    data: chunks(k.toLowerCase().startsWith('rfc1035-') ? v : `${k.replace(/`/g, '``').replace(/=/g, '`=')}=${v}`),
  }));
}

/** A TXT string holds at most 255 bytes: longer text goes in several strings of one record. */
function chunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length > 0 ? out : [Buffer.alloc(0)];
}
