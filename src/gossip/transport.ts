/**
 * How the gossip runtime reaches the network: unreliable packets (UDP) and
 * request/reply streams (TCP) on one address. Addresses are "ip:port" strings
 * ("[v6]:port" for IPv6). Bytes passed here are already sealed when
 * encryption is on; the transport neither knows nor cares.
 */
export interface TransportHandlers {
  /** A datagram arrived. Must not throw (the runtime counts bad input). */
  packet(from: string, data: Uint8Array): void;
  /** A peer sent one stream frame; the returned frame (if any) is the reply. Must not throw. */
  stream(from: string, frame: Uint8Array): Uint8Array | undefined;
}

export interface BoundAddress {
  addr: string;
  port: number;
}

export interface Transport {
  /** Binds (port 0 picks a free port for both UDP and TCP) and starts delivering to `handlers`. */
  listen(handlers: TransportHandlers): Promise<BoundAddress>;
  /** Best effort: a send error is the same as a lost packet. */
  sendPacket(to: string, data: Uint8Array): void;
  /**
   * Connects to `to`, sends `frame`, and resolves with the one frame sent
   * back. Rejects (GossipStreamError, code ERR_GOSSIP_STREAM) when the
   * connection is refused, times out after `timeoutMs`, or closes without a reply.
   */
  exchange(to: string, frame: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Stops listening and closes every socket; pending exchanges reject. */
  close(): Promise<void>;
}
