import { MusterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Agent } from '../agent/agent.js';
import type { StateStore } from '../state/store.js';
import type { ApiRequest } from './types.js';
import type { BlockingLimits, ChangeFeed } from './blocking-query.js';

/** What every route file is given. */
export interface RouteDeps {
  agent: Agent;
  store: StateStore;
  feed: ChangeFeed;
  limits: BlockingLimits;
  log: Logger;
}

/**
 * The name of the request's next write, `<id>:<n>`: the same when the
 * request is sent again, so a resent write applies at most once.
 */
export function writeName(req: ApiRequest): string | undefined {
  const n = req.names;
  return n ? `${n.id}:${n.seq++}` : undefined;
}

/** The headers every read served by the state store carries. */
export function indexHeaders(index: number): Record<string, string> {
  return {
    'X-Consul-Index': String(Math.max(index, 1)),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': '0',
  };
}

/** Parses a JSON body; an empty body is `undefined`. Bad JSON is Consul's 400. */
export function jsonBody(req: ApiRequest): unknown {
  const text = req.body.toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MusterError('ERR_DECODE', `Request decode failed: ${(err as Error).message}`);
  }
}

/** `?dc=` naming another datacenter: Consul's 500. */
export function checkDatacenter(req: ApiRequest, own: string): void {
  const dc = req.query.get('dc');
  if (dc && dc.toLowerCase() !== own) throw new MusterError('ERR_UNKNOWN_DC', 'No path to datacenter');
}
