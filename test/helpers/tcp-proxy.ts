import { connect, createServer, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy on 127.0.0.1 for tests: every accepted
 * connection is forwarded to `target`, byte for byte, until told otherwise.
 */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /**
   * on: traffic stops. mode 'reset' (default): existing connections are
   * destroyed and new ones destroyed as soon as accepted (the peer sees the
   * connection drop). mode 'blackhole': nothing is forwarded any more, in either
   * direction, and nothing is closed — existing and new connections just go
   * silent, as behind a dropped route; the bytes wait in the sockets' buffers,
   * and a side that closes meanwhile is only seen closing by the other side
   * once the partition heals.
   * off: forwarding resumes (held bytes are delivered, held connections reach
   * the target).
   */
  partition(on: boolean, mode?: 'reset' | 'blackhole'): void;
  /** Delays every chunk received from now on by `ms` in each direction (order is kept). */
  setDelay(ms: number): void;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections currently open (held ones included). */
  open(): number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream?: Socket;
  /** Flushes the chunks due in each direction (held while blackholed). */
  pumps: (() => void)[];
  /** One side closed while blackholed: the other side learns it when the partition heals. */
  closedWhileHeld?: boolean;
}

export async function startProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let partitioned: 'reset' | 'blackhole' | undefined;
  let delayMs = 0;
  let accepted = 0;

  const destroy = (pair: Pair): void => {
    if (partitioned === 'blackhole') {
      pair.closedWhileHeld = true;
      return;
    }
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  /** Forwards src → dst, each chunk after the delay in force when it arrived, in arrival order. */
  const forward = (src: Socket, dst: Socket): (() => void) => {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (partitioned === 'blackhole') return;
      const now = performance.now();
      while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!dst.write(chunk) && !src.isPaused()) {
          src.pause();
          dst.once('drain', () => { if (partitioned !== 'blackhole') src.resume(); });
        }
      }
      const head = queue[0];
      if (head !== undefined) timer = setTimeout(pump, Math.max(0, head.due - now));
    };
    src.on('data', (chunk: Buffer) => {
      queue.push({ due: performance.now() + delayMs, chunk });
      if (timer === undefined) pump();
    });
    src.on('close', () => { if (timer !== undefined) clearTimeout(timer); });
    return pump;
  };

  const link = (pair: Pair): void => {
    const upstream = connect({ host: target.host, port: target.port });
    pair.upstream = upstream;
    upstream.on('error', () => destroy(pair));
    upstream.on('close', () => destroy(pair));
    pair.pumps = [forward(pair.client, upstream), forward(upstream, pair.client)];
    if (partitioned === undefined) pair.client.resume();
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    client.on('error', () => {});
    if (partitioned === 'reset') {
      client.destroy();
      return;
    }
    const pair: Pair = { client, pumps: [] };
    pairs.add(pair);
    client.on('close', () => destroy(pair));
    if (partitioned === undefined) link(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');

  return {
    port: address.port,
    partition(on, mode = 'reset') {
      if (!on) {
        partitioned = undefined;
        for (const pair of [...pairs]) {
          if (pair.closedWhileHeld) {
            destroy(pair);
            continue;
          }
          if (pair.upstream === undefined) link(pair);
          pair.client.resume();
          pair.upstream?.resume();
          for (const pump of pair.pumps) pump();
        }
        return;
      }
      partitioned = mode;
      for (const pair of [...pairs]) {
        if (mode === 'reset') destroy(pair);
        else {
          pair.client.pause();
          pair.upstream?.pause();
        }
      }
    },
    setDelay(ms) {
      delayMs = ms;
    },
    accepted: () => accepted,
    open: () => pairs.size,
    async close() {
      partitioned = undefined;
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
