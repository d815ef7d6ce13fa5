import t from 'tap';
import { validateGossipConfig } from '../../src/gossip/config.js';
import { GossipCore } from '../../src/gossip/core.js';
import type { Ready } from '../../src/gossip/core-types.js';
import { createRng } from '../../src/gossip/rng.js';
import { decodeFrame, decodePacket, encodeFrame, encodePacket, type PacketMessage } from '../../src/gossip/wire.js';

// Message-level scenarios of one core, driven by hand: we play every other member.

const config = validateGossipConfig({});
const ME = '10.0.0.1:7946';
const B = '10.0.0.2:7946';
const C = '10.0.0.3:7946';
const D = '10.0.0.4:7946';

function newCore(): GossipCore {
  const core = new GossipCore(config, { rng: createRng(5), self: { name: 'a', addr: '10.0.0.1', port: 7946, tags: { role: 'server' } } });
  core.tick(0);
  core.ready();
  return core;
}

const alive = (name: string, incarnation: number, tags: Record<string, string> = {}): PacketMessage => ({
  type: 'alive', incarnation, name, addr: `10.0.0.${name.charCodeAt(0) - 96}`, port: 7946, tags,
});

function deliver(core: GossipCore, from: string, msgs: PacketMessage[], nowMs: number): Ready {
  core.step({ from, data: encodePacket(msgs), nowMs });
  return core.ready();
}

/** Every message of every packet, with its destination. */
function sent(ready: Ready): { to: string; msg: PacketMessage }[] {
  return ready.packets.flatMap((p) => {
    const d = decodePacket(p.data);
    if (!d.ok) throw new Error(`core sent an undecodable packet: ${d.detail}`);
    return d.value.map((msg) => ({ to: p.to, msg }));
  });
}

/** Runs the core's timers from `from` to `to` in 10 ms steps and collects its output. */
function run(core: GossipCore, from: number, to: number): Ready {
  const all: Ready = { packets: [], streams: [], events: [] };
  for (let now = from; now <= to; now += 10) {
    core.tick(now);
    const r = core.ready();
    all.packets.push(...r.packets);
    all.streams.push(...r.streams);
    all.events.push(...r.events);
  }
  return all;
}

t.test('the local member joins its own view first', async (t) => {
  const core = new GossipCore(config, { rng: createRng(1), self: { name: 'a', addr: '10.0.0.1', port: 7946 } });
  core.tick(100);
  t.match(core.ready().events, [{ type: 'join', member: { name: 'a', state: 'alive', incarnation: 1 }, atMs: 100 }]);
});

t.test('answers a ping with an ack to its sender, and drops a ping for another member', async (t) => {
  const core = newCore();
  t.match(sent(deliver(core, B, [{ type: 'ping', seq: 42, target: 'a', source: 'b' }], 10)), [{ to: B, msg: { type: 'ack', seq: 42 } }]);
  t.same(deliver(core, B, [{ type: 'ping', seq: 43, target: 'zed', source: 'b' }], 20).packets, []);
  t.equal(core.stats().dropped['wrong-target'], 1);
});

t.test('learns members from alive messages; tags follow the incarnation (Lamport) order', async (t) => {
  const core = newCore();
  t.match(deliver(core, B, [alive('b', 1, { v: '1' })], 10).events, [{ type: 'join', member: { name: 'b', tags: { v: '1' } } }]);
  t.match(deliver(core, B, [alive('b', 3, { v: '3' })], 20).events, [{ type: 'update', member: { incarnation: 3, tags: { v: '3' } } }]);
  t.same(deliver(core, B, [alive('b', 2, { v: '2' })], 30).events, [], 'an older incarnation changes nothing');
  t.same(deliver(core, B, [alive('b', 3, { v: 'x' })], 40).events, [], 'nor does the same one');
  t.same(core.member('b')?.tags, { v: '3' });
});

