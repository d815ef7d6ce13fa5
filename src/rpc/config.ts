import { RpcError } from './errors.js';
import { silentRpcLogger, type RpcLogger } from './logger.js';

/** The RPC protocol version this code speaks. Both ends of a connection must agree. */
export const RPC_PROTOCOL = 1;

/** Options shared by both ends. */
export interface RpcCommonOptions {
  /** This agent's datacenter; a peer in another one is refused at the handshake. */
  datacenter: string;
  /** This agent's node name, sent in the hello and shown to the peer's handlers and logs. */
  node: string;
  /** Protocol version to announce. Only tests set it. Default {@link RPC_PROTOCOL}. */
  protocol?: number;
  /** Largest frame payload accepted or sent, in bytes. A peer announcing a
   *  bigger frame is disconnected; a call with a bigger body fails with
   *  ERR_RPC_TOO_LARGE without touching the connection. Default 64 MiB. */
  maxFrameBytes?: number;
  log?: RpcLogger;
}

export interface RpcServerOptions extends RpcCommonOptions {
  /** A connection that has not sent a valid hello this long after it was
   *  accepted is closed. Default 5000 ms. */
  handshakeTimeoutMs?: number;
}

export interface RpcClientOptions extends RpcCommonOptions {
  /** Source address of outgoing connections; '' lets the kernel choose.
   *  An agent bound to one address sets it, so that its peers (and a
   *  firewall between them) see it coming from the address it advertises.
   *  Default ''. */
  localAddress?: string;
  /** TCP connect plus handshake must finish within this, else pending calls
   *  fail with ERR_RPC_UNREACHABLE. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Default per-call timeout (a call's `timeoutMs` overrides it). Blocking
   *  queries pass their wait plus some slack. 0: no timeout. Default 60000 ms. */
  callTimeoutMs?: number;
  /** Idle connections send a ping this often, and the server closes a
   *  connection silent for keepaliveTimeoutMs. Catches a peer that vanished
   *  without a FIN/RST (partition, power loss) while a blocking call waits.
   *  0 disables. Default 5000 ms. */
  keepaliveIntervalMs?: number;
  /** A connection with no frame received for this long is closed and its
   *  pending calls fail with ERR_RPC_CLOSED. Must exceed keepaliveIntervalMs
   *  (3× is a good ratio). Default 15000 ms. */
  keepaliveTimeoutMs?: number;
  /** One-way messages queued per peer while its connection is being opened;
   *  beyond this `send` drops and returns false. Default 4096. */
  maxQueuedMessages?: number;
  /** One-way messages are dropped while the peer's socket has more than this
   *  many bytes not yet handed to the kernel (the peer or network is slower
   *  than the sender). Default 64 MiB. */
  maxBufferedBytes?: number;
  /** After a failed connect, one-way messages to that peer are dropped at once
   *  for this long, doubling on each further failure up to reconnectMaxMs, so
   *  a dead peer costs nothing per message. Calls always try to connect.
   *  Default 100 ms. */
  reconnectMinMs?: number;
  /** Cap of the doubling back-off above. Default 2000 ms. */
  reconnectMaxMs?: number;
}

const MIB = 1024 * 1024;

const COMMON = { protocol: RPC_PROTOCOL, maxFrameBytes: 64 * MIB } as const;
const SERVER_DEFAULTS = Object.freeze({ ...COMMON, handshakeTimeoutMs: 5000 });
const CLIENT_DEFAULTS = Object.freeze({
  ...COMMON,
  localAddress: '',
  connectTimeoutMs: 2000, // Consul's default dial timeout is 10 s; a LAN peer answers in far less
  callTimeoutMs: 60_000,
  keepaliveIntervalMs: 5000,
  keepaliveTimeoutMs: 15_000,
  maxQueuedMessages: 4096, // a few seconds of raft traffic to one peer
  maxBufferedBytes: 64 * MIB,
  reconnectMinMs: 100,
  reconnectMaxMs: 2000,
});

export type RpcServerConfig = Readonly<Required<RpcServerOptions>>;
export type RpcClientConfig = Readonly<Required<RpcClientOptions>>;

type Bounds = Record<string, readonly [number, number]>;
const LIMITS: Bounds = {
  protocol: [0, 65535],
  maxFrameBytes: [1024, 0xffff_ffff],
  handshakeTimeoutMs: [1, 3_600_000],
  connectTimeoutMs: [1, 3_600_000],
  callTimeoutMs: [0, 2 ** 31 - 1],
  keepaliveIntervalMs: [0, 3_600_000],
  keepaliveTimeoutMs: [1, 3_600_000],
  maxQueuedMessages: [0, 10_000_000],
  maxBufferedBytes: [0, Number.MAX_SAFE_INTEGER],
  reconnectMinMs: [0, 3_600_000],
  reconnectMaxMs: [0, 3_600_000],
};

function check(merged: Record<string, unknown>): void {
  const problems: string[] = [];
  for (const key of ['datacenter', 'node'] as const) {
    const v = merged[key];
    if (typeof v !== 'string' || v === '' || Buffer.byteLength(v) > 1024) problems.push(`${key} must be a non-empty string`);
  }
  for (const [key, [min, max]] of Object.entries(LIMITS)) {
    if (!(key in merged)) continue;
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`${key} must be an integer between ${min} and ${max} (got ${String(v)})`);
    }
  }
  const { keepaliveIntervalMs: ki, keepaliveTimeoutMs: kt, reconnectMinMs: rmin, reconnectMaxMs: rmax } = merged;
  if (typeof ki === 'number' && typeof kt === 'number' && ki > 0 && kt <= ki) problems.push('keepaliveTimeoutMs must exceed keepaliveIntervalMs');
  if (typeof rmin === 'number' && typeof rmax === 'number' && rmax < rmin) problems.push('reconnectMaxMs must be at least reconnectMinMs');
  if (problems.length > 0) throw new RpcError('ERR_RPC_CONFIG', `invalid rpc options: ${problems.join('; ')}`);
}

function fill<D extends object, O extends RpcCommonOptions>(defaults: D, options: O): Readonly<Required<O>> {
  const merged: Record<string, unknown> = { ...defaults, log: silentRpcLogger };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  check(merged);
  return Object.freeze(merged) as Readonly<Required<O>>;
}

/** Fills defaults and validates; throws RpcError ERR_RPC_CONFIG listing every problem. */
export function rpcServerConfig(options: RpcServerOptions): RpcServerConfig {
  return fill(SERVER_DEFAULTS, options);
}

/** Fills defaults and validates; throws RpcError ERR_RPC_CONFIG listing every problem. */
export function rpcClientConfig(options: RpcClientOptions): RpcClientConfig {
  return fill(CLIENT_DEFAULTS, options);
}
