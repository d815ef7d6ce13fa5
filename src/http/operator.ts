import type { Router } from './router.js';
import type { RouteDeps } from './context.js';
import { MusterError } from '../errors.js';
import { json } from './response.js';

/** `/v1/operator/raft/*`: the Raft configuration, and removing a server from it. */
export function register(router: Router, deps: RouteDeps): void {
  const { agent } = deps;
  router.add('GET', '/v1/operator/raft/configuration', () => {
    const conf = agent.raftConfiguration();
    return json({
      Servers: conf.servers.map((s) => ({
        ID: s.id, Node: s.name, Address: s.addr, Leader: s.leader, ProtocolVersion: '3', Voter: s.voter,
      })),
      Index: conf.index,
    });
  });
  router.add('DELETE', '/v1/operator/raft/peer', async (req) => {
    const id = req.query.get('id');
    const address = req.query.get('address');
    if (!id && !address) throw new MusterError('ERR_BAD_REQUEST', 'Must specify either ?id with the server\'s ID or ?address with IP:port of peer to remove');
    await agent.removeRaftPeer(id ? { id } : { address: address ?? '' });
    return json(null);
  });
}
