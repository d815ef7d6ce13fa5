import type { RpcClientConfig } from './config.js';
import { RpcError } from './errors.js';
import { FrameKind } from './frame.js';
import type { FramedSocket } from './framed-socket.js';

const EMPTY = Buffer.alloc(0);

/**
 * Pings the server every keepaliveIntervalMs (a 5-byte frame, so the server
 * hears from us even while we only receive) and closes the connection with
 * ERR_RPC_CLOSED once nothing has arrived for keepaliveTimeoutMs: the way a
 * pending call learns that a peer vanished without a FIN or RST. Returns the
 * function that stops it; does nothing when keepaliveIntervalMs is 0.
 */
export function startKeepalive(framed: FramedSocket, config: RpcClientConfig): () => void {
  const { keepaliveIntervalMs: intervalMs, keepaliveTimeoutMs: timeoutMs } = config;
  if (intervalMs === 0) return () => {};
  const timer = setInterval(() => {
    if (performance.now() - framed.lastReceivedAt >= timeoutMs) {
      framed.close(new RpcError('ERR_RPC_CLOSED', `no answer from ${framed.peer} for ${timeoutMs} ms`));
      return;
    }
    framed.write(FrameKind.ping, EMPTY);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
