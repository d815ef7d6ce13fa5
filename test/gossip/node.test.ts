import t from 'tap';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { validateGossipConfig } from '../../src/gossip/config.js';
import type { MemberEvent } from '../../src/gossip/context.js';
import { generateKey, Keyring } from '../../src/gossip/keyring.js';
import { GossipNode } from '../../src/gossip/node.js';
import { suspicionTimeout } from '../../src/gossip/suspicion.js';
import { encodePacket } from '../../src/gossip/wire.js';
import { systemTimers } from '../../src/time.js';
import { waitFor } from '../helpers/wait.js';

// Real GossipNodes on 127.0.0.1 (ports picked by the kernel) in one process, with
// fast timers so the scenarios take seconds. Every wait is a condition with a deadline.

const config = validateGossipConfig({
  probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3,
  pushPullIntervalMs: 5000, reconnectIntervalMs: 5000, tcpTimeoutMs: 1000,
});
const deps = { clock: { now: () => performance.now() }, timers: systemTimers };
const KEY = generateKey((n) => new Uint8Array(randomBytes(n)));

/**
 * Upper bound on the time for every live member to declare a crashed one dead:
 * the first probe of it (round-robin: at worst one full round of the n − 1
 * others, stretched by awareness), the longest suspicion (no confirmations),
 * and a few gossip rounds to spread the verdict.
 */
function detectionBoundMs(n: number): number {
  const min = suspicionTimeout(config.suspicionMult, n, config.probeIntervalMs);
  return n * config.probeIntervalMs * 2 + min * config.suspicionMaxTimeoutMult + 20 * config.gossipIntervalMs;
}

const nodes: GossipNode[] = [];
const events: { node: string; e: MemberEvent }[] = [];

async function startNode(name: string, keyring: Keyring | null = Keyring.fromBase64(KEY), port = 0): Promise<GossipNode> {
  const node = new GossipNode(config, keyring ? { name, bindAddr: '127.0.0.1', port, keyring } : { name, bindAddr: '127.0.0.1', port }, deps);
  node.on('member', (e) => events.push({ node: name, e }));
  nodes.push(node);
  await node.start();
  return node;
}

const view = (node: GossipNode) => Object.fromEntries(node.members().map((m) => [m.name, m.state]));

