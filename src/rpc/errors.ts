/**
 * The RPC layer's own errors (it imports nothing from the rest of src/). Every
 * failure of a call carries a stable `code`: callers branch on the code, never
 * on the message, which may be improved. A remote handler's error keeps the
 * handler's own code and message and has `remote === true`.
 */
export type RpcErrorCode =
  | 'ERR_RPC_UNREACHABLE' // connecting (TCP connect + handshake) failed or timed out
  | 'ERR_RPC_TIMEOUT' // the call's own timeout fired before an answer
  | 'ERR_RPC_CLOSED' // the connection dropped (or the client/server was closed) with the call pending
  | 'ERR_RPC_ABORTED' // the caller's AbortSignal fired
  | 'ERR_RPC_UNKNOWN_METHOD' // the server has no handler for the method
  | 'ERR_RPC_PROTOCOL_MISMATCH' // the two sides speak different RPC protocol versions
  | 'ERR_RPC_DATACENTER_MISMATCH' // the two sides are in different datacenters
  | 'ERR_RPC_FRAME' // a malformed or oversized frame arrived; the connection was closed
  | 'ERR_RPC_TOO_LARGE' // a request or response body exceeds maxFrameBytes
  | 'ERR_RPC_INTERNAL' // a remote handler threw something without a string `code`
  | 'ERR_RPC_CONFIG'; // an option is out of range

export class RpcError extends Error {
  /** An {@link RpcErrorCode}, or any code a remote handler threw. */
  readonly code: string;
  /** True when the error was raised by the remote side (handler error, unknown method, handshake refusal). */
  readonly remote: boolean;
  constructor(code: string, message: string, options?: ErrorOptions & { remote?: boolean }) {
    super(message, options);
    this.name = 'RpcError';
    this.code = code;
    this.remote = options?.remote ?? false;
  }
}

export function isRpcError(err: unknown): err is RpcError {
  return err instanceof RpcError;
}

/**
 * What a handler's thrown value becomes on the wire: its own `code` and
 * `message` when both are strings (so a MusterError keeps its code), else
 * ERR_RPC_INTERNAL with the first line of whatever message there is.
 */
export function toWireError(err: unknown): { code: string; message: string } {
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') return { code, message };
    if (typeof message === 'string') return { code: 'ERR_RPC_INTERNAL', message: firstLine(message) };
  }
  return { code: 'ERR_RPC_INTERNAL', message: firstLine(String(err)) };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
