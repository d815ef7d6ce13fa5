import t from 'tap';
import type { ServerCluster } from '../../src/agent/cluster.js';
import { RaftWriter, encodeApply } from '../../src/agent/forward.js';
import type { RpcClient } from '../../src/rpc/client.js';
import { decodeCommand, decodeValue, encodeCommand, encodeValue } from '../../src/state/codec.js';

t.test('an apply request is the hop count and the command bytes, unchanged', async (t) => {
  const data = encodeCommand({ type: 'kv', verb: 'set', key: 'k', value: 'dg==', rid: 'r:0' });
  const body = encodeApply(data, 2);
  t.equal(body[0], 2, 'hops first');
  t.same(decodeCommand(body.subarray(1)), decodeCommand(data), 'then the command as proposed');
  t.not(body[0], 0x7b, 'never mistaken for the older JSON form, which starts with {');
});

t.test('a leader proposes the bytes it was sent, and still reads the older JSON request', async (t) => {
  const proposed: Buffer[] = [];
  // a stand-in leader: only what RaftWriter touches
  const cluster = { isLeader: true, propose: (data: Buffer) => { proposed.push(data); return Promise.resolve({ ok: true, index: 1, value: true }); } };
  const writer = new RaftWriter(cluster as unknown as ServerCluster, {} as RpcClient);
  const data = encodeCommand({ type: 'kv', verb: 'set', key: 'k', value: 'dg==', rid: 'r:0' });
  t.same(decodeValue(await writer.serveApply(encodeApply(data, 0))), true);
  t.same(proposed[0], data, 'the same bytes');
  const older = encodeValue({ cmd: decodeCommand(data), hops: 0 });
  t.same(decodeValue(await writer.serveApply(older)), true);
  t.same(decodeCommand(proposed[1] as Buffer), decodeCommand(data), 'the same command');
  await t.rejects(writer.serveApply(encodeApply(data, 3)), { message: 'No cluster leader' }, 'too many hops');
});
