import { CallConnection, type CallOptions } from './call-connection.js';
import { rpcClientConfig, type RpcClientConfig, type RpcClientOptions } from './config.js';
import { RpcError } from './errors.js';
import type { FramedSocket } from './framed-socket.js';
import { MessageConnection, type DropCounters, type MessageSide } from './message-connection.js';

export type { CallOptions } from './call-connection.js';
export type { DropCounters, DropReason } from './message-connection.js';

/** Counters since the client was created. */
export interface RpcClientStats {
  /** Open or opening sockets. */
  sockets: number;
  /** Calls waiting for an answer. */
  inflight: number;
  calls: number;
  /** Calls that failed (local or remote error). */
  callErrors: number;
  messagesSent: number;
  messagesDropped: number;
  drops: DropCounters;
}

interface Peer {
  calls?: CallConnection;
  messages?: MessageConnection;
}

/**
 * The calling end of the RPC port: a pool holding, per server address, one
 * request connection (all concurrent calls multiplexed on it) and one
 * connection for one-way messages. Both are opened on first use and again
 * after they drop.
 *
 * ```ts
 * const rpc = new RpcClient({ datacenter: 'dc1', node: 'c1', log });
 * const answer = await rpc.call('10.0.0.1:8300', 'KV.Get', body, { timeoutMs: 5000 });
 * rpc.send('10.0.0.2:8300', 'raft', bytes); // false: dropped (counted in stats())
 * await rpc.close();
 * ```
 */
export class RpcClient {
  readonly config: RpcClientConfig;
  private readonly peers = new Map<string, Peer>();
  private readonly controller = new AbortController();
  private readonly side: MessageSide;
  private closing: Promise<void> | undefined;

  constructor(options: RpcClientOptions) {
    this.config = rpcClientConfig(options);
    this.side = {
      config: this.config,
      signal: this.controller.signal,
      sockets: new Set<FramedSocket>(),
      counters: { calls: 0, callErrors: 0 },
      drops: { queueFull: 0, peerDown: 0, backlog: 0, tooLarge: 0, closed: 0 },
      sent: { messages: 0 },
    };
  }

  /**
   * Calls `method` on the server at `addr` ("host:port") and resolves with its
   * answer (possibly a view into a receive buffer: copy it to keep it long).
   * Rejects with RpcError: ERR_RPC_UNREACHABLE, ERR_RPC_TIMEOUT, ERR_RPC_CLOSED,
   * ERR_RPC_ABORTED, ERR_RPC_TOO_LARGE, ERR_RPC_PROTOCOL_MISMATCH,
   * ERR_RPC_DATACENTER_MISMATCH, or — with `remote: true` — ERR_RPC_UNKNOWN_METHOD
   * or whatever code and message the remote handler threw.
   * `body` must not be modified until the promise settles.
   */
  call(addr: string, method: string, body: Uint8Array, opts: CallOptions = {}): Promise<Buffer> {
    if (this.closing !== undefined) return Promise.reject(new RpcError('ERR_RPC_CLOSED', 'rpc client closed'));
    const peer = this.peer(addr);
    peer.calls ??= new CallConnection(addr, this.side);
    return peer.calls.call(method, body, opts);
  }

  /**
   * Sends a one-way message to the server at `addr`, delivered to its
   * onMessage listener on `channel`, in order with the other messages of this
   * client to that address. Never blocks, never throws: false means it was
   * dropped (queue full, peer down, socket backed up, client closed), counted
   * in stats(). `payload` must not be modified afterwards (it is not copied).
   */
  send(addr: string, channel: string, payload: Uint8Array): boolean {
    if (this.closing !== undefined) {
      this.side.drops.closed++;
      return false;
    }
    const peer = this.peer(addr);
    peer.messages ??= new MessageConnection(addr, this.side);
    return peer.messages.send(channel, payload);
  }

  /** Closes both connections to `addr` (its pending calls fail with ERR_RPC_CLOSED) and forgets it, e.g. when a server leaves. */
  disconnect(addr: string): void {
    this.forget(addr, new RpcError('ERR_RPC_CLOSED', `disconnected from rpc server ${addr}`));
  }

  private forget(addr: string, reason: RpcError): void {
    const peer = this.peers.get(addr);
    if (peer === undefined) return;
    this.peers.delete(addr);
    peer.calls?.close(reason);
    peer.messages?.close(reason);
  }

  stats(): RpcClientStats {
    const { drops, counters, sent, sockets } = this.side;
    let inflight = 0;
    for (const p of this.peers.values()) inflight += p.calls?.inflight ?? 0;
    const messagesDropped = Object.values(drops).reduce((a, b) => a + b, 0);
    return { sockets: sockets.size, inflight, ...counters, messagesSent: sent.messages, messagesDropped, drops: { ...drops } };
  }

  /**
   * Fails every pending call with ERR_RPC_CLOSED, drops queued messages,
   * cancels connects in progress and resolves once every socket is closed. No
   * timer or socket is left behind. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.controller.abort();
      const reason = new RpcError('ERR_RPC_CLOSED', 'rpc client closed');
      for (const addr of [...this.peers.keys()]) this.forget(addr, reason);
      for (const framed of this.side.sockets) framed.close(reason);
      await Promise.all([...this.side.sockets].map((s) => s.whenClosed));
    })();
    return this.closing;
  }

  private peer(addr: string): Peer {
    let peer = this.peers.get(addr);
    if (peer === undefined) {
      peer = {};
      this.peers.set(addr, peer);
    }
    return peer;
  }
}
