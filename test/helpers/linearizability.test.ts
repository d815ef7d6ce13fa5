// The linearizability checker: hand-written histories with a known verdict, random
// histories from a simulated linearizable register (and one corrupted read), and big
// histories that must be decided well within the timeout.
import t from 'tap';
import { mulberry32 } from './prng.js';
import { checkKvHistory, describeOperation } from './linearizability.js';
import type { KvInput, Operation } from './linearizability.js';

// --- builders ---------------------------------------------------------------------

function put(client: number, value: string, call: number, ret: number, key = 'x'): Operation {
  return { client, input: { op: 'put', key, value }, call, return: ret, output: { ok: true } };
}
function get(client: number, value: string | null, call: number, ret: number, key = 'x'): Operation {
  return { client, input: { op: 'get', key }, call, return: ret, output: { value } };
}
function cas(
  client: number, expected: string | null, value: string, ok: boolean, call: number, ret: number, key = 'x',
): Operation {
  return { client, input: { op: 'cas', key, expected, value }, call, return: ret, output: { ok } };
}
function del(client: number, call: number, ret: number, key = 'x'): Operation {
  return { client, input: { op: 'delete', key }, call, return: ret, output: { ok: true } };
}
/** The same operation with an unknown outcome (timed out, connection lost). */
function unknown(op: Operation): Operation {
  return { ...op, return: Infinity, output: undefined };
}

// --- hand-written histories ----------------------------------------------------------

t.test('sequential histories are linearizable', async (t) => {
  t.same(checkKvHistory([]), { ok: true }, 'empty history');
  t.same(checkKvHistory([get(1, null, 0, 1)]), { ok: true }, 'a key starts absent');
  const history = [
    put(1, 'a', 0, 1),
    get(2, 'a', 2, 3),
    cas(1, 'a', 'b', true, 4, 5),
    get(3, 'b', 6, 7),
    cas(2, 'a', 'c', false, 8, 9),
    cas(2, null, 'c', false, 10, 11),
    del(1, 12, 13),
    get(3, null, 14, 15),
    cas(1, null, 'd', true, 16, 17),
    get(2, 'd', 18, 19),
    put(1, 'e', 20, 21, 'y'),
    get(1, 'e', 22, 23, 'y'),
    get(1, 'd', 24, 25),
  ];
  t.same(checkKvHistory(history), { ok: true });
  t.same(checkKvHistory([...history].reverse()), { ok: true }, 'array order does not matter');
  t.equal(checkKvHistory([get(1, 'a', 0, 1)]).ok, false, 'a key that was never written is absent');
  t.equal(checkKvHistory([put(1, 'a', 0, 1), del(1, 2, 3), get(1, 'a', 4, 5)]).ok, false, 'delete takes effect');
});

t.test('a stale read after a completed write is not linearizable', async (t) => {
  const result = checkKvHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 3), get(2, 'a', 4, 5)]);
  t.equal(result.ok, false);
  t.equal(result.key, 'x');
  t.notOk(result.timedOut);
  t.match(result.explanation, /key "x" is not linearizable/);
  t.match(result.explanation, /client 2: get\(\) -> "a" \[4, 5\]/, 'names the stale read');
  t.match(result.explanation, /value is "b"/, 'and the value it should have seen');
  // The same read while the second write is in flight is fine.
  t.same(checkKvHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 6), get(2, 'a', 4, 5)]), { ok: true });
});

t.test('two clients observing the writes in contradictory orders', async (t) => {
  const history = [
    put(1, 'a', 0, 20),
    put(2, 'b', 0, 20),
    get(3, 'a', 1, 2), get(3, 'b', 3, 4), // a, then b
    get(4, 'b', 5, 6), get(4, 'a', 7, 8), // b, then a: a would have to be written twice
  ];
  const result = checkKvHistory(history);
  t.equal(result.ok, false);
  t.equal(result.key, 'x');
  // Either order alone is fine.
  t.same(checkKvHistory(history.slice(0, 4)), { ok: true });
  t.same(checkKvHistory([...history.slice(0, 2), ...history.slice(4)]), { ok: true });
  // Reads that overlap each other (and the writes) may each see a different one.
  t.same(checkKvHistory([put(1, 'a', 0, 20), put(2, 'b', 0, 20), get(3, 'a', 1, 9), get(4, 'b', 1, 9)]), { ok: true });
});

