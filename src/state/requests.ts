import { MusterError, ERRORS, type ErrorCode } from '../errors.js';
import { decodeValue, encodeValue } from './codec.js';

/**
 * How long a request ID is remembered, in command time (ms). A forwarded
 * write whose answer was lost (the leader died, the connection dropped) is
 * retried with the same ID within a few seconds; remembering it for two
 * minutes makes that retry apply at most once.
 */
export const REQUEST_MEMORY_MS = 120_000;

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
    this.byId.set(id, { at, outcome });
    // forget what is older than the memory, oldest first (apply order is close to time order)
    for (const [k, v] of this.byId) {
      if (v.at >= at - REQUEST_MEMORY_MS) break;
      this.byId.delete(k);
    }
  }

  dump(): Array<[string, RememberedOutcome]> {
    return [...this.byId];
  }

  restore(rows: Array<[string, RememberedOutcome]>): void {
    this.byId.clear();
    for (const [k, v] of rows) this.byId.set(k, { at: v.at, outcome: v.outcome });
  }
}
