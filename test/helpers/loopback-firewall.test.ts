import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { LoopbackFirewall } from './loopback-firewall.js';
import { waitFor } from './wait.js';

function bind(addr: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, addr, () => resolve(s));
  });
}

t.test('cut drops datagrams between two loopback addresses both ways; heal restores them; other pairs pass', async (t) => {
  const firewall = LoopbackFirewall.open(t);
  if (typeof firewall === 'string') {
    if (process.env.CI === 'true') t.fail(firewall);
    else t.comment(`skipped: ${firewall}`);
    return;
  }
  const net = `127.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
  const [a, b, c] = await Promise.all([bind(`${net}.1`), bind(`${net}.2`), bind(`${net}.3`)]);
  t.teardown(() => { a.close(); b.close(); c.close(); });
  const got = new Map<Socket, string[]>([[a, []], [b, []], [c, []]]);
  for (const s of [a, b, c]) s.on('message', (m) => got.get(s)?.push(m.toString()));
  const send = (from: Socket, to: Socket, text: string) => from.send(text, to.address().port, to.address().address);

  send(a, b, 'open');
  await waitFor(() => got.get(b)?.includes('open'), { timeoutMs: 5000, message: 'a datagram passes before the cut' });

  firewall.cut([`${net}.1`], [`${net}.2`]);
  send(a, b, 'a->b cut');
  send(b, a, 'b->a cut');
  send(a, c, 'a->c');
  await waitFor(() => got.get(c)?.includes('a->c'), { timeoutMs: 5000, message: 'a pair that is not cut still passes' });
  // the datagram to c was sent after the cut ones and has arrived, so the cut ones would have too
  t.notOk(got.get(b)?.includes('a->b cut'), 'a to b is dropped');
  t.notOk(got.get(a)?.includes('b->a cut'), 'b to a is dropped');

  firewall.heal();
  t.equal(firewall.cutCount, 0, 'no cut left');
  send(a, b, 'healed');
  await waitFor(() => got.get(b)?.includes('healed'), { timeoutMs: 5000, message: 'datagrams pass again after heal' });
});
