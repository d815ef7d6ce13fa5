import type { Router } from './router.js';
import type { RouteDeps } from './context.js';
import { json } from './response.js';

/** `/v1/status/*`: the leader's and the peers' server RPC addresses. */
export function register(router: Router, deps: RouteDeps): void {
  router.add('GET', '/v1/status/leader', () => json(deps.agent.leaderAddress()));
  router.add('GET', '/v1/status/peers', () => json(deps.agent.peers()));
}