t.test('a cas succeeding against a value that was never current', async (t) => {
  t.equal(checkKvHistory([put(1, 'a', 0, 1), cas(2, 'b', 'c', true, 2, 3)]).ok, false, 'never written');
  t.equal(checkKvHistory([cas(2, 'b', 'c', true, 0, 1)]).ok, false, 'on an absent key');
  const overwritten = checkKvHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 3), cas(2, 'a', 'c', true, 4, 5)]);
  t.equal(overwritten.ok, false, 'written, but no longer current');
  t.match(overwritten.explanation, /cas\("a" -> "c"\) -> true/);
  t.equal(checkKvHistory([put(1, 'a', 0, 1), cas(2, null, 'c', true, 2, 3)]).ok, false, 'expected absent, was not');
  t.equal(checkKvHistory([put(1, 'a', 0, 1), cas(2, 'a', 'c', false, 2, 3)]).ok, false, 'a cas that should have won');
  // While the overwrite is in flight, the cas may go first.
  t.same(checkKvHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 6), cas(2, 'a', 'c', true, 4, 5), get(3, 'b', 7, 8)]),
    { ok: true });
});

t.test('concurrent operations linearizable in only one order', async (t) => {
  // Three overlapping cas calls that only work as a chain null -> a -> b -> c,
  // listed (and called) in the opposite order.
  const chain = [
    cas(3, 'b', 'c', true, 0, 10),
    cas(2, 'a', 'b', true, 1, 11),
    cas(1, null, 'a', true, 2, 12),
    get(4, 'c', 13, 14),
  ];
  t.same(checkKvHistory(chain), { ok: true });
  const broken = chain.map((op) => (op.client === 2 ? cas(2, 'a', 'b', false, 1, 11) : op));
  t.equal(checkKvHistory(broken).ok, false, 'without the middle link there is no order');
  // Two overlapping puts pinned by reads: a first (read during), b last (read after).
  const pinned = [put(1, 'a', 0, 10), put(2, 'b', 0, 10), get(3, 'a', 2, 3), get(3, 'b', 11, 12)];
  t.same(checkKvHistory(pinned), { ok: true });
  t.equal(checkKvHistory([...pinned, get(4, 'a', 13, 14)]).ok, false, 'a cannot come back');
  t.equal(checkKvHistory([...pinned, get(4, null, 1, 2)]).ok, true, 'absent before both puts');
  t.equal(checkKvHistory([...pinned, get(4, null, 11, 12)]).ok, false, 'absent after both puts');
});

