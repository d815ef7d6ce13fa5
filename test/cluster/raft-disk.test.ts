import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, startAgent } from '../helpers/agent.js';
import { runMuster } from '../helpers/cli.js';

/**
 * A single server with a data dir, as an operator runs one: what it
 * acknowledged survives a restart, and a log damaged in the middle stops it
 * with a clear error instead of starting with less data.
 */
const KEYS = 40;

function serverArgs(dir: string, node: string): string[] {
  return ['agent', '-server', '-bootstrap', '-data-dir', dir, '-node', node, '-bind', '127.0.0.1',
    '-http-port', '0', '-serf-lan-port', '0', '-server-port', '0', '-dns-port', '-1', '-docker', '', '-log-level', 'info'];
}

const value = (i: number) => `value-${String(i).padStart(4, '0')}-durable`;

t.test('a server keeps what it acknowledged across a restart, and refuses a log corrupted in the middle', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-disk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const node = `disk-${process.pid}`;

  const first = await startAgent(t, { command: serverArgs(dir, node) });
  for (let i = 0; i < KEYS; i++) {
    const r = await api(first.url, 'PUT', `/v1/kv/durable/${i}`, value(i));
    t.equal(r.status, 200, `put ${i}`);
  }
  t.equal(await first.stop('SIGKILL'), null, 'killed without a chance to flush anything');

  const second = await startAgent(t, { command: serverArgs(dir, node) });
  const list = await api(second.url, 'GET', '/v1/kv/durable/?recurse');
  t.equal(list.status, 200);
  const values = (list.body as Array<{ Value: string }>).map((e) => Buffer.from(e.Value, 'base64').toString());
  t.equal(values.length, KEYS, 'every acknowledged key is back after the restart');
  t.ok(values.includes(value(KEYS - 1)), 'including the last one');
  await second.stop();

  // damage one value in the middle of the log: records after it are intact, so this is not a torn tail
  const walDir = join(dir, 'raft', 'wal');
  const segment = readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort()[0];
  t.ok(segment, 'the WAL has a segment');
  const path = join(walDir, segment as string);
  const buf = readFileSync(path);
  // commands carry KV values in base64
  const at = buf.indexOf(Buffer.from(Buffer.from(value(Math.floor(KEYS / 2))).toString('base64')));
  t.ok(at > 0, 'the middle key\'s value is in the log');
  buf[at + 3] = (buf[at + 3] as number) ^ 0x01;
  writeFileSync(path, buf);

  const r = await runMuster(serverArgs(dir, node), { timeoutMs: 30_000 });
  t.not(r.code, 0, 'the server refuses to start');
  const out = `${r.stdout.toString()}${r.stderr.toString()}`;
  t.match(out, /corrupt/, 'and says the log is corrupt');
  t.match(out, segment as string, 'naming the file');
});
