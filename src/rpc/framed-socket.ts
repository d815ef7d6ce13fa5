import type { Socket } from 'node:net';
import { RpcError } from './errors.js';
import { encodeFrame, FrameReader, type FrameKind } from './frame.js';

export interface FramedSocketEvents {
  /** One complete frame. May throw (RpcError ERR_RPC_FRAME for a bad payload): the connection is then closed with it. */
  onFrame(kind: FrameKind, payload: Buffer): void;
  /** Called once, when the socket is gone: `reason` is undefined for a clean close by the peer. */
  onClose(reason: RpcError | undefined): void;
}

/** TCP keepalive probes start after this much idle time (the OS default is two hours). */
const TCP_KEEPALIVE_DELAY_MS = 10_000;

/**
 * A TCP socket that carries frames: reassembles incoming frames, and batches
 * outgoing ones so that every frame written in one tick of the event loop
 * reaches the kernel in one writev (cork now, uncork on the next tick).
 */
export class FramedSocket {
  /** performance.now() of the last frame received (or of creation). */
  lastReceivedAt = performance.now();
  private readonly reader: FrameReader;
  private corked = false;
  private closeReason: RpcError | undefined;
  private done = false;
  private resolveClosed!: () => void;
  /** Settles once the socket is closed and onClose has run. */
  readonly whenClosed = new Promise<void>((resolve) => { this.resolveClosed = resolve; });

  constructor(
    private readonly socket: Socket,
    /** "host:port" of the other end, for messages and logs. */
    readonly peer: string,
    maxFrameBytes: number,
    private readonly events: FramedSocketEvents,
  ) {
    this.reader = new FrameReader(maxFrameBytes);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeReason ??= new RpcError('ERR_RPC_CLOSED', `connection to ${peer} failed: ${err.code ?? err.message}`, { cause: err });
    });
    socket.on('close', () => this.finish());
  }

  get closed(): boolean {
    return this.done || this.socket.destroyed;
  }

  /** Bytes accepted by write() and not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Queues one frame; false (and nothing written) once the socket is closed. */
  /**
   * Queues a frame. Frames written in one turn leave in one system call, on
   * nextTick; with `batch`, on setImmediate instead, so that frames written
   * by several I/O callbacks of one turn of the event loop (calls made for
   * HTTP requests that arrived together) leave together, right after them.
   */
  write(kind: FrameKind, head: Uint8Array, body?: Uint8Array, batch = false): boolean {
    if (this.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      const uncork = () => {
        this.corked = false;
        this.socket.uncork();
      };
      if (batch) setImmediate(uncork);
      else process.nextTick(uncork);
    }
    for (const part of encodeFrame(kind, head, body)) this.socket.write(part);
    return true;
  }

  /** Flushes what was written, then closes (used after a refusal, so it reaches the peer).
   *  A peer that does not close its side within `graceMs` is cut off. */
  end(reason: RpcError, graceMs = 1000): void {
    this.closeReason ??= reason;
    this.reader.stop();
    if (this.closed) return;
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** Destroys the socket at once; onClose gets `reason` (the first reason given wins). */
  close(reason?: RpcError): void {
    this.closeReason ??= reason;
    this.reader.stop();
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.lastReceivedAt = performance.now();
    try {
      this.reader.push(chunk, (kind, payload) => {
        if (!this.closed) this.events.onFrame(kind, payload);
      });
    } catch (err) {
      this.close(err instanceof RpcError ? err : new RpcError('ERR_RPC_INTERNAL', `frame from ${this.peer} not handled: ${String(err)}`, { cause: err }));
    }
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.reader.stop();
    try {
      this.events.onClose(this.closeReason);
    } finally {
      this.resolveClosed();
    }
  }
}
