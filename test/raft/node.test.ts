// The runtime (RaftNode) with three in-memory nodes on an in-process network:
// the leader's lease for default-mode reads, which needs real time to pass.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { RaftNode } from '../../src/raft/node.js';
import type { Message } from '../../src/raft/types.js';
import { waitFor } from '../helpers/wait.js';

const TICK_MS = 10;
const LEASE_MS = 60; // heartbeats every 2 ticks (20 ms); election after 14-28 ticks

async function threeNodes(t: Test, opts: { commitNoticeMs?: number; sent?: Message[] } = {}): Promise<{ nodes: RaftNode[]; cut: Set<string> }> {
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
      ...(opts.commitNoticeMs === undefined ? {} : { commitNoticeMs: opts.commitNoticeMs }),
      fsm: { apply: () => undefined, snapshot: () => new Uint8Array(), restore: () => undefined },
      transport: {
        send: (m: Message) => {
          opts.sent?.push(m);
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

/** A single-node Raft on disk in `dir` whose state machine sums the numbers applied (and counts them). */
async function openSolo(
  dir: string, state: { sum: number; n: number },
  extra: { snapshotIntervalMs?: number; snapshot?: () => Uint8Array | Promise<Uint8Array> } = {},
): Promise<RaftNode> {
  const { snapshot, ...rest } = extra;
  const node = await RaftNode.open({
    core: {
      id: 'solo', electionTicks: 14, heartbeatTicks: 2, maxSizePerMsg: 1 << 20, maxInflight: 64,
      maxCommittedSizePerReady: 1 << 20, preVote: true, checkQuorum: true, asyncLeaderPersist: true,
    },
    tickMs: TICK_MS,
    dataDir: dir,
    snapshotThreshold: 20,
    trailingLogs: 5,
    ...rest,
    fsm: {
      apply: (e) => { state.sum += Number(Buffer.from(e.data).toString()); state.n++; return state.sum; },
      snapshot: snapshot ?? (() => Buffer.from(JSON.stringify(state))),
      restore: (data) => Object.assign(state, JSON.parse(Buffer.from(data).toString()) as { sum: number; n: number }),
    },
    transport: { send: () => undefined },
  });
  node.bootstrap([{ id: 'solo', context: 'solo' }]);
  node.start();
  await waitFor(() => node.isLeader, { timeoutMs: 10_000, message: 'the single node leads' });
  return node;
}

t.test('snapshots are written out in the background, and a restart restores them with the log after', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-node-snap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const open = (state: { sum: number; n: number }) => openSolo(dir, state);
  const first = { sum: 0, n: 0 };
  const node = await open(first);
  // proposals fired together: their entries commit while snapshots are being written
  for (let wave = 0; wave < 5; wave++) {
    await Promise.all(Array.from({ length: 19 }, (_, i) => node.propose(Buffer.from(String(wave * 19 + i + 1)))));
    if (wave % 2 === 1) await node.flush(); // waits for the snapshot being written: the next ready may take another
  }
  await node.flush();
  t.equal(first.sum, (95 * 96) / 2, 'every proposal applied once');
  const snaps = readdirSync(join(dir, 'snapshots')).filter((f) => !f.endsWith('.tmp'));
  t.ok(snaps.length > 1, `snapshots on disk (${snaps.join(', ')})`);
  await node.stop();

  const second = { sum: 0, n: 0 };
  const again = await open(second);
  t.teardown(() => again.stop());
  await again.flush();
  t.same(second, first, 'the restart restored the newest snapshot and replayed the log after it');
  t.equal(await again.propose(Buffer.from('1000')), first.sum + 1000, 'and goes on from there');
});

t.test('a snapshot whose bytes come later holds no write, and is installed at the index it was taken at', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-node-snapasync-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = { sum: 0, n: 0 };
  const taken: Array<{ image: { sum: number; n: number }; release: () => void }> = [];
  let hold = true;
  // the image is taken at the call; while `hold`, its bytes arrive when the test releases them
  const snapshot = () => {
    const image = { ...state };
    const bytes = Buffer.from(JSON.stringify(image));
    if (!hold) return bytes;
    return new Promise<Uint8Array>((resolve) => { taken.push({ image, release: () => resolve(bytes) }); });
  };
  const node = await openSolo(dir, state, { snapshot });
  for (let i = 1; i <= 25; i++) await node.propose(Buffer.from(String(i)));
  await waitFor(() => taken.length === 1, { timeoutMs: 5000, message: 'a snapshot was started' });
  const first = taken[0] as (typeof taken)[0];
  // 20 log entries: the configuration and the leader's empty entry, then 18 proposals
  t.ok(first.image.n >= 18 && first.image.n <= 25, `taken past the threshold (after ${first.image.n} proposals)`);
  for (let i = 26; i <= 60; i++) await node.propose(Buffer.from(String(i)));
  t.equal(state.n, 60, 'writes went on while its bytes were pending');
  t.equal(taken.length, 1, 'and no second snapshot started meanwhile');
  t.same(readdirSync(join(dir, 'snapshots')).filter((f) => !f.endsWith('.tmp')), [], 'nothing on disk yet');
  hold = false;
  first.release();
  await waitFor(() => readdirSync(join(dir, 'snapshots')).some((f) => !f.endsWith('.tmp')), { timeoutMs: 5000, message: 'the snapshot written out' });
  await node.flush();
  await node.stop();

  const again = { sum: 0, n: 0 };
  const restarted = await openSolo(dir, again);
  t.teardown(() => restarted.stop());
  await restarted.flush();
  t.same(again, { sum: (60 * 61) / 2, n: 60 }, 'a restart restores the snapshot at its own index and replays every entry after it');
});

t.test('snapshots are spaced by snapshotIntervalMs until the log reaches four thresholds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-node-snapint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = { sum: 0, n: 0 };
  const node = await openSolo(dir, state, { snapshotIntervalMs: 3_600_000 });
  t.teardown(() => node.stop());
  const snapshots = () => readdirSync(join(dir, 'snapshots')).filter((f) => !f.endsWith('.tmp'));
  for (let i = 1; i <= 70; i++) await node.propose(Buffer.from(String(i)));
  await node.flush();
  t.same(snapshots(), [], '70 entries past a threshold of 20, within the interval: no snapshot');
  for (let i = 71; i <= 85; i++) await node.propose(Buffer.from(String(i)));
  await node.flush();
  t.equal(snapshots().length, 1, 'at 4 x 20 entries one is taken all the same');
  t.equal(state.sum, (85 * 86) / 2, 'every proposal applied once');
});

