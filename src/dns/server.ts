import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { MusterError, errorMessage } from '../errors.js';
import type { Transport } from './responder.js';

/** What the server hands each message to. */
export interface MessageResponder {
  respond(raw: Buffer, transport: Transport): Promise<Buffer | undefined>;
}

export interface DnsServerOptions {
  /** The `-client` address. */
  host: string;
  /** 0: any free port (the same one for UDP and TCP). */
  port: number;
  /** A TCP connection with no complete query for this long is closed. */
  tcpIdleTimeoutMs: number;
}

export interface DnsServerDeps {
  responder: MessageResponder;
  log: Logger;
}

/** How often a free port is looked for when UDP's ephemeral port is taken on TCP. */
const FREE_PORT_ATTEMPTS = 20;

/**
 * DNS over UDP and TCP on one port. UDP: one datagram, one answer. TCP
 * (RFC 1035 §4.2.2, RFC 7766): messages framed by a 2-byte length, several
 * per connection, answered as they complete. The server only moves bytes;
 * the responder decides what (if anything) to answer.
 */
export class DnsServer {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();
  private readonly log: Logger;
  private readonly responder: MessageResponder;
  private closed = false;

  constructor(private readonly opts: DnsServerOptions, deps: DnsServerDeps) {
    this.log = deps.log;
    this.responder = deps.responder;
  }

  /** Binds UDP and TCP; resolves with the address both listen on. */
  async listen(): Promise<{ address: string; port: number }> {
    for (let attempt = 1; ; attempt++) {
      const udp = await this.bindUdp(this.opts.port);
      const port = udp.address().port;
      try {
        this.tcp = await this.bindTcp(port);
      } catch (err) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (this.opts.port === 0 && taken && attempt < FREE_PORT_ATTEMPTS) continue;
        throw new MusterError('ERR_CONFIG', `cannot listen for DNS over TCP on ${this.opts.host}:${port}: ${errorMessage(err)}`);
      }
      this.udp = udp;
      return { address: udp.address().address, port };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  private bindUdp(port: number): Promise<UdpSocket> {
    const socket = createSocket({ type: isIP(this.opts.host) === 6 ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(new MusterError('ERR_CONFIG', `cannot listen for DNS over UDP on ${this.opts.host}:${port}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.bind(port, this.opts.host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'dns udp socket error'));
        socket.on('message', (msg, rinfo) => this.onDatagram(socket, msg, rinfo));
        resolve(socket);
      });
    });
  }

  private bindTcp(port: number): Promise<Server> {
    // half-open: a client may send its queries, shut its side, and still read the answers (RFC 7766 §6.2.1)
    const server = createServer({ allowHalfOpen: true }, (conn) => this.onConnection(conn));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'dns tcp server error'));
        resolve(server);
      });
    });
  }

  private onDatagram(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    this.responder.respond(msg, 'udp').then((out) => {
      if (!out || this.closed) return;
      socket.send(out, rinfo.port, rinfo.address, (err) => {
        if (err) this.log.debug({ err: errorMessage(err), peer: `${rinfo.address}:${rinfo.port}` }, 'dns udp send failed');
      });
    }).catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'dns udp answer failed'));
  }

  private onConnection(conn: Socket): void {
    if (this.closed) { conn.destroy(); return; }
    this.connections.add(conn);
    const peer = `${conn.remoteAddress ?? '?'}:${conn.remotePort ?? 0}`;
    let pending: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let clientDone = false;
    const endIfDone = () => { if (clientDone && inFlight === 0 && !conn.destroyed) conn.end(); };
    conn.setTimeout(this.opts.tcpIdleTimeoutMs, () => {
      this.log.debug({ peer }, 'dns tcp connection idle: closing');
      conn.destroy();
    });
    conn.on('error', (err) => this.log.debug({ err: errorMessage(err), peer }, 'dns tcp connection error'));
    conn.on('close', () => this.connections.delete(conn));
    conn.on('end', () => { clientDone = true; endIfDone(); });
    conn.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        inFlight++;
        void this.answerFrame(conn, msg, peer).finally(() => { inFlight--; endIfDone(); });
      }
    });
  }

  /** Never rejects. */
  private answerFrame(conn: Socket, msg: Buffer, peer: string): Promise<void> {
    return this.responder.respond(msg, 'tcp').then((out) => {
      if (!out || conn.destroyed) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length, 0);
      conn.write(Buffer.concat([len, out]));
    }).catch((err: unknown) => this.log.error({ err: errorMessage(err), peer }, 'dns tcp answer failed'));
  }
}
