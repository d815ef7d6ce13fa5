import type { MemberState, Tags } from './members.js';
import type { DropReason } from './stats.js';
import { WireError, WireReader, WireWriter } from './wire-codec.js';

/**
 * The gossip wire format.
 *
 * A UDP packet is compound: a header, then one or more length-prefixed messages
 * (the first is the packet's purpose, the rest are piggybacked broadcasts):
 *
 *   magic 0x4D ('M') | version u8 | count u8 (1..255) | count × (type u8 | length u16 | body)
 *
 * A stream frame (TCP, one each way per exchange) holds exactly one message:
 *
 *   magic 0x4D | version u8 | type u8 | body (to the end of the frame)
 *
 * Integers are big-endian; strings are UTF-8 with a one-byte (str8) or two-byte
 * (str16) length. Decoding is defensive: every length is checked, values are
 * range-checked, trailing bytes are an error, and the decoders return a drop
 * reason instead of throwing.
 */

export const MAGIC = 0x4d;
/** The protocol version this member speaks; a packet with another version is dropped. */
export const WIRE_VERSION = 1;
export const PACKET_HEADER_BYTES = 3;
export const MESSAGE_HEADER_BYTES = 3;
/** The largest UDP payload IPv4 can carry. */
export const MAX_PACKET_BYTES = 65_507;
/** The largest stream frame accepted (memberlist's limit on push-pull state). */
export const MAX_FRAME_BYTES = 20 * 1024 * 1024;
/** Encoded tags may not exceed this (memberlist's MetaMaxSize). */
export const MAX_TAGS_BYTES = 512;

/**
 * Message type numbers are part of the protocol: ONLY APPEND to this list.
 * Never renumber an entry or reuse a retired number; a member that meets a
 * number it does not know drops the packet ('unknown-type').
 */
export const MessageType = {
  ping: 1,
  indirectPing: 2,
  ack: 3,
  nack: 4,
  alive: 5,
  suspect: 6,
  dead: 7,
  pushPull: 8, // stream only
  streamError: 9, // stream only
} as const;

/** Member states on the wire; part of the protocol, append-only like MessageType. */
const STATE_CODES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface PingMsg { type: 'ping'; seq: number; target: string; source: string }
/** SWIM ping-req: "ping `target` at addr:port for me and ack me with `seq`". */
export interface IndirectPingMsg { type: 'indirect-ping'; seq: number; target: string; addr: string; port: number; nack: boolean }
export interface AckMsg { type: 'ack'; seq: number }
/** An intermediary's "I asked, the target did not answer in time" (Lifeguard). */
export interface NackMsg { type: 'nack'; seq: number }
export interface AliveMsg { type: 'alive'; incarnation: number; name: string; addr: string; port: number; tags: Tags }
export interface SuspectMsg { type: 'suspect'; incarnation: number; name: string; from: string }
/** `from === name` means the member left gracefully. */
export interface DeadMsg { type: 'dead'; incarnation: number; name: string; from: string }

export type PacketMessage = PingMsg | IndirectPingMsg | AckMsg | NackMsg | AliveMsg | SuspectMsg | DeadMsg;

export interface PushPullEntry { name: string; addr: string; port: number; incarnation: number; state: MemberState; tags: Tags }
export interface PushPullMsg { type: 'push-pull'; join: boolean; members: PushPullEntry[] }

/** Why a stream peer refused our frame; sent in plaintext so either side can tell. */
export type StreamErrorReason = 'decrypt-failed' | 'plaintext' | 'unexpected-encryption' | 'malformed' | 'refused';
const STREAM_ERROR_CODES: readonly StreamErrorReason[] = ['decrypt-failed', 'plaintext', 'unexpected-encryption', 'malformed', 'refused'];
export interface StreamErrorMsg { type: 'stream-error'; reason: StreamErrorReason }

export type StreamMessage = PushPullMsg | StreamErrorMsg;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: DropReason; detail: string };

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}

// ---- encoding ----------------------------------------------------------------

function writeTags(w: WireWriter, tags: Tags): void {
  const keys = Object.keys(tags).sort();
  w.u8(keys.length);
  for (const k of keys) w.str8(k).str16(tags[k] ?? '');
}

/** Bytes `tags` take on the wire (checked against MAX_TAGS_BYTES). */
export function encodedTagsSize(tags: Tags): number {
  const w = new WireWriter(64);
  if (Object.keys(tags).length > 255) return Infinity;
  writeTags(w, tags);
  return w.length;
}

