/**
 * A linearizability checker for histories of key/value operations, in the style of
 * Knossos and Porcupine (written from the papers, not from their code):
 *
 * - Wing & Gong's search: the history is a list of call and return events sorted by
 *   time; a depth-first search picks, at each step, an operation whose call is before
 *   the first pending return ("minimal" in real-time order), applies it to a
 *   sequential model, and backtracks when the first pending return cannot be matched.
 * - Lowe's memoization: a (set of linearized operations, model state) pair that was
 *   seen once is never explored again. The set is a bitset with an incrementally
 *   maintained Zobrist hash; the cache compares the full bitset on a hash hit.
 * - P-compositionality: every key is an independent register, so the history is
 *   partitioned by key and each key is checked on its own (linearizability is local,
 *   Herlihy & Wing), which keeps the search space per key small.
 * - Two reductions that lose no solution: a definite read (or failed cas) that is
 *   possible in the current state is linearized at once without branching, and unknown
 *   writes whose value nothing can observe are dropped (see prune()).
 *
 * The search keeps an explicit stack (no recursion), so histories of tens of thousands
 * of operations per key do not overflow; it is bounded by `timeoutMs`.
 *
 * How callers record a history:
 * - `call` is taken just before the request is sent, `return` just after the response
 *   is read, both from one monotonic clock (e.g. `performance.now()`). Events with
 *   equal times are treated as concurrent (a call at t overlaps a return at t).
 * - An operation whose outcome is unknown (timeout, connection lost, 5xx after the
 *   request may have been applied) is recorded with `return: Infinity` and
 *   `output: undefined`. Such an operation may take effect at any point after its
 *   call, or never: an unknown write may or may not have happened, an unknown read
 *   constrains nothing (it is dropped).
 * - An operation that definitely failed without effect (a 4xx before it was applied,
 *   a refused connection) must NOT be recorded at all. In particular reads that
 *   failed with a definite error are left out; they are not "unknown".
 * - `put` and `delete` always answer `{ ok: true }` in the model; recording
 *   `{ ok: false }` for them makes the history non-linearizable.
 */

export type KvInput =
  | { op: 'put'; key: string; value: string }
  | { op: 'get'; key: string }
  /** `expected: null` means "the key must not exist". */
  | { op: 'cas'; key: string; expected: string | null; value: string }
  | { op: 'delete'; key: string };

/** `{ value }` for get, `{ ok }` for put (always true), cas (true/false), delete (true). */
export type KvOutput = { value: string | null } | { ok: boolean };

export interface Operation {
  /** Informational only (shown in explanations); ordering comes from the times. */
  client: number;
  input: KvInput;
  /** When the request was sent, in any monotonic unit. */
  call: number;
  /** When the response arrived; Infinity if the outcome is unknown. */
  return: number;
  /** undefined when the outcome is unknown (then `return` must be Infinity). */
  output: KvOutput | undefined;
}