t.test('unknown-outcome writes', async (t) => {
  t.test('one that must have happened to explain a later read', async (t) => {
    const history = [put(1, 'a', 0, 1), unknown(put(2, 'b', 2, 3)), get(3, 'b', 5, 6), get(3, 'b', 7, 8)];
    t.same(checkKvHistory(history), { ok: true });
    // Called after the read returned, it cannot explain it.
    t.equal(checkKvHistory([put(1, 'a', 0, 1), unknown(put(2, 'b', 7, 8)), get(3, 'b', 5, 6)]).ok, false);
    // Its effect happens once: it cannot explain b, then a, then b again.
    t.equal(checkKvHistory([...history.slice(0, 3), get(3, 'a', 7, 8), get(3, 'b', 9, 10)]).ok, false);
    // A timed-out request may still take effect long after the client gave up.
    t.same(checkKvHistory([put(1, 'a', 0, 1), unknown(put(2, 'b', 2, 3)), get(3, 'a', 50, 51), get(3, 'b', 99, 100)]),
      { ok: true });
  });

  t.test('one that must be assumed not to have happened', async (t) => {
    // Reads after it still see a; the failed cas at the end (expecting its value)
    // says it did not happen before that either. Its value is observable (by the
    // cas), so this exercises the search rather than the pruning of unobservable writes.
    const history = [
      put(1, 'a', 0, 1),
      unknown(put(2, 'b', 2, 3)),
      get(3, 'a', 4, 5),
      get(3, 'a', 100, 101),
      cas(3, 'b', 'c', false, 102, 103),
      get(3, 'a', 104, 105),
    ];
    t.same(checkKvHistory(history), { ok: true });
    t.equal(checkKvHistory(history.map((op) => ({ ...op, output: op.output ?? { ok: true }, return: op.return === Infinity ? 3 : op.return }))).ok,
      false, 'had it completed, the history would be wrong');
    // An unknown delete that did not happen.
    t.same(checkKvHistory([put(1, 'a', 0, 1), unknown(del(2, 2, 3)), get(3, 'a', 4, 5), cas(3, null, 'c', false, 6, 7)]),
      { ok: true });
  });

  t.test('one inferred from a failed cas, with no read of its value', async (t) => {
    const history = [
      put(1, 'a', 0, 1),
      unknown(put(2, 'b', 2, 3)),
      cas(3, 'a', 'c', false, 4, 5), // the value was no longer a: b happened
      put(1, 'd', 6, 7),
      get(3, 'd', 8, 9),
    ];
    t.same(checkKvHistory(history), { ok: true });
    t.equal(checkKvHistory(history.filter((op) => op.output !== undefined)).ok, false, 'without it: not linearizable');
  });

  t.test('unknown cas and unknown reads', async (t) => {
    t.same(checkKvHistory([put(1, 'a', 0, 1), unknown(cas(2, 'a', 'b', true, 2, 3)), get(3, 'b', 5, 6)]), { ok: true });
    t.equal(checkKvHistory([put(1, 'a', 0, 1), unknown(cas(2, 'z', 'b', true, 2, 3)), get(3, 'b', 5, 6)]).ok, false,
      'an unknown cas whose expectation never holds writes nothing');
    t.same(checkKvHistory([put(1, 'a', 0, 1), unknown(get(2, 'zzz', 2, 3)), get(3, 'a', 5, 6)]), { ok: true },
      'an unknown read constrains nothing');
    t.equal(checkKvHistory([put(1, 'a', 0, 1), unknown(get(2, 'a', 2, 3)), get(3, 'q', 5, 6)]).ok, false,
      'and hides nothing');
  });

  t.test('many unobservable unknown writes do not blow up the search', async (t) => {
    const history: Operation[] = [put(0, 'start', 0, 1)];
    for (let i = 0; i < 60; i++) history.push(unknown(put(1 + (i % 10), `lost${i}`, 2 + i, 3 + i)));
    for (let i = 0; i < 200; i++) history.push(get(11, 'start', 100 + 2 * i, 101 + 2 * i));
    const started = performance.now();
    t.same(checkKvHistory(history, { timeoutMs: 5000 }), { ok: true });
    t.ok(performance.now() - started < 2000, 'decided quickly');
  });
});

t.test('each key is checked on its own, and the failing one is named', async (t) => {
  const history = [
    put(1, 'a', 0, 1, 'k1'),
    put(1, 'a', 0, 1, 'k2'),
    get(2, 'a', 2, 3, 'k1'),
    get(2, null, 2, 3, 'k2'), // stale
    get(2, 'a', 4, 5, 'k3'), // never written
  ];
  const first = checkKvHistory(history);
  t.equal(first.ok, false);
  t.ok(first.key === 'k2' || first.key === 'k3', `names a failing key (${first.key})`);
  t.equal(checkKvHistory(history.slice(0, 4)).key, 'k2');
  t.same(checkKvHistory(history.slice(0, 3)), { ok: true });
  // A value written on one key says nothing about another.
  t.equal(checkKvHistory([put(1, 'a', 0, 10, 'k1'), get(2, 'a', 2, 3, 'k2')]).ok, false);
});

