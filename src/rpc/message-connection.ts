import type { ClientSide } from './call-connection.js';
import { dial } from './dial.js';
import { RpcError } from './errors.js';
import { FrameKind } from './frame.js';
import type { FramedSocket } from './framed-socket.js';
import { startKeepalive } from './keepalive.js';
import { encodeMessageHead } from './wire.js';

/** Why a one-way message was not sent. */
export type DropReason =
  | 'queueFull' // maxQueuedMessages already waiting for the connection to open
  | 'peerDown' // the last connect failed and the back-off has not elapsed, or the connect failed with it queued
  | 'backlog' // more than maxBufferedBytes not yet handed to the kernel
  | 'tooLarge' // the frame would exceed maxFrameBytes
  | 'closed'; // the client is closed

export type DropCounters = Record<DropReason, number>;

/** What a message connection shares with its client. */
export interface MessageSide extends ClientSide {
  readonly drops: DropCounters;
  readonly sent: { messages: number };
}

interface Queued {
  head: Buffer;
  payload: Uint8Array;
}

/**
 * The one-way connection to one server, separate from the request connection
 * so that a large response or a burst of calls never delays Raft messages.
 * `send` never blocks and never throws: while connecting it queues (bounded),
 * once open it writes (batched per tick by FramedSocket), and it drops —
 * returning false and counting why — when the queue is full, the socket is
 * backed up, or the peer failed to connect within the back-off window.
 * Messages that are sent arrive in order; a message written just before the
 * connection dropped may be lost (Raft retries).
 */
export class MessageConnection {
  private framed: FramedSocket | undefined;
  private dialing = false;
  private queue: Queued[] = [];
  private downUntil = 0;
  private backoffMs: number;
  private stopKeepalive: () => void = () => {};
  private closedBy: RpcError | undefined;
  private readonly heads = new Map<string, Buffer>();

  constructor(private readonly addr: string, private readonly client: MessageSide) {
    this.backoffMs = client.config.reconnectMinMs;
  }

  send(channel: string, payload: Uint8Array): boolean {
    const { config } = this.client;
    if (this.closedBy !== undefined) return this.drop('closed', 1);
    const head = this.head(channel);
    if (head.length + payload.byteLength > config.maxFrameBytes || head.length - 2 > 1024) return this.drop('tooLarge', 1);
    const framed = this.framed;
    if (framed !== undefined) {
      if (framed.bufferedBytes > config.maxBufferedBytes) return this.drop('backlog', 1);
      if (!framed.write(FrameKind.message, head, payload)) return this.drop('peerDown', 1);
      this.client.sent.messages++;
      return true;
    }
    if (!this.dialing && performance.now() < this.downUntil) return this.drop('peerDown', 1);
    this.connect(); // even when the queue is full (maxQueuedMessages 0), so that a later send finds it open
    if (this.queue.length >= config.maxQueuedMessages) return this.drop('queueFull', 1);
    this.queue.push({ head, payload });
    return true;
  }

  /** The encoded channel name, cached: a peer sees a handful of channels, each many times a second. */
  private head(channel: string): Buffer {
    let head = this.heads.get(channel);
    if (head === undefined) {
      head = encodeMessageHead(channel);
      if (this.heads.size < 64) this.heads.set(channel, head);
    }
    return head;
  }

  /** Drops the queue and closes the socket. */
  close(reason: RpcError): void {
    this.closedBy ??= reason;
    this.drop('closed', this.queue.length);
    this.queue = [];
    this.framed?.close(reason);
  }

  private drop(reason: DropReason, count: number): false {
    this.client.drops[reason] += count;
    return false;
  }

  private connect(): void {
    if (this.dialing) return;
    this.dialing = true;
    const { config, signal, sockets } = this.client;
    void dial(this.addr, {
      config, signal, sockets,
      events: {
        onFrame: (kind) => {
          if (kind !== FrameKind.pong) throw new RpcError('ERR_RPC_FRAME', `unexpected frame kind ${kind} on a message connection`);
        },
        onClose: (reason) => this.onClose(reason),
      },
    }).then(({ framed }) => {
      this.dialing = false;
      if (this.closedBy !== undefined) {
        framed.close(this.closedBy);
        return;
      }
      this.framed = framed;
      this.backoffMs = config.reconnectMinMs;
      this.downUntil = 0;
      this.stopKeepalive = startKeepalive(framed, config);
      const queue = this.queue;
      this.queue = [];
      for (const m of queue) framed.write(FrameKind.message, m.head, m.payload);
      this.client.sent.messages += queue.length;
    }, (err: RpcError) => {
      this.dialing = false;
      this.drop('peerDown', this.queue.length);
      this.queue = [];
      if (this.closedBy !== undefined) return;
      const fields = { peer: this.addr, err, retryInMs: this.backoffMs };
      if (this.backoffMs === config.reconnectMinMs) config.log.warn(fields, 'rpc peer unreachable for messages');
      else config.log.debug(fields, 'rpc peer still unreachable for messages');
      this.downUntil = performance.now() + this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, config.reconnectMaxMs);
    });
  }

  private onClose(reason: RpcError | undefined): void {
    this.framed = undefined;
    this.stopKeepalive();
    if (reason?.code === 'ERR_RPC_FRAME') this.client.config.log.warn({ peer: this.addr, err: reason }, 'rpc connection dropped: bad frame');
    else this.client.config.log.debug({ peer: this.addr, err: reason }, 'rpc message connection closed');
  }
}
