/**
 * One side of the lock handoff benchmark (bench/kv.bench.ts starts two).
 * Takes turns with the other worker: waits for its turn (the `turn` key),
 * acquires the lock, hands the turn over, releases. Prints one JSON line per
 * acquire and per release with a clock shared by both processes.
 * Usage: node dist/bench/lock-handoff-worker.js <agent url> <me> <other> <rounds>
 */
import { performance } from 'node:perf_hooks';
import { MusterClient, Lock } from '../src/client/index.js';

const [url, me, other, roundsArg] = process.argv.slice(2) as [string, string, string, string];
const rounds = Number(roundsArg);
const client = new MusterClient({ address: url });
const now = () => performance.timeOrigin + performance.now();
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const lock = new Lock(client, { key: 'bench-lock/.lock', sessionTtl: '15s', lockRetryTimeMs: 50 });
  let index = 0;
  for (let i = 0; i < rounds; i++) {
    // wait for my turn (blocking reads on the turn key)
    for (;;) {
      const r = await client.kv.getWithMeta('bench-lock/turn', index > 0 ? { index, waitMs: 10_000 } : {});
      index = r.meta.index;
      if (r.value?.value.toString() === me) break;
    }
    const held = await lock.lock();
    if (!held) throw new Error('lock not acquired');
    out({ who: me, event: 'acquire', round: i, t: now() });
    await client.kv.put('bench-lock/turn', other);
    out({ who: me, event: 'release', round: i, t: now() });
    await lock.unlock();
  }
}

main().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exitCode = 1; });