t.test('malformed histories are rejected', async (t) => {
  t.throws(() => checkKvHistory([{ ...put(1, 'a', 5, 1) }]), /return \(1\) before call \(5\)/);
  t.throws(() => checkKvHistory([{ ...put(1, 'a', 0, 1), output: undefined }]), /return: Infinity/);
  t.throws(() => checkKvHistory([{ ...put(1, 'a', 0, Infinity) }]), /finite return/);
  t.throws(() => checkKvHistory([{ ...get(1, 'a', 0, 1), output: { ok: true } }]), /get's output/);
  t.throws(() => checkKvHistory([{ ...put(1, 'a', 0, 1), output: { value: 'a' } }]), /put's output/);
  t.equal(checkKvHistory([{ ...put(1, 'a', 0, 1), output: { ok: false } }]).ok, false, 'a put always succeeds');
  t.match(describeOperation(unknown(cas(7, null, 'v', true, 3, 4)), 12), '#12 client 7: cas(absent -> "v") -> ? (unknown outcome) [3, ∞]');
});

t.test('the timeout bounds a search that explodes', async (t) => {
  // 40 mutually concurrent writes, then a read of a value none of them wrote: every
  // subset of the writes is a distinct state, far too many to exhaust.
  const history: Operation[] = [];
  for (let i = 0; i < 40; i++) history.push(put(i, `w${i}`, 0, 10));
  history.push(get(99, 'nobody', 11, 12));
  const started = performance.now();
  const result = checkKvHistory(history, { timeoutMs: 200 });
  const elapsed = performance.now() - started;
  t.equal(result.ok, true);
  t.equal(result.timedOut, true);
  t.equal(result.key, 'x');
  t.match(result.explanation, /timed out after 200 ms/);
  t.ok(elapsed < 3000, `stopped in ${elapsed.toFixed(0)} ms`);
  // With few enough writes it is decided.
  const small = [...history.slice(0, 8), history[40] as Operation];
  t.equal(checkKvHistory(small, { timeoutMs: 5000 }).ok, false);
});

t.test('a long sequential history needs no recursion', async (t) => {
  const history: Operation[] = [];
  for (let i = 0; i < 20_000; i++) {
    history.push(i % 2 === 0 ? put(i % 7, `v${i}`, 2 * i, 2 * i + 1) : get(i % 7, `v${i - 1}`, 2 * i, 2 * i + 1));
  }
  t.same(checkKvHistory(history), { ok: true });
  (history[15_001] as Operation).output = { value: 'v0' };
  t.equal(checkKvHistory(history).ok, false);
});

// --- random histories from a simulated linearizable register ---------------------------

interface GenOptions { ops: number; clients: number; keys: number; unknownRate: number }

/**
 * Clients issue operations one after another (each starts a little after the client's
 * previous one returned); every operation takes effect at a random point between its
 * call and return, and the outputs come from applying them in that order. An operation
 * with an unknown outcome took effect (possibly long after it was called) or not, at
 * random, and is recorded without its output.
 */
function generate(seed: number, o: GenOptions): Operation[] {
  const rnd = mulberry32(seed);
  const clientFree = Array.from({ length: o.clients }, () => rnd() * 5);
  const written = new Map<string, string[]>(); // per key, values written so far (for cas)
  let counter = 0;
  const planned: Array<{ op: Operation; at: number; applied: boolean; unknown: boolean }> = [];
  for (let n = 0; n < o.ops; n++) {
    let c = 0;
    for (let i = 1; i < o.clients; i++) if ((clientFree[i] as number) < (clientFree[c] as number)) c = i;
    const call = (clientFree[c] as number) + rnd() * 2;
    const duration = 0.5 + rnd() * 10;
    clientFree[c] = call + duration;
    const key = `k${Math.floor(rnd() * o.keys)}`;
    const values = written.get(key) ?? [];
    written.set(key, values);
    const r = rnd();
    let input: KvInput;
    if (r < 0.4) input = { op: 'get', key };
    else if (r < 0.65) input = { op: 'put', key, value: `v${counter++}` };
    else if (r < 0.92) {
      const recent = values.slice(-3);
      const pick = Math.floor(rnd() * (recent.length + 1));
      input = { op: 'cas', key, expected: recent[pick] ?? null, value: `v${counter++}` };
    } else input = { op: 'delete', key };
    if (input.op === 'put' || input.op === 'cas') values.push(input.value);
    const isUnknown = rnd() < o.unknownRate;
    const applied = !isUnknown || rnd() < 0.5;
    const at = call + rnd() * duration * (isUnknown ? 3 : 1);
    planned.push({ op: { client: c, input, call, return: call + duration, output: undefined }, at, applied, unknown: isUnknown });
  }
  const state = new Map<string, string>();
  for (const p of [...planned].sort((a, b) => a.at - b.at)) {
    if (!p.applied) continue;
    const { input } = p.op;
    const current = state.get(input.key) ?? null;
    switch (input.op) {
      case 'get': p.op.output = { value: current }; break;
      case 'put': state.set(input.key, input.value); p.op.output = { ok: true }; break;
      case 'delete': state.delete(input.key); p.op.output = { ok: true }; break;
      case 'cas': {
        const ok = current === input.expected;
        if (ok) state.set(input.key, input.value);
        p.op.output = { ok };
        break;
      }
    }
  }
  return planned.map((p) => (p.unknown ? { ...p.op, return: Infinity, output: undefined } : p.op));
}

t.test('random histories of a linearizable register pass; one corrupted read fails', async (t) => {
  let casWins = 0, casLosses = 0, unknowns = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const history = generate(seed, { ops: 400, clients: 10, keys: 3, unknownRate: seed % 3 === 0 ? 0.05 : 0 });
    for (const op of history) {
      if (op.output === undefined) unknowns++;
      else if (op.input.op === 'cas' && 'ok' in op.output) {
        if (op.output.ok) casWins++;
        else casLosses++;
      }
    }
    const result = checkKvHistory(history, { timeoutMs: 10_000 });
    t.same(result, { ok: true }, `seed ${seed}`);

    const reads = history.filter((op) => op.input.op === 'get' && op.output !== undefined);
    const victim = reads[Math.floor(reads.length / 2)] as Operation;
    const corrupted = history.map((op) => (op === victim ? { ...op, output: { value: 'never-written' } } : op));
    const bad = checkKvHistory(corrupted, { timeoutMs: 10_000 });
    t.equal(bad.ok, false, `seed ${seed} corrupted`);
    t.equal(bad.key, victim.input.key, `seed ${seed} names the key`);
    t.match(bad.explanation, /get\(\) -> "never-written"/, `seed ${seed} names the read`);
  }
  // The generator exercises every path: successful and failed cas, unknown outcomes.
  t.ok(casWins > 100, `cas wins: ${casWins}`);
  t.ok(casLosses > 100, `cas losses: ${casLosses}`);
  t.ok(unknowns > 10, `unknown outcomes: ${unknowns}`);
});

t.test('a stale read appended to a random history fails', async (t) => {
  for (let seed = 100; seed < 110; seed++) {
    const history = generate(seed, { ops: 300, clients: 8, keys: 2, unknownRate: 0 });
    const firstPut = history.find((op) => op.input.op === 'put' && op.input.key === 'k0');
    if (firstPut === undefined || firstPut.input.op !== 'put') throw new Error(`seed ${seed}: no put on k0`);
    // After everything, a put of a fresh value, then a read of the key's first value.
    const end = Math.max(...history.map((op) => op.return));
    const fence = put(99, 'fence', end + 1, end + 2, 'k0');
    const result = checkKvHistory([...history, fence, get(99, firstPut.input.value, end + 3, end + 4, 'k0')]);
    t.equal(result.ok, false, `seed ${seed}`);
    t.equal(result.key, 'k0', `seed ${seed} key`);
    t.same(checkKvHistory([...history, fence, get(99, 'fence', end + 3, end + 4, 'k0')]), { ok: true },
      `seed ${seed} control`);
  }
});

/** The definition, by brute force: some subset of the unknown writes plus every definite
 *  operation, in some order that respects real time, replays correctly on a register. */
function bruteForce(history: Operation[]): boolean {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    if (op.output === undefined && op.input.op === 'get') continue;
    byKey.set(op.input.key, [...(byKey.get(op.input.key) ?? []), op]);
  }
  const orderable = (ops: Operation[], state: string | null): boolean => {
    if (ops.length === 0) return true;
    return ops.some((p, i) => {
      if (ops.some((o) => o !== p && o.return < p.call)) return false; // o must come first
      const { input, output } = p;
      let after: string | null;
      switch (input.op) {
        case 'get':
          if (output === undefined || !('value' in output) || output.value !== state) return false;
          after = state;
          break;
        case 'put':
        case 'delete':
          if (output !== undefined && (!('ok' in output) || !output.ok)) return false;
          after = input.op === 'put' ? input.value : null;
          break;
        case 'cas': {
          const match = state === input.expected;
          if (output !== undefined && 'ok' in output && output.ok !== match) return false;
          after = match ? input.value : state;
          break;
        }
      }
      return orderable(ops.filter((_, j) => j !== i), after);
    });
  };
  for (const ops of byKey.values()) {
    const definite = ops.filter((op) => op.output !== undefined);
    const unknowns = ops.filter((op) => op.output === undefined);
    let found = false;
    for (let mask = 0; mask < 1 << unknowns.length && !found; mask++) {
      found = orderable([...definite, ...unknowns.filter((_, j) => (mask & (1 << j)) !== 0)], null);
    }
    if (!found) return false;
  }
  return true;
}

