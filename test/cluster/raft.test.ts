// The replicated registry with real processes on 127.0.0.1: three servers
// (-bootstrap-expect 3) and a client agent; leaders killed with SIGKILL,
// quorum lost and regained, a full-cluster crash under a write load, a
// graceful leave, a data dir started under another node ID, and a server
// joining a running cluster. The subtests share one cluster and run in
// order; each has its own deadline, and every wait inside has one too, so a
// failure in one is reported without hanging the rest.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { runMuster } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import {
  TestCluster, getJson, kvAll, kvGet, kvPut, raftConfiguration, request, type ClusterAgent,
} from '../helpers/cluster.js';

/** An election takes 0.7–1.4 s after the leader is missed; room for a loaded 2-core machine. */
const ELECTION_MS = 15_000;
/** Gossip failure detection and -retry-join after a restart. */
const HEAL_MS = 30_000;
const SUBTEST = { timeout: 90_000 };

/** Every write that was acknowledged (200 true), by key: what the cluster must never lose. */
const acked = new Map<string, string>();
let seq = 0;

/** Writes `n` new keys through `agent`; each must be acknowledged. */
async function writeSome(t: Test, agent: ClusterAgent, n: number, prefix = 'story'): Promise<void> {
  for (let i = 0; i < n; i++) {
    const key = `${prefix}/k${++seq}`;
    const value = `v${seq}-${randomUUID()}`;
    const ok = await kvPut(agent.url, key, value);
    t.ok(ok, `PUT ${key} through ${agent.name} acknowledged`);
    if (ok) acked.set(key, value);
  }
}

