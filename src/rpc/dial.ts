import { connect } from 'node:net';
import type { RpcClientConfig } from './config.js';
import { RpcError } from './errors.js';
import { FrameKind } from './frame.js';
import { FramedSocket, type FramedSocketEvents } from './framed-socket.js';
import { decodeHello, decodeRefusal, encodeHello, type Hello } from './wire.js';

/** Splits "host:port" or "[v6]:port"; undefined when it is not one. */
export function parseAddress(addr: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export interface DialOptions {
  config: RpcClientConfig;
  /** Aborting it (the client closing) fails the dial with ERR_RPC_CLOSED. */
  signal: AbortSignal;
  /** Every socket opened, so that the client can await them all on close. */
  sockets: Set<FramedSocket>;
  /** Where frames and the close go once the handshake succeeded. */
  events: FramedSocketEvents;
}

/**
 * Opens a connection to an RPC server and performs the handshake (our hello,
 * its hello-ok), all within connectTimeoutMs. Rejects with RpcError:
 * ERR_RPC_UNREACHABLE (refused, timed out, closed before answering),
 * ERR_RPC_PROTOCOL_MISMATCH / ERR_RPC_DATACENTER_MISMATCH (either side refused
 * the other), ERR_RPC_CLOSED (the client closed).
 */
export function dial(addr: string, opts: DialOptions): Promise<{ framed: FramedSocket; server: Hello }> {
  const { config, signal, sockets, events } = opts;
  return new Promise((resolve, reject) => {
    const target = parseAddress(addr);
    if (target === undefined) {
      reject(new RpcError('ERR_RPC_UNREACHABLE', `invalid rpc address ${addr} (want host:port)`));
      return;
    }
    if (signal.aborted) {
      reject(new RpcError('ERR_RPC_CLOSED', 'rpc client closed'));
      return;
    }
    let server: Hello | undefined;
    let failure: RpcError | undefined;
    const framed = new FramedSocket(connect({ ...target, noDelay: true, keepAlive: true, ...(config.localAddress ? { localAddress: config.localAddress } : {}) }), addr, config.maxFrameBytes, {
      onFrame: (kind, payload) => {
        if (server !== undefined) {
          events.onFrame(kind, payload);
          return;
        }
        if (kind === FrameKind.helloOk) accept(decodeHello(payload));
        else if (kind === FrameKind.helloRefused) refused(decodeRefusal(payload));
        else throw new RpcError('ERR_RPC_FRAME', `expected a hello answer, got frame kind ${kind}`);
      },
      onClose: (reason) => {
        sockets.delete(framed);
        if (server !== undefined) {
          events.onClose(reason);
          return;
        }
        done();
        const why = reason?.cause instanceof Error ? ((reason.cause as NodeJS.ErrnoException).code ?? reason.cause.message) : reason?.message;
        reject(failure ?? new RpcError('ERR_RPC_UNREACHABLE', why === undefined
          ? `rpc server ${addr} closed the connection during the handshake`
          : `cannot reach rpc server ${addr}: ${why}`, { cause: reason }));
      },
    });
    sockets.add(framed);
    const fail = (err: RpcError): void => {
      failure ??= err;
      framed.close(err);
    };
    const timer = setTimeout(() => fail(new RpcError('ERR_RPC_UNREACHABLE', `rpc server ${addr} did not answer within ${config.connectTimeoutMs} ms`)), config.connectTimeoutMs);
    const onAbort = (): void => fail(new RpcError('ERR_RPC_CLOSED', 'rpc client closed'));
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const mismatch = (h: Hello, remote: boolean): RpcError | undefined => {
      const who = `rpc server ${addr} (node ${h.node})`;
      if (h.protocol !== config.protocol) return new RpcError('ERR_RPC_PROTOCOL_MISMATCH', `${who} speaks RPC protocol ${h.protocol}, we speak ${config.protocol}`, { remote });
      if (h.datacenter !== config.datacenter) return new RpcError('ERR_RPC_DATACENTER_MISMATCH', `${who} is in datacenter ${h.datacenter}, we are in ${config.datacenter}`, { remote });
      return undefined;
    };
    const accept = (hello: Hello): void => {
      const err = mismatch(hello, false);
      if (err !== undefined) {
        fail(err);
        return;
      }
      server = hello;
      done();
      resolve({ framed, server: hello });
    };
    const refused = (r: { code: string; message: string; hello: Hello }): void => {
      fail(mismatch(r.hello, true) ?? new RpcError(r.code, `rpc server ${addr} refused the connection: ${r.message}`, { remote: true }));
    };
    const hello: Hello = { protocol: config.protocol, datacenter: config.datacenter, node: config.node };
    if (config.keepaliveIntervalMs > 0) hello.keepaliveTimeoutMs = config.keepaliveTimeoutMs;
    framed.write(FrameKind.hello, encodeHello(hello));
  });
}