t.test('agrees with a brute-force check on small random histories', async (t) => {
  const rnd = mulberry32(4242);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const values = ['a', 'b', 'c'] as const;
  let linearizable = 0, not = 0, disagreements = 0;
  for (let n = 0; n < 3000; n++) {
    let history: Operation[];
    if (n % 2 === 0) {
      // From a simulated register, then perhaps one output flipped.
      history = generate(n, { ops: 2 + Math.floor(rnd() * 6), clients: 3, keys: 1, unknownRate: 0.2 });
      const victim = history[Math.floor(rnd() * history.length)] as Operation;
      if (rnd() < 0.5 && victim.output !== undefined) {
        victim.output = 'value' in victim.output ? { value: pick([null, ...values]) } : { ok: !victim.output.ok };
      }
    } else {
      // Arbitrary operations and outputs over a tiny domain, on integer times (ties).
      history = [];
      const count = 2 + Math.floor(rnd() * 6);
      for (let i = 0; i < count; i++) {
        const call = Math.floor(rnd() * 10);
        const ret = call + Math.floor(rnd() * 5);
        const r = rnd();
        let op: Operation;
        if (r < 0.35) op = get(i, pick([null, ...values]), call, ret);
        else if (r < 0.6) op = put(i, pick(values), call, ret);
        else if (r < 0.9) op = cas(i, pick([null, ...values]), pick(values), rnd() < 0.5, call, ret);
        else op = del(i, call, ret);
        history.push(rnd() < 0.2 ? unknown(op) : op);
      }
    }
    const expected = bruteForce(history);
    const got = checkKvHistory(history).ok;
    if (expected) linearizable++;
    else not++;
    if (got !== expected && disagreements++ < 3) {
      t.fail(`checker says ${got}, brute force ${expected}:\n${history.map((op) => describeOperation(op)).join('\n')}`);
    }
  }
  t.equal(disagreements, 0, 'no disagreements');
  t.ok(linearizable > 500 && not > 500, `both verdicts well represented (${linearizable} yes, ${not} no)`);
});

