import { MusterError, ERRORS, type ErrorCode } from '../errors.js';
import { decodeValue, encodeValue } from './codec.js';

/**
 * How long a request ID is remembered, in command time (ms). A forwarded
 * write whose answer was lost (the leader died, the connection dropped) is
 * retried with the same ID within a few seconds; remembering it for two
 * minutes makes that retry apply at most once.
 */
export const REQUEST_MEMORY_MS = 120_000;

/** Outcome strings up to this length are shared between rows ("ok, true" is most of them). */
const SHARED_OUTCOME_MAX = 64;
const SHARED_OUTCOMES_MAX = 256;

export interface RememberedOutcome {
  at: number;
  /** The result as the command codec writes it (ok: the value; else the error). */
  outcome: string;
}

/**
 * Outcomes of recently applied commands, by the request ID their proposer
 * gave them, in apply order. Deterministic: pruning is driven by the
 * commands' own `at`, so every replica holds the same set.
 */
export class RequestLog {
  private readonly byId = new Map<string, RememberedOutcome>();
  /** One copy of each short outcome string: a busy server remembers some 100,000 rows, nearly all `{"ok":true,"value":true}`. */
  private readonly shared = new Map<string, string>();

  get(id: string): { ok: true; value: unknown } | { ok: false; error: MusterError } | undefined {
    const r = this.byId.get(id);
    if (!r) return undefined;
    const o = decodeValue(Buffer.from(r.outcome, 'utf8')) as { ok: boolean; value?: unknown; code?: string; message?: string };
    if (o.ok) return { ok: true, value: o.value };
    const code = (o.code && o.code in ERRORS ? o.code : 'ERR_INTERNAL') as ErrorCode;
    return { ok: false, error: new MusterError(code, o.message ?? 'failed') };
  }

  remember(id: string, at: number, result: { ok: true; value: unknown } | { ok: false; error: MusterError }): void {
    const outcome = result.ok
      ? encodeValue({ ok: true, value: result.value }).toString('utf8')
      : encodeValue({ ok: false, code: result.error.code, message: result.error.message }).toString('utf8');
    this.byId.set(id, { at, outcome: this.share(outcome) });
    // forget what is older than the memory, oldest first (apply order is close to time order)
    for (const [k, v] of this.byId) {
      if (v.at >= at - REQUEST_MEMORY_MS) break;
      this.byId.delete(k);
    }
  }

  /** The rows in apply order. The row objects are the log's own: they are never changed once stored, and must not be. */
  dump(): Array<[string, RememberedOutcome]> {
    return [...this.byId];
  }

  restore(rows: Array<[string, RememberedOutcome]>): void {
    this.byId.clear();
    for (const [k, v] of rows) this.byId.set(k, { at: v.at, outcome: this.share(v.outcome) });
  }

  private share(outcome: string): string {
    if (outcome.length > SHARED_OUTCOME_MAX) return outcome;
    const known = this.shared.get(outcome);
    if (known !== undefined) return known;
    if (this.shared.size < SHARED_OUTCOMES_MAX) this.shared.set(outcome, outcome);
    return outcome;
  }
}
