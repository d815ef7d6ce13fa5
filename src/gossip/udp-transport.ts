import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { GossipStreamError } from './errors.js';
import { formatAddress, parseAddress } from './members.js';
import type { BoundAddress, Transport, TransportHandlers } from './transport.js';
import { MAX_FRAME_BYTES } from './wire.js';

/**
 * UDP for packets and TCP for streams, on the same port number (as memberlist's
 * NetTransport). A stream carries one length-prefixed frame each way:
 *
 *   length u32 (big-endian) | frame
 *
 * A frame longer than MAX_FRAME_BYTES, or a connection idle for longer than
 * the stream timeout, is cut off; neither ever reaches the core.
 */
export interface UdpTransportOptions {
  /** Address to bind; tests and this project's clusters use 127.0.0.1. */
  bindAddr: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  /** Inbound stream idle timeout. Default 10000 ms (config.tcpTimeoutMs). */
  streamTimeoutMs?: number;
}

/** Attempts at finding a port free for both UDP and TCP when port 0 is asked for. */
const PORT_ATTEMPTS = 10;

export class UdpTransport implements Transport {
  private udp: UdpSocket | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(private readonly options: UdpTransportOptions) {}

  async listen(handlers: TransportHandlers): Promise<BoundAddress> {
    const { bindAddr, port } = this.options;
    let lastError: unknown;
    for (let attempt = 0; attempt < (port === 0 ? PORT_ATTEMPTS : 1); attempt++) {
      const udp = createSocket({ type: bindAddr.includes(':') ? 'udp6' : 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, bindAddr, () => {
            udp.off('error', reject);
            resolve();
          });
        });
        const bound = udp.address().port;
        const server = createServer((sock) => this.serve(sock, handlers));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(bound, bindAddr, () => {
            server.off('error', reject);
            resolve();
          });
        });
        udp.on('message', (msg, rinfo) => handlers.packet(formatAddress(rinfo.address, rinfo.port), new Uint8Array(msg.buffer, msg.byteOffset, msg.length)));
        udp.on('error', () => { /* a send or receive error is a lost packet */ });
        this.udp = udp;
        this.server = server;
        return { addr: bindAddr, port: bound };
      } catch (err) {
        lastError = err;
        udp.close();
      }
    }
    throw lastError;
  }

  sendPacket(to: string, data: Uint8Array): void {
    const target = parseAddress(to);
    if (!target || !this.udp || this.closed) return;
    try {
      this.udp.send(data, target.port, target.addr, () => { /* errors are losses */ });
    } catch {
      // socket closing: the packet is lost, as UDP may lose any packet
    }
  }

  exchange(to: string, frame: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const target = parseAddress(to);
      if (!target) {
        reject(new GossipStreamError('ERR_GOSSIP_STREAM', to, 'not an address of the form host:port'));
        return;
      }
      if (this.closed) {
        reject(new GossipStreamError('ERR_GOSSIP_STREAM', to, 'transport is closed'));
        return;
      }
      // from the bound address when there is one: the peer sees us at the address we advertise
      const { bindAddr } = this.options;
      const wildcard = bindAddr === '0.0.0.0' || bindAddr === '::';
      const sock = connect({ host: target.addr, port: target.port, ...(wildcard ? {} : { localAddress: bindAddr }) });
      this.sockets.add(sock);
      let settled = false;
      const fail = (message: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        sock.destroy();
        reject(new GossipStreamError('ERR_GOSSIP_STREAM', to, message, cause === undefined ? undefined : { cause }));
      };
      sock.setTimeout(timeoutMs, () => fail(`no reply within ${timeoutMs}ms`));
      sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ECONNREFUSED' ? 'connection refused' : err.message, err));
      sock.on('close', () => {
        this.sockets.delete(sock);
        fail('connection closed without a reply');
      });
      readFrame(sock, (reply) => {
        if (settled) return;
        settled = true;
        sock.end();
        resolve(reply);
      }, (why) => fail(why));
      sock.write(lengthPrefixed(frame));
    });
  }

  private serve(sock: Socket, handlers: TransportHandlers): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setTimeout(this.options.streamTimeoutMs ?? 10_000, () => sock.destroy());
    const from = formatAddress(sock.remoteAddress ?? '', sock.remotePort ?? 0);
    readFrame(sock, (frame) => {
      const reply = handlers.stream(from, frame);
      if (reply) sock.end(lengthPrefixed(reply));
      else sock.end();
    }, () => sock.destroy());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    const udp = this.udp;
    const server = this.server;
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined,
    ]);
  }
}

function lengthPrefixed(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/** Collects one length-prefixed frame from `sock`; calls `bad` on an oversized length. */
function readFrame(sock: Socket, done: (frame: Uint8Array) => void, bad: (why: string) => void): void {
  const chunks: Buffer[] = [];
  let have = 0;
  let want = -1;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    have += chunk.length;
    if (want < 0 && have >= 4) {
      want = Buffer.concat(chunks).readUInt32BE(0);
      if (want > MAX_FRAME_BYTES) {
        sock.off('data', onData);
        bad(`frame of ${want} bytes exceeds ${MAX_FRAME_BYTES}`);
        return;
      }
    }
    if (want >= 0 && have >= 4 + want) {
      sock.off('data', onData);
      const all = Buffer.concat(chunks);
      done(new Uint8Array(all.buffer, all.byteOffset + 4, want));
    }
  };
  sock.on('data', onData);
}