// --- size ---------------------------------------------------------------------------

t.test('big histories are decided quickly', async (t) => {
  const three = generate(7, { ops: 3000, clients: 10, keys: 3, unknownRate: 0 });
  let started = performance.now();
  t.same(checkKvHistory(three), { ok: true }, '3 keys x 1000 ops, 10 clients');
  const threeMs = performance.now() - started;
  t.comment(`3000 ops on 3 keys: ${threeMs.toFixed(0)} ms`);
  t.ok(threeMs < 5000, `3000 ops checked in ${threeMs.toFixed(0)} ms`);

  const big = generate(8, { ops: 10_000, clients: 10, keys: 5, unknownRate: 0 });
  started = performance.now();
  const result = checkKvHistory(big, { timeoutMs: 30_000 });
  const bigMs = performance.now() - started;
  t.comment(`10000 ops on 5 keys: ${bigMs.toFixed(0)} ms`);
  t.same(result, { ok: true }, '5 keys x 2000 ops, 10 clients: ok, no timeout');

  const withUnknown = generate(9, { ops: 10_000, clients: 10, keys: 5, unknownRate: 0.01 });
  started = performance.now();
  const result2 = checkKvHistory(withUnknown, { timeoutMs: 30_000 });
  const unknownMs = performance.now() - started;
  t.comment(`10000 ops on 5 keys with 1% unknown outcomes: ${unknownMs.toFixed(0)} ms`);
  t.same(result2, { ok: true }, 'with 1% unknown outcomes: ok, no timeout');
});