export interface CheckResult {
  ok: boolean;
  /** When !ok: the key whose sub-history is not linearizable. Also set on a timeout. */
  key?: string;
  /**
   * When !ok: the key, the longest linearizable prefix found (its last operations and
   * the register value after it), the operation that could not be explained and the
   * operations that could have come next. On a timeout: what was being checked.
   */
  explanation?: string;
  /** The search ran out of time before a verdict: ok is true, nothing was proven. */
  timedOut?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** How many search steps between two looks at the clock. */
const CLOCK_EVERY = 1024;
/** How many linearized operations before the stuck point an explanation shows. */
const EXPLAIN_TAIL = 5;
/** How many candidate operations an explanation lists at most. */
const EXPLAIN_CANDIDATES = 10;

/**
 * Checks that `history` is linearizable against a map of independent registers
 * (initially absent). Returns `{ ok: true }`, `{ ok: false, key, explanation }` for
 * the first key (smallest sub-history first) that is not, or `{ ok: true, timedOut:
 * true }` if `timeoutMs` (default 30 s) passed before every key was decided.
 * Throws a TypeError for a malformed history (output of the wrong shape, return
 * before call, an output with an infinite return).
 */
export function checkKvHistory(history: Operation[], opts: { timeoutMs?: number } = {}): CheckResult {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;

  const byKey = new Map<string, number[]>();
  history.forEach((op, index) => {
    validate(op, index);
    const list = byKey.get(op.input.key);
    if (list) list.push(index);
    else byKey.set(op.input.key, [index]);
  });

  // Small keys first: a definite failure there is found before a big key can time out.
  const keys = [...byKey.entries()].sort((a, b) => a[1].length - b[1].length || (a[0] < b[0] ? -1 : 1));
  for (const [key, indices] of keys) {
    const verdict = checkKey(key, indices.map((i) => ({ op: history[i] as Operation, index: i })), deadline);
    if (verdict === 'timeout') {
      return {
        ok: true,
        timedOut: true,
        key,
        explanation: `timed out after ${timeoutMs} ms while checking key ${JSON.stringify(key)} ` +
          `(${indices.length} operations); no violation found so far`,
      };
    }
    if (verdict !== undefined) return { ok: false, key, explanation: verdict };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------
// Input validation and formatting

function validate(op: Operation, index: number): void {
  const where = `history[${index}]`;
  const { input, output } = op;
  if (typeof input?.key !== 'string') throw new TypeError(`${where}: input.key must be a string`);
  if (!['put', 'get', 'cas', 'delete'].includes(input.op)) {
    throw new TypeError(`${where}: unknown op ${JSON.stringify((input as { op: unknown }).op)}`);
  }
  if (typeof op.call !== 'number' || !Number.isFinite(op.call)) throw new TypeError(`${where}: call must be a finite number`);
  if (output === undefined) {
    if (op.return !== Infinity) {
      throw new TypeError(`${where}: an unknown outcome (output undefined) needs return: Infinity`);
    }
    return;
  }
  if (typeof op.return !== 'number' || !Number.isFinite(op.return)) {
    throw new TypeError(`${where}: an operation with an output needs a finite return time`);
  }
  if (op.return < op.call) throw new TypeError(`${where}: return (${op.return}) before call (${op.call})`);
  if (input.op === 'get') {
    const value = (output as { value?: unknown }).value;
    if (!('value' in output) || (value !== null && typeof value !== 'string')) {
      throw new TypeError(`${where}: a get's output must be { value: string | null }`);
    }
  } else if (!('ok' in output) || typeof output.ok !== 'boolean') {
    throw new TypeError(`${where}: a ${input.op}'s output must be { ok: boolean }`);
  }
}

function formatValue(value: string | null): string {
  return value === null ? 'absent' : JSON.stringify(value);
}

/** e.g. `#12 client 3: cas(absent -> "a") -> false [10, 12]`; `index` is its place in the history. */
export function describeOperation(op: Operation, index?: number): string {
  const { input, output } = op;
  let text: string;
  switch (input.op) {
    case 'put': text = `put(${JSON.stringify(input.value)})`; break;
    case 'get': text = 'get()'; break;
    case 'cas': text = `cas(${formatValue(input.expected)} -> ${JSON.stringify(input.value)})`; break;
    case 'delete': text = 'delete()'; break;
  }
  let result: string;
  if (output === undefined) result = '? (unknown outcome)';
  else if ('value' in output) result = formatValue(output.value);
  else result = String(output.ok);
  const ret = op.return === Infinity || output === undefined ? '∞' : String(op.return);
  return `${index === undefined ? '' : `#${index} `}client ${op.client}: ${text} -> ${result} [${op.call}, ${ret}]`;
}

// ---------------------------------------------------------------------------------
// One key

const enum Kind { Get, Put, Delete, Cas }
/** Model states are interned: 0 is "absent", 1.. are the values written on this key. */
const ABSENT = 0;
/** A value no operation on this key writes: never equal to a model state. */
const NEVER = -2;
/** What step() returns when the operation cannot take effect in that state. */
const REJECT = -1;

interface Indexed { op: Operation; index: number }

/**
 * Wing & Gong search with Lowe's cache over one key's operations. Returns undefined
 * if linearizable, 'timeout', or the explanation of the failure.
 */
function checkKey(key: string, all: Indexed[], deadline: number): string | undefined | 'timeout' {
  const ops = prune(all).sort((a, b) => a.op.call - b.op.call || a.index - b.index);
  const n = ops.length;

  // Intern the values written on this key.
  const ids = new Map<string, number>();
  const names: Array<string | null> = [null];
  const intern = (v: string): number => {
    let id = ids.get(v);
    if (id === undefined) { id = names.length; ids.set(v, id); names.push(v); }
    return id;
  };
  for (const { op: { input } } of ops) if (input.op === 'put' || input.op === 'cas') intern(input.value);
  const lookup = (v: string | null): number => (v === null ? ABSENT : ids.get(v) ?? NEVER);

  // Per operation: kind, argument (written value / returned value / cas expected),
  // the written value of a cas, and the required outcome (1 ok, 0 not ok, -1 unknown).
  const kind = new Uint8Array(n);
  const arg = new Int32Array(n);
  const written = new Int32Array(n);
  const outcome = new Int8Array(n);
  let definite = 0;
  for (let i = 0; i < n; i++) {
    const { input, output } = (ops[i] as Indexed).op;
    outcome[i] = output === undefined ? -1 : 'ok' in output ? (output.ok ? 1 : 0) : 1;
    if (output !== undefined) definite++;
    switch (input.op) {
      case 'get':
        kind[i] = Kind.Get;
        arg[i] = output !== undefined && 'value' in output ? lookup(output.value) : NEVER;
        break;
      case 'put': kind[i] = Kind.Put; arg[i] = lookup(input.value); break;
      case 'delete': kind[i] = Kind.Delete; arg[i] = ABSENT; break;
      case 'cas': kind[i] = Kind.Cas; arg[i] = lookup(input.expected); written[i] = lookup(input.value); break;
    }
  }
  if (definite === 0) return undefined;

  /** The state after operation i in `state`, or REJECT if its output contradicts it. */
  const step = (state: number, i: number): number => {
    const out = outcome[i] as number;
    switch (kind[i] as Kind) {
      case Kind.Get: return state === arg[i] ? state : REJECT;
      case Kind.Put: return out === 0 ? REJECT : (arg[i] as number);
      case Kind.Delete: return out === 0 ? REJECT : ABSENT;
      case Kind.Cas: {
        const match = state === arg[i];
        if (out === 1) return match ? (written[i] as number) : REJECT;
        if (out === 0) return match ? REJECT : state;
        return match ? (written[i] as number) : state;
      }
    }
  };

  // Events: a call node per operation, a return node per definite operation (an
  // unknown one never has to be linearized, so it has no return). Node 0 is the head.
  const events: Array<{ time: number; isCall: boolean; op: number }> = [];
  for (let i = 0; i < n; i++) {
    const { op } = ops[i] as Indexed;
    events.push({ time: op.call, isCall: true, op: i });
    if (outcome[i] !== -1) events.push({ time: op.return, isCall: false, op: i });
  }
  // Calls before returns at equal times: such operations count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const m = events.length + 1;
  const next = new Int32Array(m);
  const prev = new Int32Array(m);
  const nodeOp = new Int32Array(m);
  const isCall = new Uint8Array(m);
  const returnNode = new Int32Array(m).fill(-1); // call node -> its return node
  const callNodeOf = new Int32Array(n);
  for (let k = 1; k < m; k++) {
    const e = events[k - 1] as { time: number; isCall: boolean; op: number };
    nodeOp[k] = e.op;
    isCall[k] = e.isCall ? 1 : 0;
    if (e.isCall) callNodeOf[e.op] = k;
    else returnNode[callNodeOf[e.op] as number] = k;
  }
  for (let k = 0; k < m; k++) { next[k] = k + 1 < m ? k + 1 : -1; prev[k] = k - 1; }

  const unlink = (k: number): void => {
    const p = prev[k] as number, q = next[k] as number;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const relink = (k: number): void => {
    const p = prev[k] as number, q = next[k] as number;
    next[p] = k;
    if (q !== -1) prev[q] = k;
  };
  const lift = (c: number): void => {
    unlink(c);
    const r = returnNode[c] as number;
    if (r !== -1) unlink(r);
  };
  const unlift = (c: number): void => { // exact reverse of lift
    const r = returnNode[c] as number;
    if (r !== -1) relink(r);
    relink(c);
  };

  // Zobrist hashing of (bitset, state): two 32-bit halves, combined into one safe integer.
  const rng = mulberry32(0x9e3779b9);
  const zA = new Int32Array(n), zB = new Int32Array(n);
  for (let i = 0; i < n; i++) { zA[i] = rng(); zB[i] = rng(); }
  const sA = new Int32Array(names.length), sB = new Int32Array(names.length);
  for (let s = 0; s < names.length; s++) { sA[s] = rng(); sB[s] = rng(); }
  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const FULL = 0xffffffff;
  let hA = 0, hB = 0;
  // lo: how many leading words are all ones; hi: one past the last non-zero word.
  let lo = 0, hi = 0;
  const toggle = (i: number): void => {
    const w = i >>> 5;
    const v = ((bits[w] as number) ^ (1 << (i & 31))) >>> 0;
    bits[w] = v;
    hA ^= zA[i] as number;
    hB ^= zB[i] as number;
    if (v === FULL) {
      while (lo < words && bits[lo] === FULL) lo++;
    } else if (w < lo) {
      lo = w;
    }
    if (v !== 0) {
      if (w >= hi) hi = w + 1;
    } else if (w === hi - 1) {
      while (hi > 0 && bits[hi - 1] === 0) hi--;
    }
  };
  // A cached bitset is stored compactly: the number of leading all-ones words, then
  // the words up to the last non-zero one. Operations are sorted by call time, so the
  // linearized set is mostly a prefix and an entry costs O(concurrency), not O(n).
  type Seen = { state: number; lo: number; rest: Uint32Array };
  const cache = new Map<number, Seen | Seen[]>();
  /** Records (bits, state); false if it was already there. */
  const remember = (state: number): boolean => {
    const h = ((hA ^ (sA[state] as number)) >>> 0) * 0x200000 + (((hB ^ (sB[state] as number)) >>> 11) & 0x1fffff);
    const same = (s: Seen): boolean => {
      if (s.state !== state || s.lo !== lo || s.rest.length !== hi - lo) return false;
      for (let w = lo; w < hi; w++) if (s.rest[w - lo] !== bits[w]) return false;
      return true;
    };
    const found = cache.get(h);
    if (found === undefined) { cache.set(h, { state, lo, rest: bits.slice(lo, hi) }); return true; }
    if (Array.isArray(found)) {
      if (found.some(same)) return false;
      found.push({ state, lo, rest: bits.slice(lo, hi) });
      return true;
    }
    if (same(found)) return false;
    cache.set(h, [found, { state, lo, rest: bits.slice(lo, hi) }]);
    return true;
  };

  // Definite reads and definite failed cas never change the state. One that is
  // possible right now can be linearized right now without losing any solution: it
  // may move before every other pending operation (its call precedes all their
  // returns) and nobody can tell. So the search takes it and does not branch there:
  // if that fails, the node fails. That alone tames histories full of reads.
  const readOnly = new Uint8Array(n);
  for (let i = 0; i < n; i++) readOnly[i] = kind[i] === Kind.Get || (kind[i] === Kind.Cas && outcome[i] === 0) ? 1 : 0;

  // The search. The stack holds the call node linearized, the state before it, and
  // whether it was such a forced step (then there is no alternative to try).
  const stackNode = new Int32Array(n);
  const stackState = new Int32Array(n);
  const stackForced = new Uint8Array(n);
  const FRESH = -2; // `entry` at a node not yet scanned for a forced step
  let sp = 0;
  let state = ABSENT;
  let remaining = definite;
  let entry = FRESH;
  let iterations = 0;
  // The deepest point reached, for the explanation.
  let best: { depth: number; state: number; stuck: number; candidates: number[]; tail: number[] } | undefined;

  const push = (c: number, after: number, forced: number): void => {
    stackNode[sp] = c;
    stackState[sp] = state;
    stackForced[sp] = forced;
    sp++;
    state = after;
    lift(c);
    if (outcome[nodeOp[c] as number] !== -1) remaining--;
    entry = FRESH;
  };
  /** Undoes steps up to the last one with alternatives left; false if there is none. */
  const backtrack = (): boolean => {
    while (sp > 0) {
      sp--;
      const c = stackNode[sp] as number;
      const i = nodeOp[c] as number;
      state = stackState[sp] as number;
      toggle(i);
      unlift(c);
      if (outcome[i] !== -1) remaining++;
      if (stackForced[sp] === 0) {
        entry = next[c] as number;
        return true;
      }
    }
    return false;
  };

  while (remaining > 0) {
    if (++iterations % CLOCK_EVERY === 0 && performance.now() > deadline) return 'timeout';
    if (entry === FRESH) {
      let forced = -1;
      for (let k = next[0] as number; k !== -1 && isCall[k] === 1; k = next[k] as number) {
        const i = nodeOp[k] as number;
        if (readOnly[i] === 1 && step(state, i) === state) { forced = k; break; }
      }
      if (forced === -1) { entry = next[0] as number; continue; }
      const i = nodeOp[forced] as number;
      toggle(i);
      if (remember(state)) { push(forced, state, 1); continue; }
      toggle(i);
      if (!backtrack()) break; // seen before, and it failed: so does this node
      continue;
    }
    if (entry !== -1 && isCall[entry] === 1) {
      const i = nodeOp[entry] as number;
      const after = readOnly[i] === 1 ? REJECT : step(state, i); // a possible read-only one would have been forced
      if (after !== REJECT) {
        toggle(i);
        if (remember(after)) { push(entry, after, 0); continue; }
        toggle(i);
      }
      entry = next[entry] as number;
      continue;
    }
    // The first pending return: its operation could not be linearized from here.
    if (best === undefined || sp > best.depth) {
      const candidates: number[] = [];
      for (let k = next[0] as number; k !== -1 && k !== entry; k = next[k] as number) candidates.push(nodeOp[k] as number);
      const tail: number[] = [];
      for (let d = Math.max(0, sp - EXPLAIN_TAIL); d < sp; d++) tail.push(nodeOp[stackNode[d] as number] as number);
      best = { depth: sp, state, stuck: entry === -1 ? -1 : (nodeOp[entry] as number), candidates, tail };
    }
    if (!backtrack()) break;
  }
  if (remaining === 0) return undefined;

  // Not linearizable: describe the deepest point the search reached.
  const b = best ?? { depth: 0, state: ABSENT, stuck: -1, candidates: [], tail: [] };
  const show = (i: number): string => `  ${describeOperation((ops[i] as Indexed).op, (ops[i] as Indexed).index)}`;
  const unknown = n - definite;
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable (${all.length} operations on it` +
      `${unknown > 0 ? `, ${unknown} relevant ones with unknown outcome` : ''}).`,
    `The longest linearizable prefix has ${b.depth} operations` + (b.tail.length > 0 ? `, ending with:` : '.'),
    ...b.tail.map(show),
    `after which the value is ${formatValue(names[b.state] ?? null)}.`,
  ];
  if (b.stuck !== -1) {
    lines.push('This operation must take effect by its return, but cannot:', show(b.stuck));
  }
  const others = b.candidates.filter((i) => i !== b.stuck);
  if (others.length > 0) {
    lines.push('Other operations that could have come next:', ...others.slice(0, EXPLAIN_CANDIDATES).map(show));
    if (others.length > EXPLAIN_CANDIDATES) lines.push(`  ... and ${others.length - EXPLAIN_CANDIDATES} more`);
  }
  return lines.join('\n');
}

/**
 * Drops what cannot matter: unknown reads (they constrain nothing), and unknown writes
 * whose value nothing can observe. Such a write can always be assumed not to have
 * happened: if it happened in some linearization, removing it only changes the value
 * seen between it and the next write, and nothing there can tell — no get returns its
 * value, no cas expects it, and there is no definite failed cas (which observes "not
 * the expected value"); an unknown cas that failed there had no effect and is dropped
 * along. That keeps timed-out writes from blowing up the search.
 */
function prune(all: Indexed[]): Indexed[] {
  const observed = new Set<string | null>();
  let failedCas = false;
  for (const { op: { input, output } } of all) {
    if (input.op === 'cas') {
      observed.add(input.expected);
      if (output !== undefined && 'ok' in output && !output.ok) failedCas = true;
    } else if (input.op === 'get' && output !== undefined && 'value' in output) {
      observed.add(output.value);
    }
  }
  return all.filter(({ op: { input, output } }) => {
    if (output !== undefined) return true;
    if (input.op === 'get') return false;
    if (failedCas) return true;
    return observed.has(input.op === 'delete' ? null : input.value);
  });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) | 0;
  };
}
