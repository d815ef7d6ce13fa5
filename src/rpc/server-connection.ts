import type { Socket } from 'node:net';
import { LazyAbort } from '../lazy-abort.js';
import type { RpcServerConfig } from './config.js';
import { RpcError, toWireError } from './errors.js';
import { FrameKind } from './frame.js';
import { FramedSocket } from './framed-socket.js';
import {
  decodeHello, decodeId, decodeMessage, decodeRequest, encodeErrorBody, encodeHello, encodeRefusal,
  encodeResponseHead, type Hello,
} from './wire.js';

/** What a handler learns about its call. */
export interface RpcContext {
  /** The caller's hello (node, datacenter, protocol). */
  peer: Hello;
  /** "ip:port" the caller's connection comes from. */
  remoteAddress: string;
  /** Aborted when the caller cancels the call (its timeout or signal) or its connection closes. */
  signal: AbortSignal;
}

export type RpcHandler = (body: Buffer, ctx: RpcContext) => Uint8Array | Promise<Uint8Array>;

/** A call's context; its signal is made only if the handler reads it (see LazyAbort). */
class CallContext implements RpcContext {
  constructor(readonly peer: Hello, readonly remoteAddress: string, private readonly abort: LazyAbort) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

/** Receives every one-way message. `payload` is a view into a receive buffer: copy it to keep it. */
export type RpcMessageListener = (channel: string, payload: Buffer, peer: Hello) => void;

/** What a connection needs from its server. */
export interface ServerSide {
  readonly config: RpcServerConfig;
  readonly hello: Hello;
  readonly counters: { requests: number; handlerErrors: number; messages: number; badFrames: number; refused: number };
  handler(method: string): RpcHandler | undefined;
  deliver(channel: string, payload: Buffer, peer: Hello): void;
  closed(conn: ServerConnection): void;
}

/**
 * One accepted connection: the handshake, then requests (each handler gets an
 * AbortSignal), cancels, one-way messages and keepalive pings. A malformed
 * frame closes only this connection, with one warning naming the peer.
 */
export class ServerConnection {
  private peerHello: Hello | undefined;
  private readonly inflight = new Map<number, LazyAbort>();
  private readonly framed: FramedSocket;
  private timer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, private readonly server: ServerSide) {
    const ip = socket.remoteAddress ?? '?';
    const peer = `${ip.includes(':') ? `[${ip}]` : ip}:${socket.remotePort ?? '?'}`;
    this.framed = new FramedSocket(socket, peer, server.config.maxFrameBytes, {
      onFrame: (kind, payload) => this.onFrame(kind, payload),
      onClose: (reason) => this.onClose(reason),
    });
    this.arm(server.config.handshakeTimeoutMs, () => {
      this.framed.close(new RpcError('ERR_RPC_FRAME', `no hello within ${server.config.handshakeTimeoutMs} ms`));
    });
  }

  get peer(): string {
    return this.framed.peer;
  }

  close(reason: RpcError): void {
    this.framed.close(reason);
  }

  private onFrame(kind: FrameKind, payload: Buffer): void {
    const peer = this.peerHello;
    if (peer === undefined) {
      if (kind !== FrameKind.hello) throw new RpcError('ERR_RPC_FRAME', `expected a hello frame, got kind ${kind}`);
      this.onHello(decodeHello(payload));
      return;
    }
    switch (kind) {
      case FrameKind.request: this.onRequest(payload, peer); return;
      case FrameKind.cancel: this.inflight.get(decodeId(payload, 'cancel'))?.abort(new RpcError('ERR_RPC_ABORTED', 'the caller cancelled the call')); return;
      case FrameKind.message: {
        const m = decodeMessage(payload);
        this.server.deliver(m.channel, m.payload, peer);
        return;
      }
      case FrameKind.ping: this.framed.write(FrameKind.pong, EMPTY); return;
      default: throw new RpcError('ERR_RPC_FRAME', `unexpected frame kind ${kind} from a client`);
    }
  }