t.test('refutes a suspicion of itself with a higher incarnation', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1)], 10);
  deliver(core, B, [{ type: 'suspect', incarnation: 1, name: 'a', from: 'b' }], 20);
  t.equal(core.localMember().incarnation, 2);
  t.equal(core.localMember().state, 'alive');
  t.equal(core.stats().refutations, 1);
  t.equal(core.healthScore(), 1, 'being suspected lowers our own health');
  // the refutation rides on the next packet we send
  const out = sent(deliver(core, B, [{ type: 'ping', seq: 1, target: 'a', source: 'b' }], 30));
  t.match(out.map((o) => o.msg), [{ type: 'ack' }, { type: 'alive', name: 'a', incarnation: 2, tags: { role: 'server' } }]);
  deliver(core, B, [{ type: 'dead', incarnation: 5, name: 'a', from: 'b' }], 40);
  t.equal(core.localMember().incarnation, 6, 'a death is refuted the same way');
});

t.test('dead from the member itself is a leave; from another, a failure', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1)], 10);
  t.match(deliver(core, B, [{ type: 'dead', incarnation: 1, name: 'b', from: 'b' }], 20).events, [{ type: 'leave', member: { name: 'b', state: 'left' } }]);
  t.match(deliver(core, B, [{ type: 'dead', incarnation: 1, name: 'c', from: 'b' }], 30).events, [{ type: 'fail', member: { name: 'c', state: 'dead' } }]);
  t.match(deliver(core, C, [alive('c', 2)], 40).events, [{ type: 'join', member: { name: 'c', state: 'alive' } }], 'a refutation brings it back');
});

t.test('force-leave turns a failed member into a left one, and nothing else', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1), { type: 'dead', incarnation: 1, name: 'c', from: 'b' }], 10);
  t.notOk(core.forceLeave('b', 20), 'not a live member');
  t.notOk(core.forceLeave('zed', 20), 'not an unknown one');
  t.notOk(core.forceLeave('a', 20), 'not ourselves');
  t.ok(core.forceLeave('c', 20));
  t.match(core.ready().events, [{ type: 'leave', member: { name: 'c', state: 'left' } }]);
  const out = sent(run(core, 30, 1000));
  t.ok(out.some((o) => o.msg.type === 'dead' && o.msg.name === 'c' && o.msg.from === 'c'), 'gossiped as a leave');
});

t.test('a stale accusation is answered with the newer alive message, to its sender', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1)], 10);
  deliver(core, C, [alive('c', 3)], 10);
  const out = sent(deliver(core, B, [{ type: 'suspect', incarnation: 2, name: 'c', from: 'b' }], 20));
  t.match(out, [{ to: B, msg: { type: 'alive', name: 'c', incarnation: 3 } }]);
  t.equal(core.member('c')?.state, 'alive');
  const self = sent(deliver(core, B, [{ type: 'dead', incarnation: 0, name: 'a', from: 'b' }], 30));
  t.match(self, [{ to: B, msg: { type: 'alive', name: 'a', incarnation: 1 } }], 'about ourselves too, without a new incarnation');
  t.equal(core.stats().refutations, 0);
});

t.test('a ping from a member we suspect is answered with the accusation', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), { type: 'suspect', incarnation: 1, name: 'b', from: 'c' }], 10);
  t.equal(core.member('b')?.state, 'suspect');
  const out = sent(deliver(core, B, [{ type: 'ping', seq: 5, target: 'a', source: 'b' }], 20));
  t.match(out.map((o) => o.msg), [{ type: 'ack', seq: 5 }, { type: 'suspect', name: 'b', incarnation: 1, from: 'a' }]);
});

t.test('an alive message for a known name at another address is a conflict, not a takeover', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1)], 10);
  deliver(core, D, [{ type: 'alive', incarnation: 9, name: 'b', addr: '10.0.0.99', port: 7946, tags: {} }], 20);
  t.equal(core.member('b')?.addr, '10.0.0.2');
  t.equal(core.stats().dropped['name-conflict'], 1);
});