t.teardown(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

t.test('five members on loopback', async (t) => {
  const five = await Promise.all(['n0', 'n1', 'n2', 'n3', 'n4'].map((n) => startNode(n)));
  const [n0, n1, n2, n3, n4] = five as [GossipNode, GossipNode, GossipNode, GossipNode, GossipNode];

  await t.test('join: every member sees five alive', async (t) => {
    t.equal(await n1.join([n0.address()]), 1);
    t.equal(await Promise.all([n2, n3, n4].map((n) => n.join([n0.address(), n1.address()]))).then((r) => r.reduce((a, b) => a + b)), 6);
    await waitFor(() => five.every((n) => n.members().filter((m) => m.state === 'alive').length === 5), {
      timeoutMs: 5000, message: 'five alive everywhere',
    });
    t.same(view(n3), { n0: 'alive', n1: 'alive', n2: 'alive', n3: 'alive', n4: 'alive' });
  });

  await t.test('stop without leave: failed on the others within the bound', async (t) => {
    const start = performance.now();
    await n4.stop();
    const bound = detectionBoundMs(5);
    await waitFor(() => [n0, n1, n2, n3].every((n) => n.member('n4')?.state === 'dead'), { timeoutMs: bound, message: `n4 dead everywhere within ${bound} ms` });
    t.pass(`declared failed everywhere after ${Math.round(performance.now() - start)} ms (bound ${bound} ms)`);
    t.ok(events.some(({ node, e }) => node === 'n0' && e.type === 'fail' && e.member.name === 'n4'));
  });

  await t.test('graceful leave: left on the others, never failed', async (t) => {
    t.equal(await n3.leave(2000), true, 'the leave was fully gossiped');
    await waitFor(() => [n0, n1, n2].every((n) => n.member('n3')?.state === 'left'), { timeoutMs: 3000, message: 'n3 left everywhere' });
    t.notOk(events.some(({ e }) => e.type === 'fail' && e.member.name === 'n3'));
    t.ok(events.some(({ node, e }) => node === 'n1' && e.type === 'leave' && e.member.name === 'n3'));
  });

  await t.test('garbage UDP packets are dropped and counted; the member keeps working', async (t) => {
    const target = n0.address().split(':');
    const sock = createSocket('udp4');
    t.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const before = n0.stats()?.droppedTotal ?? 0;
    const payloads = [
      new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(1300).fill(0xff),
      encodePacket([{ type: 'ping', seq: 1, target: 'n0', source: 'x' }]), // plaintext to an encrypted pool
      new Uint8Array(40).fill(1), // the shape of a sealed packet, but no key opens it
    ];
    for (let i = 0; i < 20; i++) for (const p of payloads) sock.send(p, Number(target[1]), target[0]);
    const counted = await waitFor(() => {
      const s = n0.stats();
      return s && s.dropped['decrypt-failed'] >= 4 * 20 && s.dropped.plaintext >= 20 && s;
    }, { timeoutMs: 5000, message: 'every garbage packet counted by reason' });
    t.ok(counted.droppedTotal - before >= 5 * 20, 'counted: 80 that no key opens, 20 in plaintext');
    const afterGarbage = n0.stats()?.packetsIn ?? 0;
    await waitFor(() => (n0.stats()?.packetsIn ?? 0) > afterGarbage + 5, { timeoutMs: 3000, message: 'still gossiping' });
    t.same(view(n0), { n0: 'alive', n1: 'alive', n2: 'alive', n3: 'left', n4: 'dead' }, 'its view is intact');
  });

  await t.test('a stopped member restarted on its address rejoins (refutes its death)', async (t) => {
    const again = await startNode('n4', Keyring.fromBase64(KEY), Number(n4.address().split(':')[1]));
    t.equal(await again.join([n0.address()]), 1);
    await waitFor(() => [n0, n1, n2].every((n) => n.member('n4')?.state === 'alive'), { timeoutMs: 5000, message: 'n4 alive again' });
    t.ok((again.localMember()?.incarnation ?? 0) > 1, 'with a higher incarnation than the one declared dead');
  });
});

t.test('join errors name their cause', async (t) => {
  const pool = await startNode('p0');
  await t.test('another encryption key', async (t) => {
    const other = await startNode('wrong-key', Keyring.fromBase64(generateKey((n) => new Uint8Array(randomBytes(n)))));
    await t.rejects(other.join([pool.address()]), { code: 'ERR_GOSSIP_ENCRYPTION_MISMATCH', message: /encryption key mismatch or plaintext peer/ });
    t.ok((pool.stats()?.dropped['decrypt-failed'] ?? 0) >= 1, 'the pool counted the frame it could not open');
    t.equal(pool.member('wrong-key'), undefined);
  });
  await t.test('no encryption against an encrypted pool', async (t) => {
    const plain = await startNode('plain', null);
    await t.rejects(plain.join([pool.address()]), { code: 'ERR_GOSSIP_ENCRYPTION_MISMATCH', message: /peer requires encryption/ });
  });
  await t.test('nobody listening', async (t) => {
    const lonely = await startNode('lonely');
    const err = await lonely.join(['127.0.0.1:1', 'bogus']).then(() => undefined, (e: unknown) => e);
    t.match(err, { code: 'ERR_GOSSIP_JOIN', causes: [{ address: '127.0.0.1:1', message: /refused/ }, { address: 'bogus' }] });
  });
  await t.test('a failed start releases its port', async (t) => {
    const port = Number(pool.address().split(':')[1]);
    const clash = new GossipNode(config, { name: 'clash', bindAddr: '127.0.0.1', port }, deps);
    await t.rejects(clash.start(), { code: 'EADDRINUSE' });
    const bad = new GossipNode(config, { name: '', bindAddr: '127.0.0.1', port: 0 }, deps);
    await t.rejects(bad.start(), { code: 'ERR_GOSSIP_BAD_SELF' });
    await t.rejects(bad.start(), { code: 'ERR_GOSSIP_STATE' }, 'and cannot be started again');
  });
  await t.test('lifecycle misuse', async (t) => {
    const n = new GossipNode(config, { name: 'never', bindAddr: '127.0.0.1', port: 0 }, deps);
    await t.rejects(n.join([pool.address()]), { code: 'ERR_GOSSIP_STATE' });
    await n.stop();
    await t.rejects(n.start(), { code: 'ERR_GOSSIP_STATE' });
  });
});