/** Resolves when `agent` answers ?stale reads with every acknowledged write under `prefix` (replication done). */
async function replicatedTo(agent: ClusterAgent, prefix = 'story/', timeoutMs = HEAL_MS): Promise<void> {
  let missing: string[] = [];
  await waitFor(async () => {
    const got = await kvAll(agent.url, prefix, 'stale').catch(() => undefined);
    if (!got) return false;
    missing = [...acked].filter(([k, v]) => k.startsWith(prefix) && got.get(k) !== v).map(([k]) => k);
    return missing.length === 0;
  }, { timeoutMs, intervalMs: 100, message: `${agent.name} has every acknowledged write under ${prefix}` }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; missing ${missing.length}: ${missing.slice(0, 10).join(', ')}`);
  });
}

function voters(conf: { Servers: Array<{ Voter: boolean; Node: string }> }): string[] {
  return conf.Servers.filter((s) => s.Voter).map((s) => s.Node).sort();
}

t.test('a three-server cluster with a client agent', async (t) => {
  const cluster = await TestCluster.start(t, { servers: 3, clients: 1 });
  const client = cluster.clients[0] as ClusterAgent;
  const [s1, s2, s3] = cluster.servers as [ClusterAgent, ClusterAgent, ClusterAgent];
  const killed: ClusterAgent[] = [];

  await t.test('1. a leader; members on the client; three voters; writes through the client reach every server', SUBTEST, async (t) => {
    const leader = await cluster.leader({ timeoutMs: ELECTION_MS });
    t.ok(cluster.servers.includes(leader), `leader is ${leader.name}`);
    for (const s of cluster.servers) t.equal(JSON.parse((await request(s.url, 'GET', '/v1/status/leader')).text), leader.rpcAddr, `${s.name} names the leader`);
    t.equal(JSON.parse((await request(client.url, 'GET', '/v1/status/leader')).text), leader.rpcAddr, 'the client names the leader');

    const r = await runMuster(['members', '-http-addr', client.httpAddr]);
    t.equal(r.code, 0, `muster members exits 0 ${r.stderr}`);
    const alive = r.stdout.toString().trim().split('\n').filter((l) => /\salive\s/.test(l));
    t.equal(alive.length, 4, `muster members on the client shows 4 alive:\n${r.stdout.toString()}`);

    const conf = await raftConfiguration(client.url);
    t.same(voters(conf), ['s1', 's2', 's3'], 'three voters');
    t.equal(conf.Servers.filter((s) => s.Leader).map((s) => s.Node).join(), leader.name, 'the configuration marks the leader');
    const peers = JSON.parse((await request(s2.url, 'GET', '/v1/status/peers')).text) as string[];
    t.same(peers, cluster.servers.map((s) => s.rpcAddr).sort(), '/v1/status/peers lists the three RPC addresses');

    await writeSome(t, client, 10);
    for (const s of cluster.servers) await replicatedTo(s);
    t.pass('every server has every write (?stale)');
    const got = await kvGet(client.url, [...acked.keys()][0] as string);
    t.equal(got, [...acked.values()][0], 'a default read through the client sees it');
  });

  await t.test('2. SIGKILL the leader: a new leader, writes through the client resume, nothing acknowledged is lost', SUBTEST, async (t) => {
    const old = await cluster.leader({ timeoutMs: ELECTION_MS });
    const killedAt = performance.now();
    await old.kill('SIGKILL');
    killed.push(old);
    const next = await cluster.leader({ timeoutMs: ELECTION_MS, not: old });
    t.not(next, old, `new leader ${next.name} after ${Math.round(performance.now() - killedAt)} ms`);
    t.comment(`failover: ${old.name} -> ${next.name} in ${Math.round(performance.now() - killedAt)} ms`);

    // the first write may wait out the election; it must succeed within the deadline
    await waitFor(async () => {
      const key = `story/k${++seq}`;
      const value = `v${seq}-after-failover`;
      const ok = await kvPut(client.url, key, value).catch(() => false);
      if (ok) acked.set(key, value);
      return ok;
    }, { timeoutMs: ELECTION_MS, intervalMs: 100, message: 'a write through the client succeeds after the failover' });
    await writeSome(t, client, 5);
    const all = await kvAll(client.url, 'story/', 'consistent');
    t.same([...acked].filter(([k, v]) => all.get(k) !== v), [], `every one of ${acked.size} acknowledged writes is still there`);
  });

  await t.test('3. SIGKILL a second server: writes answer 500 "No cluster leader"; ?stale reads still answer', SUBTEST, async (t) => {
    const running = cluster.servers.filter((s) => s.running);
    t.equal(running.length, 2, 'two servers running');
    const victim = await cluster.leader({ timeoutMs: ELECTION_MS }).catch(() => running[0] as ClusterAgent);
    await victim.kill('SIGKILL');
    killed.push(victim);
    const survivor = cluster.servers.find((s) => s.running) as ClusterAgent;
    t.comment(`killed ${victim.name}; ${survivor.name} remains`);

    for (const via of [client, survivor]) {
      const r = await request(via.url, 'PUT', `/v1/kv/story/no-quorum-${via.name}`, 'x', 30_000);
      t.equal(r.status, 500, `a write through ${via.name} answers 500 (${r.text.trim()}, ${Math.round(r.ms)} ms)`);
      t.match(r.text, /No cluster leader/, 'with "No cluster leader"');
      t.ok(r.ms < 10_000, `within 10 s (${Math.round(r.ms)} ms)`);
    }
    const stale = await request(survivor.url, 'GET', '/v1/kv/story/?recurse&stale');
    t.equal(stale.status, 200, '?stale on the remaining server answers 200');
    t.equal(stale.headers.get('X-Consul-KnownLeader'), 'false', 'X-Consul-KnownLeader: false');
    const got = await kvAll(survivor.url, 'story/', 'stale');
    t.same([...acked].filter(([k, v]) => got.get(k) !== v), [], 'with every acknowledged write');
    t.notOk(got.has(`story/no-quorum-${client.name}`), 'and not the refused write');
  });

  await t.test('4. restart both killed servers with their data dirs: the cluster heals', SUBTEST, async (t) => {
    const down = cluster.servers.filter((s) => !s.running);
    t.equal(down.length, 2, `two servers down (${down.map((s) => s.name).join(', ')})`);
    await Promise.all(down.map((s) => s.start()));
    killed.length = 0;
    const leader = await cluster.leader({ timeoutMs: HEAL_MS });
    t.comment(`leader after the restart: ${leader.name}`);
    await waitFor(async () => {
      const key = `story/k${++seq}`;
      const value = `v${seq}-healed`;
      const ok = await kvPut(client.url, key, value).catch(() => false);
      if (ok) acked.set(key, value);
      return ok;
    }, { timeoutMs: HEAL_MS, intervalMs: 200, message: 'a write through the client succeeds after the restart' });
    await writeSome(t, client, 5);
    for (const s of cluster.servers) await replicatedTo(s);
    t.pass(`all ${acked.size} acknowledged writes on all three servers`);
    t.same(voters(await raftConfiguration(client.url)), ['s1', 's2', 's3'], 'still three voters');
  });

  await t.test('5. SIGKILL all three servers under a concurrent write load; after a restart every acknowledged write is there', SUBTEST, async (t) => {
    await cluster.leader({ timeoutMs: HEAL_MS });
    const load = new Map<string, string>();
    let attempted = 0;
    let failed = 0;
    let stop = false;
    const writers = [client, s1, s2, s3, client, s1].map(async (via, w) => {
      for (let n = 0; !stop; n++) {
        const key = `load/w${w}/${n}`;
        const value = `${w}-${n}-${randomUUID()}`;
        attempted++;
        const ok = await kvPut(via.url, key, value, 10_000).catch(() => false);
        if (ok) load.set(key, value);
        else {
          failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    await waitFor(() => load.size >= 150, { timeoutMs: 45_000, intervalMs: 20, message: '150 writes acknowledged before the crash' });
    // all three at once, while writes are in flight
    await Promise.all(cluster.servers.map((s) => s.kill('SIGKILL')));
    const ackedAtCrash = load.size;
    // writes keep being tried (and fail) for a moment, then the writers stop
    await waitFor(() => failed >= 6, { timeoutMs: 20_000, intervalMs: 20, message: 'writes fail while every server is down' });
    stop = true;
    await Promise.all(writers);
    t.comment(`${attempted} writes tried, ${load.size} acknowledged (${ackedAtCrash} when the servers were killed), ${failed} failed`);

    await Promise.all(cluster.servers.map((s) => s.start()));
    await cluster.leader({ timeoutMs: HEAL_MS });
    const got = await waitFor(() => kvAll(client.url, 'load/', 'consistent').catch(() => undefined), { timeoutMs: HEAL_MS, intervalMs: 200, message: 'a ?consistent read through the client answers' });
    const lost = [...load].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
    t.same(lost, [], `every one of ${load.size} acknowledged writes survived the crash`);
    const story = await kvAll(client.url, 'story/', 'consistent');
    t.same([...acked].filter(([k, v]) => story.get(k) !== v), [], 'and the earlier ones too');
    for (const [k, v] of load) acked.set(k, v);
    for (const s of cluster.servers) await replicatedTo(s, 'load/');
    t.pass('every server has them again');
  });

  let leaver: ClusterAgent | undefined;
  await t.test('6. muster leave on the leader: leadership moves, two voters remain, writes go on', SUBTEST, async (t) => {
    const leader = await cluster.leader({ timeoutMs: HEAL_MS });
    leaver = leader;
    const r = await runMuster(['leave', '-http-addr', leader.httpAddr], { timeoutMs: 30_000 });
    t.equal(r.code, 0, `muster leave exits 0 ${r.stderr}`);
    await waitFor(() => !leader.running, { timeoutMs: 20_000, message: 'the server that left stops by itself' });
    t.equal(leader.agent?.proc.exitCode, 0, 'and exits 0');
    const others = cluster.servers.filter((s) => s !== leader);
    const next = await cluster.leader({ among: others, timeoutMs: ELECTION_MS });
    t.not(next, leader, `leadership moved to ${next.name}`);
    const conf = await waitFor(async () => {
      const c = await raftConfiguration(next.url).catch(() => undefined);
      return c && c.Servers.length === 2 ? c : undefined;
    }, { timeoutMs: 10_000, message: 'the configuration shrinks to two servers' });
    t.same(voters(conf), others.map((s) => s.name).sort(), 'two voters: the servers that stayed');
    t.notOk(conf.Servers.some((s) => s.Node === leader.name), `${leader.name} is out of the configuration`);
    await writeSome(t, client, 5);
    for (const s of others) await replicatedTo(s);
  });

  await t.test('7. a data dir started under another -node-id: exits non-zero, saying so in one line', SUBTEST, async (t) => {
    const s = leaver ?? s3;
    if (s.running) await s.kill('SIGKILL');
    const otherId = randomUUID();
    const p = s.spawn(['-node-id', otherId]);
    const code = await new Promise<number | null>((resolve) => {
      if (p.proc.exitCode !== null) resolve(p.proc.exitCode);
      else p.proc.once('exit', (c) => resolve(c));
      setTimeout(() => resolve(-1), 20_000).unref();
    });
    t.not(code, -1, 'exits by itself within 20 s');
    t.not(code, 0, `exits non-zero (${code})`);
    const stderr = p.stderr(2000).trim();
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    t.equal(lines.length, 1, `one line on stderr: ${stderr}`);
    t.match(stderr, /node ID/, 'naming the node ID');
    t.match(stderr, otherId, 'the one given');
    const logged = p.lines.find((l) => l.msg === 'agent failed');
    t.match(String(logged?.err), /node ID/, 'and the log says why');
  });

  await t.test('8. a new server joins the running cluster as a learner and becomes a voter; the one that left comes back', SUBTEST, async (t) => {
    const s4 = await cluster.addServer('s4'); // no -bootstrap-expect; -retry-join the others
    const four = await waitFor(async () => {
      const c = await raftConfiguration(client.url).catch(() => undefined);
      return c && voters(c).includes('s4') ? c : undefined;
    }, { timeoutMs: HEAL_MS, intervalMs: 100, message: 's4 becomes a voter' });
    t.ok(four.Servers.some((s) => s.Node === 's4' && s.Voter), 's4 is a voter');
    const logs = cluster.servers.flatMap((s) => s.history.flatMap((p) => p.lines));
    t.ok(logs.some((l) => l.msg === 'adding a new server as a learner' && l.server === 's4'), 'the leader added it as a learner first');
    t.ok(logs.some((l) => l.msg === 'promoting a caught-up learner to voter'), 'then promoted it');
    await replicatedTo(s4);
    await replicatedTo(s4, 'load/');
    t.pass('s4 has every acknowledged write');

    // the server that left gracefully restarts with its own data dir and node ID: the leader adds it back
    const back = leaver ?? s3;
    if (!back.running) await back.start();
    const conf = await waitFor(async () => {
      const c = await raftConfiguration(client.url).catch(() => undefined);
      return c && voters(c).length === 4 ? c : undefined;
    }, { timeoutMs: HEAL_MS, intervalMs: 100, message: `${back.name} rejoins: four voters` });
    t.same(voters(conf), [...cluster.servers.map((s) => s.name)].sort(), 'four voters');
    await cluster.leader({ timeoutMs: ELECTION_MS });
    await writeSome(t, client, 3);
    for (const s of cluster.servers) await replicatedTo(s);
    t.pass('every server has every write');
  });

  await t.test('9. a follower restarted with an empty data dir: the leader says so in its log and sends it everything again', SUBTEST, async (t) => {
    const leader = await cluster.leader({ timeoutMs: ELECTION_MS });
    const victim = cluster.servers.find((s) => s !== leader && s.running) as ClusterAgent;
    await victim.kill('SIGKILL');
    rmSync(victim.dataDir as string, { recursive: true, force: true });
    await writeSome(t, client, 3);
    const restarted = await victim.start();
    await replicatedTo(victim);
    await replicatedTo(victim, 'load/');
    t.pass(`${victim.name} has every acknowledged write again`);
    t.ok(restarted.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('new data dir')), `${victim.name} logged that its data dir is new`);
    const now = await cluster.leader({ timeoutMs: ELECTION_MS });
    const warned = await now.agent?.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('a server lost log entries it had acknowledged'), 5000).catch(() => undefined);
    t.ok(warned, `the leader ${now.name} logged that ${victim.name} lost entries it had acknowledged`);
    await writeSome(t, client, 3);
    await replicatedTo(victim);
    t.pass('and keeps up with new writes');
  });

  await t.test('10. operator raft: list-peers shows every server; remove-peer takes a dead one out; bad requests are refused', SUBTEST, async (t) => {
    const leader = await cluster.leader({ timeoutMs: ELECTION_MS });
    const before = await raftConfiguration(client.url);
    const list = await runMuster(['operator', 'raft', 'list-peers', '-http-addr', client.httpAddr], { timeoutMs: 15_000 });
    t.equal(list.code, 0, `list-peers exits 0 ${list.stderr.toString()}`);
    const [header, ...rows] = list.stdout.toString().trim().split('\n').map((l) => l.trim().split(/\s+/));
    t.same(header, ['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol'], 'Consul\'s columns');
    t.same(rows.map((r) => r[0]).sort(), before.Servers.map((s) => s.Node).sort(), 'a row per server in the configuration');
    for (const s of before.Servers) {
      const row = rows.find((r) => r[0] === s.Node);
      t.same(row, [s.Node, s.ID, s.Address, s.Node === leader.name ? 'leader' : 'follower', String(s.Voter), '3'], `${s.Node}'s row`);
    }

    const victim = cluster.servers.find((s) => s !== leader && s.running) as ClusterAgent;
    const id = before.Servers.find((s) => s.Node === victim.name)?.ID ?? '';
    await victim.kill('SIGKILL');
    // as in Consul, a server that gossip still shows alive is added back by the leader: remove-peer is for dead ones
    await waitFor(async () => {
      const members = await getJson<Array<{ Name: string; Status: number }>>(leader.url, '/v1/agent/members').catch(() => undefined);
      return members?.some((m) => m.Name === victim.name && m.Status !== 1) === true;
    }, { timeoutMs: HEAL_MS, intervalMs: 100, message: `gossip on ${leader.name} sees ${victim.name} failed` });
    const removed = await runMuster(['operator', 'raft', 'remove-peer', '-id', id, '-http-addr', client.httpAddr], { timeoutMs: 30_000 });
    t.equal(removed.code, 0, `remove-peer exits 0 ${removed.stderr.toString()}`);
    t.match(removed.stdout.toString(), `Removed peer with id "${id}"`);
    const after = await waitFor(async () => {
      const c = await raftConfiguration(leader.url).catch(() => undefined);
      return c && !c.Servers.some((s) => s.ID === id) ? c : undefined;
    }, { timeoutMs: 10_000, message: `${victim.name} leaves the configuration` });
    t.equal(after.Servers.length, before.Servers.length - 1, 'one server fewer');
    await writeSome(t, client, 3);

    const again = await runMuster(['operator', 'raft', 'remove-peer', '-id', id, '-http-addr', client.httpAddr], { timeoutMs: 15_000 });
    t.not(again.code, 0, `removing it again fails ${again.stdout.toString()}`);
    t.match(again.stderr.toString(), `id "${id}" was not found in the Raft configuration`, 'saying why');
    const neither = await runMuster(['operator', 'raft', 'remove-peer', '-http-addr', client.httpAddr], { timeoutMs: 15_000 });
    t.not(neither.code, 0, 'remove-peer without -id or -address is a usage error');
    t.match(neither.stderr.toString(), 'give exactly one of -id or -address');
    const bare = await request(leader.url, 'DELETE', '/v1/operator/raft/peer');
    t.equal(bare.status, 400, 'DELETE /v1/operator/raft/peer without ?id or ?address answers 400');
    t.match(bare.text, 'Must specify either ?id');
  });
});
