#!/usr/bin/env node
// lock-demo: several instances increment one counter in the KV store, each
// read-modify-write done while holding a distributed lock (withLock). Without
// the lock, concurrent instances would overwrite each other's increments.
//
//   INSTANCE=a node examples/lock-demo/index.mjs [ITERATIONS]
//
// Environment (all optional):
//   MUSTER_HTTP_ADDR / CONSUL_HTTP_ADDR  the agent (default 127.0.0.1:8500)
//   INSTANCE       name printed in the log (default pid-<pid>)
//   ITERATIONS     increments to make (default 10; the first argument wins)
//   PREFIX         KV prefix: the lock is PREFIX/.lock, the counter PREFIX/counter (default lock-demo)
//   HOLD_MS        time spent inside the lock between read and write (default 200)
//   PAUSE_MS       time outside the lock between iterations (default 100)
//   SESSION_TTL    TTL of each lock session (default 15s, Consul's; minimum 10s)
//   LOCK_DELAY     lock-delay of each session (default: the server's, 15s)
//   LOCK_RETRY_MS  pause while a lock-delay runs (default 5000, Consul's)
import { setTimeout as sleep } from 'node:timers/promises';
import { MusterClient, withLock } from '../../dist/src/client/index.js';

const instance = process.env.INSTANCE || `pid-${process.pid}`;
const iterations = Number(process.argv[2] ?? process.env.ITERATIONS ?? 10);
const prefix = process.env.PREFIX || 'lock-demo';
const holdMs = Number(process.env.HOLD_MS ?? 200);
const pauseMs = Number(process.env.PAUSE_MS ?? 100);
const lockKey = `${prefix}/.lock`;
const counterKey = `${prefix}/counter`;

const lockOptions = {
  sessionOptions: {
    name: `lock-demo ${instance}`,
    ttl: process.env.SESSION_TTL || '15s',
    ...(process.env.LOCK_DELAY ? { lockDelay: process.env.LOCK_DELAY } : {}),
  },
  ...(process.env.LOCK_RETRY_MS ? { lockRetryTimeMs: Number(process.env.LOCK_RETRY_MS) } : {}),
};

const log = (msg) => process.stdout.write(`${new Date().toISOString()} [${instance}] ${msg}\n`);

const client = new MusterClient();
const shutdown = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => shutdown.abort());

async function main() {
  log(`starting: ${iterations} increments of ${counterKey} under ${lockKey} at ${client.address}`);
  for (let i = 1; i <= iterations; i++) {
    await withLock(client, lockKey, async (lost) => {
      log(`holds the lock (${i}/${iterations})`);
      const pair = await client.kv.get(counterKey, { signal: lost });
      const before = pair ? Number(pair.value.toString('utf8')) || 0 : 0;
      await sleep(holdMs, undefined, { signal: lost }); // "work" while holding the lock
      lost.throwIfAborted(); // never write once the lock is gone
      await client.kv.put(counterKey, String(before + 1), { signal: lost });
      log(`counter ${before} -> ${before + 1}, releasing the lock`);
    }, { ...lockOptions, signal: shutdown.signal });
    if (pauseMs > 0 && i < iterations) await sleep(pauseMs, undefined, { signal: shutdown.signal });
  }
  log('done');
}

main().then(
  () => { process.exitCode = 0; },
  (err) => {
    if (shutdown.signal.aborted) { log('stopped'); process.exitCode = 130; return; }
    log(`failed: ${err && err.message ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