t.test('probe: ping, then ping-req through others, then suspicion, then death', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1), alive('d', 1)], 0);
  // Find the first probe and who it targets; answer nobody.
  let now = 0;
  let ping: { to: string; msg: PacketMessage } | undefined;
  while (!ping && now < 3000) {
    now += 10;
    core.tick(now);
    ping = sent(core.ready()).find((o) => o.msg.type === 'ping');
  }
  if (!ping || ping.msg.type !== 'ping') throw new Error('no probe was sent');
  const target = ping.msg.target;
  const probeAt = now;
  const indirect = sent(run(core, now + 10, probeAt + config.probeTimeoutMs)).filter((o) => o.msg.type === 'indirect-ping');
  t.equal(indirect.length, 2, 'the two other members are asked');
  t.ok(indirect.every((o) => o.msg.type === 'indirect-ping' && o.msg.target === target && o.msg.nack));
  // One intermediary nacks: its ping went unanswered too.
  if (indirect[0]?.msg.type === 'indirect-ping') deliver(core, indirect[0].to, [{ type: 'nack', seq: indirect[0].msg.seq }], probeAt + 900);
  const after = run(core, probeAt + config.probeTimeoutMs + 10, probeAt + config.probeIntervalMs);
  t.equal(core.member(target)?.state, 'suspect');
  t.equal(core.healthScore(), 1, 'one of two nacks missing: +1');
  t.ok(sent(after).some((o) => o.msg.type === 'suspect' && o.msg.name === target) || core.stats().probesFailed === 1);
  // 4 live members, 4 × log10(4) < 4: min 4 s; k = 2 wanted, none come: max = 6 × min.
  const suspectedAt = probeAt + config.probeIntervalMs;
  const end = run(core, suspectedAt + 10, suspectedAt + 24_000);
  t.equal(core.member(target)?.state, 'dead');
  const fail = end.events.find((e) => e.type === 'fail');
  t.equal(fail?.member.name, target);
  t.ok(fail && fail.atMs >= suspectedAt + 24_000 - 10, 'a lone accuser waits the maximum');
});

t.test('an ack through an intermediary ends the probe and improves health', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1)], 0);
  deliver(core, B, [{ type: 'suspect', incarnation: 1, name: 'a', from: 'b' }], 0); // score 1
  let now = 0;
  let ping: PacketMessage | undefined;
  while (!ping && now < 3000) {
    now += 10;
    core.tick(now);
    ping = sent(core.ready()).find((o) => o.msg.type === 'ping')?.msg;
  }
  if (!ping || ping.type !== 'ping') throw new Error('no probe was sent');
  t.equal(core.healthScore(), 1);
  deliver(core, C, [{ type: 'ack', seq: ping.seq }], now + 700);
  t.equal(core.healthScore(), 0);
  run(core, now + 710, now + 1000);
  t.equal(core.member(ping.target)?.state, 'alive', 'no suspicion at the probe deadline');
});

t.test('relays a ping-req: pings the target, forwards its ack, nacks when it stays silent', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1)], 0);
  const out = sent(deliver(core, B, [{ type: 'indirect-ping', seq: 77, target: 'c', addr: '10.0.0.3', port: 7946, nack: true }], 100));
  const relayed = out.find((o) => o.msg.type === 'ping');
  t.match(relayed, { to: C, msg: { type: 'ping', target: 'c' } });
  if (relayed?.msg.type !== 'ping') return;
  t.match(sent(deliver(core, C, [{ type: 'ack', seq: relayed.msg.seq }], 150)), [{ to: B, msg: { type: 'ack', seq: 77 } }]);
  const out2 = sent(deliver(core, B, [{ type: 'indirect-ping', seq: 78, target: 'c', addr: '10.0.0.3', port: 7946, nack: true }], 200));
  t.ok(out2.some((o) => o.msg.type === 'ping'));
  t.ok(sent(run(core, 210, 200 + config.probeTimeoutMs)).some((o) => o.to === B && o.msg.type === 'nack' && o.msg.seq === 78));
});

t.test('push-pull: replies with its state and merges the peer\'s', async (t) => {
  const core = newCore();
  const reply = core.stepStream({
    from: '10.0.0.2:50000',
    nowMs: 10,
    data: encodeFrame({
      type: 'push-pull', join: true, members: [
        { name: 'b', addr: '10.0.0.2', port: 7946, incarnation: 1, state: 'alive', tags: {} },
        { name: 'c', addr: '10.0.0.3', port: 7946, incarnation: 4, state: 'left', tags: {} },
      ],
    }),
  });
  const decoded = reply && decodeFrame(reply);
  t.match(decoded, { ok: true, value: { type: 'push-pull', members: [{ name: 'a', state: 'alive' }] } }, 'our state from before the merge');
  t.equal(core.member('b')?.state, 'alive');
  t.equal(core.member('c'), undefined, 'a left member we never knew is not news');
  t.match(core.stepStream({ from: 'x:1', data: new Uint8Array([1, 2, 3]), nowMs: 20 }), new Uint8Array(), 'garbage gets a stream-error reply');
});

