import type { RpcClientConfig } from './config.js';
import { dial } from './dial.js';
import { RpcError } from './errors.js';
import { FrameKind } from './frame.js';
import type { FramedSocket } from './framed-socket.js';
import { startKeepalive } from './keepalive.js';
import { decodeResponse, encodeId, encodeRequestHead } from './wire.js';

/** Options of one call. */
export interface CallOptions {
  /** Fail with ERR_RPC_TIMEOUT after this long (connecting included). 0: never. Default: the client's callTimeoutMs. */
  timeoutMs?: number;
  /** Fail with ERR_RPC_ABORTED when aborted; the server's handler sees its signal aborted. */
  signal?: AbortSignal;
}

interface Pending {
  method: string;
  head: Buffer;
  body: Uint8Array;
  written: boolean;
  resolve(body: Buffer): void;
  reject(err: RpcError): void;
}

/** What a connection shares with its client. */
export interface ClientSide {
  readonly config: RpcClientConfig;
  readonly signal: AbortSignal;
  readonly sockets: Set<FramedSocket>;
  readonly counters: { calls: number; callErrors: number };
}

const MAX_METHOD_BYTES = 1024;
/** setTimeout's limit; beyond it Node fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The request connection to one server: every concurrent call to it is
 * multiplexed on one socket, by request id. Connects lazily on the first call
 * (calls wait while it connects) and again on the next call after it dropped.
 */
export class CallConnection {
  private framed: FramedSocket | undefined;
  private dialing = false;
  private stopKeepalive: () => void = () => {};
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedBy: RpcError | undefined;

  constructor(private readonly addr: string, private readonly client: ClientSide) {}

  /** Calls pending on this connection. */
  get inflight(): number {
    return this.pending.size;
  }

  call(method: string, body: Uint8Array, opts: CallOptions): Promise<Buffer> {
    const { config } = this.client;
    this.client.counters.calls++;
    const head = encodeRequestHead(0, method);
    if (head.length - 6 > MAX_METHOD_BYTES) return this.refuse(new RpcError('ERR_RPC_TOO_LARGE', `method name is longer than ${MAX_METHOD_BYTES} bytes`));
    if (head.length + body.byteLength > config.maxFrameBytes) {
      return this.refuse(new RpcError('ERR_RPC_TOO_LARGE', `request to ${method} is ${body.byteLength} bytes, more than the limit of ${config.maxFrameBytes}`));
    }
    if (this.closedBy !== undefined) return this.refuse(this.closedBy);
    const { signal } = opts;
    if (signal?.aborted) return this.refuse(new RpcError('ERR_RPC_ABORTED', `call to ${method} aborted`, { cause: signal.reason }));
    const timeoutMs = opts.timeoutMs ?? config.callTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS) {
      return this.refuse(new RpcError('ERR_RPC_CONFIG', `timeoutMs must be an integer between 0 and ${MAX_TIMER_MS} (got ${timeoutMs})`));
    }
    const id = this.allocateId();
    head.writeUInt32BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.giveUp(id, new RpcError('ERR_RPC_ABORTED', `call to ${method} on ${this.addr} aborted`, { cause: signal?.reason }));
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        method, head, body, written: false,
        resolve: (b) => { settle(); resolve(b); },
        reject: (e) => { settle(); this.client.counters.callErrors++; reject(e); },
      });
      if (timeoutMs > 0) timer = setTimeout(() => this.giveUp(id, new RpcError('ERR_RPC_TIMEOUT', `call to ${method} on ${this.addr} timed out after ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.framed !== undefined) this.writeRequest(this.framed, id);
      else this.connect();
    });
  }

  /** Rejects every pending call with `reason` and closes the socket. */
  close(reason: RpcError): void {
    this.closedBy ??= reason;
    this.framed?.close(reason);
    this.rejectAll(reason);
  }

  private refuse(err: RpcError): Promise<Buffer> {
    this.client.counters.callErrors++;
    return Promise.reject(err);
  }

  /** Ids wrap at 2^32 and skip those still pending. */
  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff_ffff ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  /** Timeout or abort: fail the call now, and tell the server so that its handler stops. */
  private giveUp(id: number, err: RpcError): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    if (call.written) this.framed?.write(FrameKind.cancel, encodeId(id));
    call.reject(err);
  }

  private writeRequest(framed: FramedSocket, id: number): void {
    const call = this.pending.get(id);
    if (call === undefined || call.written) return;
    call.written = true;
    framed.write(FrameKind.request, call.head, call.body, true);
  }

  private connect(): void {
    if (this.dialing) return;
    this.dialing = true;
    const { config, signal, sockets } = this.client;
    void dial(this.addr, {
      config, signal, sockets,
      events: {
        onFrame: (kind, payload) => this.onFrame(kind, payload),
        onClose: (reason) => this.onClose(reason),
      },
    }).then(({ framed }) => {
      this.dialing = false;
      if (this.closedBy !== undefined) {
        framed.close(this.closedBy);
        return;
      }
      this.framed = framed;
      this.stopKeepalive = startKeepalive(framed, config);
      for (const id of [...this.pending.keys()]) this.writeRequest(framed, id);
    }, (err: RpcError) => {
      this.dialing = false;
      config.log.debug({ peer: this.addr, err }, 'rpc connect failed');
      this.rejectAll(err);
    });
  }

  private onFrame(kind: FrameKind, payload: Buffer): void {
    if (kind === FrameKind.pong) return;
    if (kind !== FrameKind.response) throw new RpcError('ERR_RPC_FRAME', `unexpected frame kind ${kind} from a server`);
    const r = decodeResponse(payload);
    const call = this.pending.get(r.id);
    if (call === undefined) return; // answer to a call that timed out or was aborted
    if (r.ok) call.resolve(r.body);
    else call.reject(new RpcError(r.code, r.message, { remote: true }));
  }

  private onClose(reason: RpcError | undefined): void {
    this.framed = undefined;
    this.stopKeepalive();
    if (reason?.code === 'ERR_RPC_FRAME') this.client.config.log.warn({ peer: this.addr, err: reason }, 'rpc connection dropped: bad frame');
    const detail = reason === undefined ? '' : `: ${reason.message}`;
    this.rejectAll(new RpcError('ERR_RPC_CLOSED', `connection to rpc server ${this.addr} closed${detail}`, { cause: reason }));
  }

  private rejectAll(err: RpcError): void {
    for (const call of [...this.pending.values()]) call.reject(err);
  }
}
