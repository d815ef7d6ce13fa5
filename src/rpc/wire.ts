import { RpcError } from './errors.js';

/**
 * Payload codecs for each frame kind (see FrameKind in frame.ts for the
 * layouts). Decoders never trust the peer: every length is checked and a bad
 * payload throws RpcError ERR_RPC_FRAME, which closes the connection.
 */

/** What each side says about itself when a connection opens. */
export interface Hello {
  /** RPC protocol version; both sides must speak the same one. */
  protocol: number;
  datacenter: string;
  /** The sender's node name (for logs and for handlers). */
  node: string;
  /** Set by a client that sends keepalive pings: the server may close the
   *  connection after this long without any frame from it. 0 or absent: never. */
  keepaliveTimeoutMs?: number;
}

export interface Refusal {
  code: string;
  message: string;
  hello: Hello;
}

export type Response =
  | { id: number; ok: true; body: Buffer }
  | { id: number; ok: false; code: string; message: string };

const MAX_NAME_BYTES = 1024;

function malformed(what: string): RpcError {
  return new RpcError('ERR_RPC_FRAME', `malformed ${what} frame`);
}

function parseJson(payload: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw malformed(what);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what);
  return value as Record<string, unknown>;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_NAME_BYTES;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function encodeHello(hello: Hello): Buffer {
  return Buffer.from(JSON.stringify(hello), 'utf8');
}

function toHello(v: Record<string, unknown>, what: string): Hello {
  const { protocol, datacenter, node, keepaliveTimeoutMs } = v;
  if (!isCount(protocol) || !isName(datacenter) || !isName(node)) throw malformed(what);
  if (keepaliveTimeoutMs !== undefined && !isCount(keepaliveTimeoutMs)) throw malformed(what);
  const hello: Hello = { protocol, datacenter, node };
  if (keepaliveTimeoutMs !== undefined) hello.keepaliveTimeoutMs = keepaliveTimeoutMs;
  return Object.freeze(hello);
}

/** Unknown fields are ignored, so a later protocol may add some. */
export function decodeHello(payload: Buffer): Hello {
  return toHello(parseJson(payload, 'hello'), 'hello');
}

export function encodeRefusal(r: Refusal): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

export function decodeRefusal(payload: Buffer): Refusal {
  const v = parseJson(payload, 'refusal');
  const { code, message, hello } = v;
  if (!isName(code) || typeof message !== 'string' || typeof hello !== 'object' || hello === null) throw malformed('refusal');
  return { code, message, hello: toHello(hello as Record<string, unknown>, 'refusal') };
}

export function encodeRequestHead(id: number, method: string): Buffer {
  const name = Buffer.from(method, 'utf8');
  const head = Buffer.allocUnsafe(6 + name.length);
  head.writeUInt32BE(id, 0);
  head.writeUInt16BE(name.length, 4);
  head.set(name, 6);
  return head;
}

export function decodeRequest(payload: Buffer): { id: number; method: string; body: Buffer } {
  if (payload.length < 6) throw malformed('request');
  const id = payload.readUInt32BE(0);
  const nameLength = payload.readUInt16BE(4);
  if (payload.length < 6 + nameLength) throw malformed('request');
  return { id, method: payload.toString('utf8', 6, 6 + nameLength), body: payload.subarray(6 + nameLength) };
}

export function encodeResponseHead(id: number, ok: boolean): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(id, 0);
  head.writeUInt8(ok ? 0 : 1, 4);
  return head;
}

export function encodeErrorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ code, message }), 'utf8');
}

export function decodeResponse(payload: Buffer): Response {
  if (payload.length < 5) throw malformed('response');
  const id = payload.readUInt32BE(0);
  const status = payload.readUInt8(4);
  const body = payload.subarray(5);
  if (status === 0) return { id, ok: true, body };
  if (status !== 1) throw malformed('response');
  const { code, message } = parseJson(body, 'response');
  if (!isName(code) || typeof message !== 'string') throw malformed('response');
  return { id, ok: false, code, message };
}

export function encodeId(id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(id, 0);
  return b;
}

export function decodeId(payload: Buffer, what: string): number {
  if (payload.length !== 4) throw malformed(what);
  return payload.readUInt32BE(0);
}

export function encodeMessageHead(channel: string): Buffer {
  const name = Buffer.from(channel, 'utf8');
  const head = Buffer.allocUnsafe(2 + name.length);
  head.writeUInt16BE(name.length, 0);
  head.set(name, 2);
  return head;
}

export function decodeMessage(payload: Buffer): { channel: string; payload: Buffer } {
  if (payload.length < 2) throw malformed('message');
  const nameLength = payload.readUInt16BE(0);
  if (payload.length < 2 + nameLength) throw malformed('message');
  return { channel: payload.toString('utf8', 2, 2 + nameLength), payload: payload.subarray(2 + nameLength) };
}
