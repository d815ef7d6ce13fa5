import { ERRORS, MusterError, errorMessage, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULTS } from '../config/defaults.js';
import type { Command } from '../state/commands.js';
import type { ApplyResult } from '../state/store.js';
import type { CheckRow, NodeRow, ServiceRow } from '../state/types.js';
import { decodeValue, encodeCommand, encodeValue } from '../state/codec.js';
import { RaftError } from '../raft/node.js';
import type { RpcClient } from '../rpc/client.js';
import { isRpcError } from '../rpc/errors.js';
import type { CatalogReader, CommandWriter } from './writer.js';
import type { ServerCluster, ServerPeer } from './cluster.js';
import { sleep, systemClock, type Clock } from '../time.js';
import { randomUUID } from 'node:crypto';

/**
 * The ID a command is proposed under: the one it carries, the writer's
 * caller's (an HTTP handler names its writes after the request: writeName),
 * or a fresh one.
 */
export function requestIdFor(cmd: Command, name: string | undefined): string {
  return cmd.rid ?? name ?? randomUUID();
}

/** RPC method names served on the server port. */
export const RPC = {
  apply: 'muster.apply',
  nodeCatalog: 'muster.node-catalog',
  http: 'muster.http',
  hasConfig: 'raft.has-config',
  removePeer: 'raft.remove-peer',
  serviceHealth: 'muster.service-health',
  node: 'muster.node',
} as const;

/** How many server-to-server hops a forwarded write may take before it is refused (a leader change in flight). */
const MAX_HOPS = 3;

/** A remote failure as the agent's own error: a handler's MusterError keeps its code; transport trouble is retryable. */
export function fromRpcError(err: unknown): MusterError {
  if (err instanceof MusterError) return err;
  if (isRpcError(err) && err.remote && err.code in ERRORS) return new MusterError(err.code as ErrorCode, err.message);
  return new MusterError('ERR_UNREACHABLE', `rpc error: ${errorMessage(err)}`, { cause: err });
}

/**
 * Whether a failed call may be tried again elsewhere. A request that never
 * left (connect failed) is always safe; one that may have reached the server
 * (connection dropped, timeout) is safe only when repeating it changes
 * nothing: a write might otherwise apply twice, or overwrite a later one.
 */
export function retryable(err: unknown, idempotent: boolean): boolean {
  if (!isRpcError(err) || err.remote) return false;
  return err.code === 'ERR_RPC_UNREACHABLE' || (idempotent && err.code !== 'ERR_RPC_ABORTED');
}

/**
 * RPC.apply's request: one byte of hops taken so far, then the command as
 * the Raft log holds it, so the leader proposes the bytes it received. An
 * older agent's JSON `{"cmd":…,"hops":n}` starts with '{' and is still read.
 */
export function encodeApply(data: Buffer, hops: number): Buffer {
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = hops;
  data.copy(out, 1);
  return out;
}

function decodeApply(body: Buffer): { data: Buffer; hops: number } {
  if (body[0] === 0x7b) {
    const { cmd, hops } = decodeValue(body) as { cmd: Command; hops: number };
    return { data: encodeCommand(cmd), hops };
  }
  if (body.length < 2) throw new MusterError('ERR_BAD_REQUEST', 'empty apply request');
  // a copy: the body is a view into the connection's read buffer, and the log keeps this
  return { data: Buffer.from(body.subarray(1)), hops: body[0] as number };
}

function unwrap(result: unknown): unknown {
  const r = result as ApplyResult;
  if (r.ok) return r.value;
  throw r.error;
}


/**
 * A server's writes: proposed to Raft on the leader, forwarded over RPC to
 * the leader elsewhere. Without a leader, a write waits up to holdMs for one
 * (an election takes about a second), then fails with Consul's
 * "No cluster leader".
 */
export class RaftWriter implements CommandWriter {
  constructor(
    private readonly cluster: ServerCluster,
    private readonly rpc: RpcClient,
    private readonly clock: Clock = systemClock,
    private readonly holdMs: number = DEFAULTS.raft.holdMs,
  ) {}

  write(cmd: Command, name?: string): Promise<unknown> {
    return this.writeHops(encodeCommand({ ...cmd, at: cmd.at ?? this.clock.now(), rid: requestIdFor(cmd, name) }), 0);
  }

  /** Serves RPC.apply from another agent. */
  async serveApply(body: Buffer): Promise<Buffer> {
    const { data, hops } = decodeApply(body);
    if (hops >= MAX_HOPS) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
    return encodeValue(await this.writeHops(data, hops + 1));
  }

