import { createServer, type Server, type Socket } from 'node:net';
import { rpcServerConfig, type RpcServerConfig, type RpcServerOptions } from './config.js';
import { RpcError } from './errors.js';
import { ServerConnection, type RpcHandler, type RpcMessageListener, type ServerSide } from './server-connection.js';
import type { Hello } from './wire.js';

export type { RpcContext, RpcHandler, RpcMessageListener } from './server-connection.js';

/** Counters since the server was created. */
export interface RpcServerStats {
  connections: number;
  requests: number;
  handlerErrors: number;
  messages: number;
  /** Messages that arrived with no listener set, or whose listener threw. */
  messagesDropped: number;
  /** Connections closed for a malformed or oversized frame or a missing hello. */
  badFrames: number;
  /** Handshakes refused (protocol or datacenter mismatch). */
  refused: number;
}

/**
 * The server end of the RPC port: request handlers by method name, and one
 * listener for one-way messages. Every connection starts with the caller's
 * hello; a caller speaking another protocol version or in another datacenter
 * is refused with a clear error.
 *
 * ```ts
 * const server = new RpcServer({ datacenter: 'dc1', node: 's1', log });
 * server.handle('KV.Get', async (body, { peer, signal }) => encode(await kv.get(decode(body), signal)));
 * server.onMessage((channel, payload, peer) => raft.step(channel, payload));
 * const port = await server.listen('127.0.0.1', 8300);
 * await server.close();
 * ```
 */
export class RpcServer {
  readonly config: RpcServerConfig;
  private readonly handlers = new Map<string, RpcHandler>();
  private listener: RpcMessageListener | undefined;
  private readonly connections = new Set<ServerConnection>();
  private readonly side: ServerSide;
  private server: Server | undefined;
  private boundPort = 0;
  private closing: Promise<void> | undefined;
  private messagesDropped = 0;

  constructor(options: RpcServerOptions) {
    this.config = rpcServerConfig(options);
    const hello: Hello = Object.freeze({ protocol: this.config.protocol, datacenter: this.config.datacenter, node: this.config.node });
    const counters = { requests: 0, handlerErrors: 0, messages: 0, badFrames: 0, refused: 0 };
    this.side = {
      config: this.config,
      hello,
      counters,
      handler: (method) => this.handlers.get(method),
      deliver: (channel, payload, peer) => this.deliver(channel, payload, peer),
      closed: (conn) => this.connections.delete(conn),
    };
  }

  /** Registers the handler of `method` (replacing any previous one). A call to an unregistered method fails with ERR_RPC_UNKNOWN_METHOD. */
  handle(method: string, handler: RpcHandler): this {
    this.handlers.set(method, handler);
    return this;
  }

  /** Sets the one listener of one-way messages (in the order each connection sent them). */
  onMessage(listener: RpcMessageListener): this {
    this.listener = listener;
    return this;
  }

  /** Starts accepting connections; resolves with the bound port (useful with port 0). Rejects with the socket error (e.g. EADDRINUSE). */
  async listen(host: string, port: number): Promise<number> {
    if (this.server !== undefined || this.closing !== undefined) throw new RpcError('ERR_RPC_CONFIG', 'rpc server already started');
    const server = createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.config.log.warn({ err }, 'rpc listener error'));
    const address = server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : port;
    this.config.log.info({ addr: `${host}:${this.boundPort}` }, 'rpc server listening');
    return this.boundPort;
  }

  /** The bound port (0 before listen resolves). */
  get port(): number {
    return this.boundPort;
  }

  stats(): RpcServerStats {
    const c = this.side.counters;
    return { connections: this.connections.size, ...c, messagesDropped: this.messagesDropped };
  }

  /**
   * Stops listening, closes every connection (callers' pending calls fail with
   * ERR_RPC_CLOSED) and aborts the signal of every running handler. Resolves
   * when the listening socket and all connections are closed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const server = this.server;
      const reason = new RpcError('ERR_RPC_CLOSED', 'rpc server closing');
      for (const conn of this.connections) conn.close(reason);
      if (server === undefined || !server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
    });
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.connections.add(new ServerConnection(socket, this.side));
  }

  private deliver(channel: string, payload: Buffer, peer: Hello): void {
    const listener = this.listener;
    if (listener === undefined) {
      this.messagesDropped++;
      return;
    }
    this.side.counters.messages++;
    try {
      listener(channel, payload, peer);
    } catch (err) {
      this.messagesDropped++;
      this.config.log.warn({ node: peer.node, channel, err }, 'rpc message listener failed');
    }
  }
}
