import { RpcError } from './errors.js';

/**
 * Every byte on an RPC connection, in both directions, is a frame:
 *
 *     [u32 BE payload length][u8 kind][payload]
 *
 * The length counts the payload only (not the 5-byte header) and must not
 * exceed the reader's maxFrameBytes. Kind numbers are part of the protocol:
 * only append to this list, never renumber.
 */
export const FrameKind = {
  /** Connecting side → server, first frame: JSON {@link Hello}. */
  hello: 1,
  /** Server → connecting side: JSON Hello of the server; the connection is ready. */
  helloOk: 2,
  /** Server → connecting side: JSON {code, message, hello}; the server then closes. */
  helloRefused: 3,
  /** [u32 id][u16 method length][method utf-8][body] */
  request: 4,
  /** [u32 id][u8 status: 0 ok, 1 error][body, or JSON {code, message} on error] */
  response: 5,
  /** [u32 id]: the caller gave up on a request; the handler's signal is aborted. */
  cancel: 6,
  /** One-way: [u16 channel length][channel utf-8][payload] */
  message: 7,
  /** Keepalive probe (empty); answered with pong. */
  ping: 8,
  /** Keepalive answer (empty). */
  pong: 9,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_HEADER_BYTES = 5;
const LAST_KIND: number = FrameKind.pong;

/** Frames smaller than this are copied into their header's buffer: one write instead of two. */
const COPY_BELOW_BYTES = 4096;

/**
 * The bytes of one frame, as one or two buffers (header + head of the payload,
 * then the body by reference when it is large, so big bodies are never copied).
 * `body` must not be modified until the frame is written.
 */
export function encodeFrame(kind: FrameKind, head: Uint8Array, body?: Uint8Array): Buffer[] {
  const bodyLength = body?.byteLength ?? 0;
  const payloadLength = head.byteLength + bodyLength;
  const copyBody = body !== undefined && bodyLength < COPY_BELOW_BYTES;
  const first = Buffer.allocUnsafe(FRAME_HEADER_BYTES + head.byteLength + (copyBody ? bodyLength : 0));
  first.writeUInt32BE(payloadLength, 0);
  first.writeUInt8(kind, 4);
  first.set(head, FRAME_HEADER_BYTES);
  if (body === undefined || bodyLength === 0) return [first];
  if (copyBody) {
    first.set(body, FRAME_HEADER_BYTES + head.byteLength);
    return [first];
  }
  return [first, Buffer.from(body.buffer, body.byteOffset, bodyLength)];
}

/**
 * Reassembles frames from a byte stream. Payloads handed out are views into
 * the received chunks (no copy): a consumer that keeps one for long should copy
 * it so it does not pin the whole chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private stopped = false;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Feeds received bytes and calls `onFrame` for each complete frame, in order.
   * Throws RpcError ERR_RPC_FRAME as soon as a header announces more than
   * maxFrameBytes or an unknown kind (before buffering the announced payload).
   * Stops early when {@link stop} is called from within `onFrame`.
   */
  push(chunk: Buffer, onFrame: (kind: FrameKind, payload: Buffer) => void): void {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (!this.stopped && this.buffered >= FRAME_HEADER_BYTES) {
      let first = this.chunks[0] as Buffer;
      if (first.length < FRAME_HEADER_BYTES) first = this.coalesce();
      const length = first.readUInt32BE(0);
      const kind = first.readUInt8(4);
      if (length > this.maxFrameBytes) {
        throw new RpcError('ERR_RPC_FRAME', `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (kind < 1 || kind > LAST_KIND) throw new RpcError('ERR_RPC_FRAME', `unknown frame kind ${kind}`);
      const total = FRAME_HEADER_BYTES + length;
      if (this.buffered < total) return;
      if (first.length < total) first = this.coalesce();
      const payload = first.subarray(FRAME_HEADER_BYTES, total);
      if (first.length === total) this.chunks.shift();
      else this.chunks[0] = first.subarray(total);
      this.buffered -= total;
      onFrame(kind as FrameKind, payload);
    }
  }

  /** Drops buffered bytes and ignores everything pushed from now on. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.buffered = 0;
  }

  /** Joins every buffered chunk into one (only when a header or frame spans chunks: O(bytes) per frame). */
  private coalesce(): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all;
  }
}
