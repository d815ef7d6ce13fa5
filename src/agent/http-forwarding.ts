import { MusterError } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';
import { sleep } from '../time.js';
import type { Forwarding } from '../http/forward.js';
import { decodeResponse, encodeRequest } from '../http/forward.js';
import type { ApiRequest, ApiResponse } from '../http/types.js';
import { RaftError } from '../raft/node.js';
import type { RpcClient } from '../rpc/client.js';
import type { Agent } from './agent.js';
import { randomUUID } from 'node:crypto';
import { RPC, callAnyServer, fromRpcError, retryable } from './forward.js';

/** Blocking queries hold a forwarded call up to their wait; the call's timeout allows that and more. */
function callTimeout(req: ApiRequest): number {
  return req.query.has('index') ? DEFAULTS.http.maxWaitMs + 60_000 : 60_000;
}

/**
 * Consul's consistency modes over the cluster. On a server: `?stale` is
 * served from the local store by any server; the default mode is served by
 * the leader while a quorum answered it within the lease (else as
 * `?consistent`); `?consistent` is served by the leader after a quorum
 * confirms it still leads (ReadIndex). Followers hand other requests to the leader.
 * A client agent hands everything outside /v1/agent/ to a server.
 */
export class HttpForwarding implements Forwarding {
  constructor(private readonly agent: Agent, private readonly rpc: RpcClient) {}

  async dispatch(req: ApiRequest, runLocal: () => Promise<ApiResponse>, forwarded: boolean, anyServer = false): Promise<ApiResponse> {
    if (req.path.startsWith('/v1/agent/') || req.path === '/') return runLocal();
    // the first agent names the request; every hop keeps the name, so a resend is recognised
    const named = req.headers['x-muster-rid'];
    const rid = typeof named === 'string' && named !== '' && forwarded ? named : randomUUID();
    /** The request as it is handed on: with its name (and a hop count). */
    const onward = (hops?: number): ApiRequest => ({
      ...req,
      signal: req.signal, // a getter: the spread leaves it behind
      headers: { ...req.headers, 'x-muster-rid': rid, ...(hops === undefined ? {} : { 'x-muster-hops': String(hops) }) },
    });
    // run here: the handler names its writes after the request (writeName)
    const local = () => {
      req.names = { id: rid, seq: 0 };
      return runLocal();
    };
    const cluster = this.agent.cluster;
    if (!cluster) {
      if (forwarded) throw new MusterError('ERR_INTERNAL', 'a client agent cannot serve a forwarded request');
      const out = await callAnyServer(this.agent.servers, this.rpc, RPC.http, encodeRequest(onward()), { timeoutMs: callTimeout(req), signal: req.signal, idempotent: true });
      return decodeResponse(out);
    }
    // a route that only submits commands runs here; the writer hands them to the leader
    if (anyServer) return local();
    if (req.path.startsWith('/v1/status/') || req.query.has('stale')) {
      return this.withLeaderHeaders(await local());
    }
    const deadline = performance.now() + DEFAULTS.raft.holdMs;
    for (;;) {
      if (cluster.isLeader) {
        const read = req.method === 'GET' || req.method === 'HEAD';
        if (read && (req.query.has('consistent') || !cluster.raft.inLease(DEFAULTS.raft.leaseMs))) {
          try {
            await cluster.raft.readBarrier(DEFAULTS.raft.readBarrierMs);
          } catch (err) {
            if (err instanceof RaftError && err.code === 'ERR_NOT_LEADER' && performance.now() < deadline) {
              // as in RaftWriter: yield to the event loop so the raft runtime learns of the step-down; never spin
              await sleep(10);
              continue;
            }
            throw new MusterError('ERR_NO_LEADER', `No cluster leader: ${(err as Error).message}`);
          }
        }
        return this.withLeaderHeaders(await local());
      }
      const leader = cluster.leader();
      const hops = Number(req.headers['x-muster-hops'] ?? 0);
      if (leader && leader.id !== cluster.self.id && hops < 3) {
        try {
          return decodeResponse(await this.rpc.call(leader.addr, RPC.http, encodeRequest(onward(hops + 1)), { timeoutMs: callTimeout(req), signal: req.signal }));
        } catch (err) {
          const e = fromRpcError(err);
          // reads change nothing and writes carry the request ID: a resend takes effect at most once
          if (!retryable(err, true) || performance.now() >= deadline) throw e;
          await sleep(50);
          continue;
        }
      }
      const left = deadline - performance.now();
      if (left <= 0 || req.signal.aborted || !cluster.quorumPossible()) throw new MusterError('ERR_NO_LEADER', 'No cluster leader');
      await cluster.waitForLeader(Math.min(left, 250), req.signal);
      if (cluster.leader() && !cluster.isLeader) await sleep(50);
    }
  }

  private withLeaderHeaders(res: ApiResponse): ApiResponse {
    const cluster = this.agent.cluster;
    if (!cluster || !res.headers || res.headers['X-Consul-Index'] === undefined) return res;
    const known = cluster.leader() !== undefined;
    const contact = cluster.raft.lastContactMs();
    return {
      ...res,
      headers: {
        ...res.headers,
        'X-Consul-KnownLeader': String(known),
        'X-Consul-LastContact': String(Number.isFinite(contact) ? Math.round(contact) : 0),
      },
    };
  }
}