function writeBody(w: WireWriter, m: PacketMessage): number {
  switch (m.type) {
    case 'ping': w.u32(m.seq).str8(m.target).str8(m.source); return MessageType.ping;
    case 'indirect-ping': w.u32(m.seq).str8(m.target).str8(m.addr).u16(m.port).u8(m.nack ? 1 : 0); return MessageType.indirectPing;
    case 'ack': w.u32(m.seq); return MessageType.ack;
    case 'nack': w.u32(m.seq); return MessageType.nack;
    case 'alive': w.u32(m.incarnation).str8(m.name).str8(m.addr).u16(m.port); writeTags(w, m.tags); return MessageType.alive;
    case 'suspect': w.u32(m.incarnation).str8(m.name).str8(m.from); return MessageType.suspect;
    case 'dead': w.u32(m.incarnation).str8(m.name).str8(m.from); return MessageType.dead;
    default: return assertNever(m);
  }
}

/** One message with its type and length header, ready to be placed in a packet. */
export function encodeMessage(m: PacketMessage): Uint8Array {
  const w = new WireWriter(64);
  w.u8(0).u16(0);
  const type = writeBody(w, m);
  const bytes = w.finish();
  bytes[0] = type;
  const len = bytes.length - MESSAGE_HEADER_BYTES;
  bytes[1] = (len >>> 8) & 0xff;
  bytes[2] = len & 0xff;
  return bytes;
}

/** A compound packet from messages made by encodeMessage (1..255 of them). */
export function assemblePacket(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length < 1 || parts.length > 255) throw new RangeError(`a packet holds 1..255 messages, not ${parts.length}`);
  let size = PACKET_HEADER_BYTES;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  out[0] = MAGIC;
  out[1] = WIRE_VERSION;
  out[2] = parts.length;
  let at = PACKET_HEADER_BYTES;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function encodePacket(messages: readonly PacketMessage[]): Uint8Array {
  return assemblePacket(messages.map(encodeMessage));
}

export function encodeFrame(m: StreamMessage): Uint8Array {
  const w = new WireWriter(m.type === 'push-pull' ? 64 + m.members.length * 48 : 8);
  w.u8(MAGIC).u8(WIRE_VERSION);
  switch (m.type) {
    case 'push-pull':
      w.u8(MessageType.pushPull).u8(m.join ? 1 : 0).u32(m.members.length);
      for (const e of m.members) {
        w.str8(e.name).str8(e.addr).u16(e.port).u32(e.incarnation).u8(STATE_CODES.indexOf(e.state));
        writeTags(w, e.tags);
      }
      break;
    case 'stream-error':
      w.u8(MessageType.streamError).u8(STREAM_ERROR_CODES.indexOf(m.reason));
      break;
    default:
      assertNever(m);
  }
  return w.finish();
}

// ---- decoding ----------------------------------------------------------------

function readName(r: WireReader, what: string): string {
  const s = r.str8(what);
  if (s.length === 0) throw new WireError('malformed', `${what} is empty`);
  return s;
}

function readTags(r: WireReader): Tags {
  const n = r.u8('tag count');
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < n; i++) {
    const k = r.str8('tag key');
    if (Object.hasOwn(tags, k)) throw new WireError('malformed', `duplicate tag ${k}`);
    tags[k] = r.str16('tag value');
  }
  return { ...tags };
}

function readState(r: WireReader): MemberState {
  const code = r.u8('state');
  const state = STATE_CODES[code];
  if (state === undefined) throw new WireError('malformed', `unknown member state ${code}`);
  return state;
}

function readBody(type: number, r: WireReader): PacketMessage {
  switch (type) {
    case MessageType.ping: return { type: 'ping', seq: r.u32('seq'), target: r.str8('target'), source: r.str8('source') };
    case MessageType.indirectPing: {
      const seq = r.u32('seq');
      const target = readName(r, 'target');
      const addr = readName(r, 'target addr');
      const port = r.u16('target port');
      const flag = r.u8('nack flag');
      if (flag > 1) throw new WireError('malformed', `nack flag ${flag}`);
      return { type: 'indirect-ping', seq, target, addr, port, nack: flag === 1 };
    }
    case MessageType.ack: return { type: 'ack', seq: r.u32('seq') };
    case MessageType.nack: return { type: 'nack', seq: r.u32('seq') };
    case MessageType.alive: {
      const incarnation = r.u32('incarnation');
      const name = readName(r, 'name');
      const addr = readName(r, 'addr');
      return { type: 'alive', incarnation, name, addr, port: r.u16('port'), tags: readTags(r) };
    }
    case MessageType.suspect:
    case MessageType.dead: {
      const incarnation = r.u32('incarnation');
      const name = readName(r, 'name');
      const from = readName(r, 'from');
      return type === MessageType.suspect ? { type: 'suspect', incarnation, name, from } : { type: 'dead', incarnation, name, from };
    }
    case MessageType.pushPull:
    case MessageType.streamError:
      throw new WireError('malformed', `stream message type ${type} in a packet`);
    default:
      throw new WireError('unknown-type', `unknown message type ${type}`);
  }
}

