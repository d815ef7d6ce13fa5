// The runtime (RaftNode) with three in-memory nodes on an in-process network:
// the leader's lease for default-mode reads, which needs real time to pass.
import t, { type Test } from 'tap';
import { RaftNode } from '../../src/raft/node.js';
import type { Message } from '../../src/raft/types.js';
import { waitFor } from '../helpers/wait.js';

const TICK_MS = 10;
const LEASE_MS = 60; // heartbeats every 2 ticks (20 ms); election after 14-28 ticks

async function threeNodes(t: Test): Promise<{ nodes: RaftNode[]; cut: Set<string> }> {
  const nodes: RaftNode[] = [];
  /** ids whose messages, both ways, are dropped */
  const cut = new Set<string>();
  for (const id of ['a', 'b', 'c']) {
    const node = await RaftNode.open({
      core: {
        id, electionTicks: 14, heartbeatTicks: 2, maxSizePerMsg: 1 << 20, maxInflight: 64,
        maxCommittedSizePerReady: 1 << 20, preVote: true, checkQuorum: true,
      },
      tickMs: TICK_MS,
      dataDir: undefined,
      snapshotThreshold: 10_000,
      trailingLogs: 100,
      fsm: { apply: () => undefined, snapshot: () => new Uint8Array(), restore: () => undefined },
      transport: {
        send: (m: Message) => {
          if (cut.has(m.from) || cut.has(m.to)) return;
          const to = nodes.find((n) => n.core.id === m.to);
          queueMicrotask(() => to?.receive(m));
        },
      },
    });
    nodes.push(node);
  }
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())));
  for (const n of nodes) n.bootstrap(['a', 'b', 'c'].map((id) => ({ id, context: id })));
  for (const n of nodes) n.start();
  return { nodes, cut };
}

t.test('a leader is in lease while a quorum answers it, and out of it soon after it is cut off', async (t) => {
  const { nodes, cut } = await threeNodes(t);
  const leader = await waitFor(() => nodes.find((n) => n.isLeader), { timeoutMs: 10_000, message: 'a leader' });
  await waitFor(() => leader.inLease(LEASE_MS), { timeoutMs: 5000, message: 'the leader is in lease' });
  const followers = nodes.filter((n) => n !== leader);
  t.notOk(followers.some((f) => f.inLease(LEASE_MS)), 'followers never are');

  cut.add(leader.core.id);
  await waitFor(() => !leader.inLease(LEASE_MS), { timeoutMs: 5000, message: 'the cut-off leader leaves its lease' });
  const next = await waitFor(() => followers.find((f) => f.isLeader), { timeoutMs: 10_000, message: 'the majority elects a leader' });
  await waitFor(() => next.inLease(LEASE_MS), { timeoutMs: 5000, message: 'the new leader is in lease' });
  t.notOk(leader.inLease(LEASE_MS), 'the old one is not');
});