t.test('join asks the runtime for one push-pull per address and merges the replies', async (t) => {
  const core = newCore();
  const attempts = core.join(['10.0.0.2:7946', '10.0.0.3', 'not an address:x'], 10);
  t.match(attempts, [{ address: '10.0.0.2:7946', id: Number }, { address: '10.0.0.3', id: Number }, { error: /host:port/ }]);
  const streams = core.ready().streams;
  t.same(streams.map((s) => [s.to, s.kind]), [[B, 'join'], [C, 'join']]);
  const first = streams[0]!;
  const outcome = core.streamDone({
    id: first.id, nowMs: 20,
    data: encodeFrame({ type: 'push-pull', join: false, members: [{ name: 'b', addr: '10.0.0.2', port: 7946, incarnation: 2, state: 'alive', tags: {} }] }),
  });
  t.match(outcome, { ok: true, kind: 'join', members: 1 });
  t.match(core.streamDone({ id: streams[1]!.id, nowMs: 20, error: 'connection refused' }), { ok: false, reason: 'connection refused' });
  t.match(core.streamDone({ id: 999, nowMs: 20, error: 'x' }), { ok: false, reason: /no stream 999/ });
  t.equal(core.member('b')?.state, 'alive');
});

t.test('leave: a dead message from itself, gossiped until sent its full number of times', async (t) => {
  const core = newCore();
  deliver(core, B, [alive('b', 1), alive('c', 1)], 0);
  core.leave(100);
  const r = core.ready();
  t.match(r.events, [{ type: 'leave', member: { name: 'a', state: 'left' } }]);
  t.notOk(core.leaveBroadcastDone());
  const out = run(core, 110, 2000);
  t.ok(sent(out).some((o) => o.msg.type === 'dead' && o.msg.name === 'a' && o.msg.from === 'a'));
  t.ok(core.leaveBroadcastDone());
  t.notOk(sent(out).some((o) => o.msg.type === 'ping'), 'a leaving member probes no one');
  deliver(core, B, [{ type: 'suspect', incarnation: 1, name: 'a', from: 'b' }], 2100);
  t.equal(core.stats().refutations, 0, 'and refutes nothing');
});

t.test('reaps dead members after reconnectTimeoutMs and left ones after tombstoneTimeoutMs', async (t) => {
  const core = new GossipCore(validateGossipConfig({ reconnectTimeoutMs: 60_000, tombstoneTimeoutMs: 30_000, reapIntervalMs: 1000, reconnectIntervalMs: 0 }), {
    rng: createRng(2), self: { name: 'a', addr: '10.0.0.1', port: 7946 },
  });
  core.tick(0);
  deliver(core, B, [alive('b', 1), alive('c', 1), { type: 'dead', incarnation: 1, name: 'b', from: 'c' }, { type: 'dead', incarnation: 1, name: 'c', from: 'c' }], 0);
  const reaps = run(core, 0, 70_000).events.filter((e) => e.type === 'reap');
  t.match(reaps, [{ member: { name: 'c', state: 'left' } }, { member: { name: 'b', state: 'dead' } }]);
  t.ok((reaps[0]?.atMs ?? 0) > 30_000 && (reaps[0]?.atMs ?? 0) <= 32_000);
  t.same(core.members().map((m) => m.name), ['a']);
});

t.test('never throws on bad input; rejects bad self descriptions with a code', async (t) => {
  const core = newCore();
  t.doesNotThrow(() => core.step({ from: 'garbage', data: encodePacket([{ type: 'ack', seq: 1 }]), nowMs: 1 }));
  t.doesNotThrow(() => core.streamDone({ id: 1, nowMs: 1, data: new Uint8Array([0x4d, 1, 8, 0]) }));
  for (const self of [{ name: '', addr: 'x', port: 1 }, { name: 'a', addr: 'x', port: 0 }, { name: 'a', addr: 'x', port: 1, tags: { big: 'x'.repeat(600) } }]) {
    t.throws(() => new GossipCore(config, { rng: createRng(1), self }), { code: 'ERR_GOSSIP_BAD_SELF' });
  }
});