  private onHello(hello: Hello): void {
    const { config, hello: ours } = this.server;
    let refusal: { code: string; message: string } | undefined;
    if (hello.protocol !== ours.protocol) {
      refusal = { code: 'ERR_RPC_PROTOCOL_MISMATCH', message: `peer ${hello.node} speaks RPC protocol ${hello.protocol}, we speak ${ours.protocol}` };
    } else if (hello.datacenter !== ours.datacenter) {
      refusal = { code: 'ERR_RPC_DATACENTER_MISMATCH', message: `peer ${hello.node} is in datacenter ${hello.datacenter}, we are in ${ours.datacenter}` };
    }
    if (refusal) {
      this.server.counters.refused++;
      config.log.warn({ peer: this.peer, node: hello.node, code: refusal.code }, `rpc handshake refused: ${refusal.message}`);
      this.framed.write(FrameKind.helloRefused, encodeRefusal({ ...refusal, hello: ours }));
      this.disarm();
      this.framed.end(new RpcError(refusal.code, refusal.message));
      return;
    }
    this.peerHello = hello;
    this.framed.write(FrameKind.helloOk, encodeHello(ours));
    this.disarm();
    const timeoutMs = hello.keepaliveTimeoutMs ?? 0;
    if (timeoutMs > 0) this.watchSilence(timeoutMs);
  }

  /** Closes the connection once nothing arrived for `timeoutMs` (checked lazily: no timer reset per frame). */
  private watchSilence(timeoutMs: number): void {
    const due = this.framed.lastReceivedAt + timeoutMs - performance.now();
    if (due > 0) {
      this.arm(due, () => this.watchSilence(timeoutMs));
      return;
    }
    this.framed.close(new RpcError('ERR_RPC_CLOSED', `no frame from ${this.peer} for ${timeoutMs} ms`));
  }

  private onRequest(payload: Buffer, peer: Hello): void {
    const { id, method, body } = decodeRequest(payload);
    if (this.inflight.has(id)) throw new RpcError('ERR_RPC_FRAME', `request id ${id} is already in flight`);
    this.server.counters.requests++;
    const handler = this.server.handler(method);
    if (handler === undefined) {
      this.respondError(id, 'ERR_RPC_UNKNOWN_METHOD', `unknown rpc method ${method}`);
      return;
    }
    const abort = new LazyAbort();
    this.inflight.set(id, abort);
    const ctx = new CallContext(peer, this.peer, abort);
    void Promise.resolve()
      .then(() => (abort.aborted ? EMPTY : handler(body, ctx))) // cancelled in the same read: never started
      .then((result) => this.finish(id, method, abort, result, undefined), (err: unknown) => this.finish(id, method, abort, undefined, err));
  }

  private finish(id: number, method: string, abort: LazyAbort, result: unknown, err: unknown): void {
    if (this.inflight.get(id) === abort) this.inflight.delete(id);
    if (abort.aborted) return; // the caller is gone or gave up: nobody reads an answer
    if (err === undefined && !(result instanceof Uint8Array)) err = new RpcError('ERR_RPC_INTERNAL', `handler for ${method} returned no bytes`);
    if (err !== undefined) {
      this.server.counters.handlerErrors++;
      const wire = toWireError(err);
      const fields = { peer: this.peer, method, code: wire.code, err };
      if (wire.code === 'ERR_RPC_INTERNAL') this.server.config.log.warn(fields, 'rpc handler failed');
      else this.server.config.log.debug(fields, 'rpc handler failed');
      this.respondError(id, wire.code, wire.message);
      return;
    }
    const body = result as Uint8Array;
    if (body.byteLength + 5 > this.server.config.maxFrameBytes) {
      this.respondError(id, 'ERR_RPC_TOO_LARGE', `response to ${method} is ${body.byteLength} bytes, more than the limit of ${this.server.config.maxFrameBytes}`);
      return;
    }
    this.framed.write(FrameKind.response, encodeResponseHead(id, true), body);
  }

  private respondError(id: number, code: string, message: string): void {
    this.framed.write(FrameKind.response, encodeResponseHead(id, false), encodeErrorBody(code, message));
  }

  private onClose(reason: RpcError | undefined): void {
    this.disarm();
    const gone = new RpcError('ERR_RPC_CLOSED', `connection from ${this.peer} closed`);
    for (const abort of this.inflight.values()) abort.abort(gone);
    this.inflight.clear();
    const fields = { peer: this.peer, node: this.peerHello?.node, err: reason };
    if (reason?.code === 'ERR_RPC_FRAME' || reason?.code === 'ERR_RPC_INTERNAL') {
      this.server.counters.badFrames++;
      this.server.config.log.warn(fields, 'rpc connection dropped: bad frame');
    } else {
      this.server.config.log.debug(fields, 'rpc connection closed');
    }
    this.server.closed(this);
  }

  private arm(ms: number, fn: () => void): void {
    this.disarm();
    this.timer = setTimeout(fn, ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const EMPTY = Buffer.alloc(0);