  /** Proposes an encoded command here when leading, else hands it to the leader. */
  private async writeHops(data: Buffer, hops: number): Promise<unknown> {
    const deadline = performance.now() + this.holdMs;
    for (;;) {
      if (this.cluster.isLeader) {
        try {
          return unwrap(await this.cluster.propose(data));
        } catch (err) {
          if (err instanceof RaftError) {
            // the command carries its request ID: proposing it again applies it at most once
            const again = err.code === 'ERR_NOT_LEADER' || err.code === 'ERR_LEADERSHIP_LOST';
            if (again && performance.now() < deadline) {
              // The core stepped down (or is transferring leadership) before the runtime's role caught up;
              // it catches up on its next drain, a macrotask. Retrying at once would spin on microtasks,
              // starve that drain and block the event loop until the deadline.
              await sleep(10);
              continue;
            }
            if (err.code === 'ERR_LEADERSHIP_LOST') throw new MusterError('ERR_NO_LEADER', 'leadership lost while committing log');
            throw new MusterError('ERR_NO_LEADER', err.message);
          }
          throw err;
        }
      }
      const leader = this.cluster.leader();
      if (leader && leader.id !== this.cluster.self.id) {
        try {
          const out = await this.rpc.call(leader.addr, RPC.apply, encodeApply(data, hops), { timeoutMs: this.holdMs + 2000 });
          return decodeValue(out);
        } catch (err) {
          // the command carries its request ID, so resending it is safe even if the first copy arrived
          if (!retryable(err, true) || performance.now() >= deadline) throw fromRpcError(err);
          await sleep(50);
          continue;
        }
      }
      const left = deadline - performance.now();
      if (left <= 0 || !this.cluster.quorumPossible()) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
      await this.cluster.waitForLeader(Math.min(left, 250));
    }
  }
}

/** The servers a client agent may talk to, from gossip; tried in a rotating order. */
export class ServerPicker {
  private servers: ServerPeer[] = [];
  private next = 0;

  update(servers: ServerPeer[]): void {
    this.servers = servers;
  }

  /** Up to n distinct servers, starting with a different one each call. */
  pick(n: number): ServerPeer[] {
    if (this.servers.length === 0) return [];
    const out: ServerPeer[] = [];
    for (let i = 0; i < Math.min(n, this.servers.length); i++) out.push(this.servers[(this.next + i) % this.servers.length] as ServerPeer);
    this.next = (this.next + 1) % this.servers.length;
    return out;
  }

  get size(): number {
    return this.servers.length;
  }
}

/**
 * Calls a server from a client agent: tries the known servers in turn
 * until one answers or holdMs passes; "No known Consul servers" when gossip
 * has shown none.
 */
export async function callAnyServer(
  picker: ServerPicker, rpc: RpcClient, method: string, body: Uint8Array,
  opts: { timeoutMs: number; holdMs?: number; signal?: AbortSignal; idempotent: boolean },
): Promise<Buffer> {
  const deadline = performance.now() + (opts.holdMs ?? DEFAULTS.raft.holdMs);
  let lastErr: unknown;
  for (;;) {
    const candidates = picker.pick(3);
    for (const s of candidates) {
      try {
        return await rpc.call(s.addr, method, body, { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
      } catch (err) {
        if (!retryable(err, opts.idempotent)) throw fromRpcError(err);
        lastErr = err;
      }
    }
    if (performance.now() >= deadline || opts.signal?.aborted) {
      if (candidates.length === 0) throw new MusterError('ERR_NO_LEADER', 'No known Consul servers');
      throw fromRpcError(lastErr);
    }
    await sleep(100);
  }
}

/** A client agent's writes: to any server, which passes them to the leader. */
export class RemoteWriter implements CommandWriter {
  constructor(private readonly picker: ServerPicker, private readonly rpc: RpcClient, private readonly clock: Clock = systemClock) {}

  async write(cmd: Command, name?: string): Promise<unknown> {
    const body = encodeApply(encodeCommand({ ...cmd, at: cmd.at ?? this.clock.now(), rid: requestIdFor(cmd, name) }), 0);
    // idempotent: the request ID makes a resent command apply at most once
    return decodeValue(await callAnyServer(this.picker, this.rpc, RPC.apply, body, { timeoutMs: DEFAULTS.raft.holdMs + 5000, idempotent: true }));
  }
}

/** A client agent's view of its own node in the catalog, read from a server (for anti-entropy). */
export class RemoteCatalogReader implements CatalogReader {
  private cache: { name: string; at: number; value: NodeCatalog } | undefined;

  constructor(private readonly picker: ServerPicker, private readonly rpc: RpcClient, private readonly log: Logger) {}

  async node(name: string): Promise<NodeRow | undefined> {
    return (await this.fetch(name)).node;
  }

  async nodeServices(name: string): Promise<ServiceRow[]> {
    return (await this.fetch(name)).services;
  }

  async nodeChecks(name: string): Promise<CheckRow[]> {
    return (await this.fetch(name)).checks;
  }

  /** One sync asks node, services and checks in a row; one RPC answers all three. */
  private async fetch(name: string): Promise<NodeCatalog> {
    const now = performance.now();
    if (this.cache && this.cache.name === name && now - this.cache.at < 50) return this.cache.value;
    const out = await callAnyServer(this.picker, this.rpc, RPC.nodeCatalog, Buffer.from(name), { timeoutMs: 10_000, idempotent: true });
    const value = decodeValue(out) as NodeCatalog;
    this.cache = { name, at: now, value };
    this.log.trace({ node: name }, 'read own node from a server');
    return value;
  }
}

export interface NodeCatalog {
  node: NodeRow | undefined;
  services: ServiceRow[];
  checks: CheckRow[];
}