function checkHeader(data: Uint8Array, max: number, headerBytes: number): void {
  if (data.length > max) throw new WireError('oversized', `${data.length} bytes exceeds ${max}`);
  if (data.length < 1) throw new WireError('truncated', 'empty');
  if (data[0] !== MAGIC) throw new WireError('bad-magic', `first byte 0x${(data[0] as number).toString(16)}`);
  if (data.length < 2) throw new WireError('truncated', 'no version byte');
  if (data[1] !== WIRE_VERSION) throw new WireError('unknown-version', `protocol version ${data[1] as number}`);
  if (data.length < headerBytes) throw new WireError('truncated', 'header cut short');
}

function failure<T>(err: unknown): Decoded<T> {
  if (err instanceof WireError) return { ok: false, reason: err.reason, detail: err.message };
  if (err instanceof RangeError) return { ok: false, reason: 'malformed', detail: err.message };
  return { ok: false, reason: 'internal', detail: err instanceof Error ? err.message : String(err) };
}

/** Decodes a compound packet; never throws. */
export function decodePacket(data: Uint8Array): Decoded<PacketMessage[]> {
  try {
    checkHeader(data, MAX_PACKET_BYTES, PACKET_HEADER_BYTES);
    const count = data[2] as number;
    if (count === 0) throw new WireError('malformed', 'packet with no messages');
    const r = new WireReader(data, PACKET_HEADER_BYTES);
    const out: PacketMessage[] = [];
    for (let i = 0; i < count; i++) {
      const type = r.u8('message type');
      const len = r.u16('message length');
      const body = new WireReader(data, r.offset, r.offset + len);
      r.bytes(len, 'message body');
      out.push(readBody(type, body));
      body.done(`message type ${type}`);
    }
    r.done('packet');
    return { ok: true, value: out };
  } catch (err) {
    return failure(err);
  }
}

/** Decodes one stream frame; never throws. */
export function decodeFrame(data: Uint8Array): Decoded<StreamMessage> {
  try {
    checkHeader(data, MAX_FRAME_BYTES, 3);
    const type = data[2] as number;
    const r = new WireReader(data, 3);
    let msg: StreamMessage;
    if (type === MessageType.pushPull) {
      const flag = r.u8('join flag');
      if (flag > 1) throw new WireError('malformed', `join flag ${flag}`);
      const n = r.u32('member count');
      // Each entry takes at least 11 bytes: refuse counts the frame cannot hold before allocating.
      if (n * 11 > r.remaining) throw new WireError('truncated', `${n} members cannot fit in ${r.remaining} bytes`);
      const members: PushPullEntry[] = [];
      for (let i = 0; i < n; i++) {
        const name = readName(r, 'name');
        const addr = readName(r, 'addr');
        members.push({ name, addr, port: r.u16('port'), incarnation: r.u32('incarnation'), state: readState(r), tags: readTags(r) });
      }
      msg = { type: 'push-pull', join: flag === 1, members };
    } else if (type === MessageType.streamError) {
      const code = r.u8('reason');
      const reason = STREAM_ERROR_CODES[code];
      if (reason === undefined) throw new WireError('malformed', `unknown stream error ${code}`);
      msg = { type: 'stream-error', reason };
    } else if (type >= 1 && type <= 7) {
      throw new WireError('malformed', `packet message type ${type} in a stream frame`);
    } else {
      throw new WireError('unknown-type', `unknown message type ${type}`);
    }
    r.done('stream frame');
    return { ok: true, value: msg };
  } catch (err) {
    return failure(err);
  }
}

/** True when `data` starts like one of our plaintext packets or frames (to tell plaintext from a bad key). */
export function looksLikePlaintext(data: Uint8Array): boolean {
  return data.length >= 3 && data[0] === MAGIC && data[1] === WIRE_VERSION;
}