t.test('commit notices wait for the next append, and followers still learn the commit when writes stop', async (t) => {
  const sent: Message[] = [];
  const { nodes } = await threeNodes(t, { commitNoticeMs: 1000, sent });
  const leader = await waitFor(() => nodes.find((n) => n.isLeader), { timeoutMs: 10_000, message: 'a leader' });
  await leader.propose(Buffer.from('warm'));
  sent.length = 0;
  for (let i = 0; i < 30; i++) {
    await leader.propose(Buffer.from(`w${i}`));
    // pacing, not waiting for anything: writes 5 ms apart, longer than an unheld notice waits
    await new Promise((r) => setTimeout(r, 5));
  }
  const notices = sent.filter((m) => m.from === leader.core.id && m.type === 'app' && m.entries.length === 0);
  const appends = sent.filter((m) => m.from === leader.core.id && m.type === 'app' && m.entries.length > 0);
  t.ok(appends.length >= 30, `the writes went out as ${appends.length} appends`);
  t.ok(notices.length <= 2, `and ${notices.length} commit notices were sent alone (each was carried by the next append)`);
  const commit = leader.core.log.committed;
  for (const f of nodes.filter((n) => n !== leader)) {
    await waitFor(() => f.core.log.committed >= commit, { timeoutMs: 5000, message: `${f.core.id} learns the last commit` });
  }
  t.pass('followers learned the last commit index after the writes stopped');
});
