import { MusterError } from '../errors.js';
import { Catalog, type CatalogChange } from './catalog.js';
import type { Command } from './commands.js';

export type ApplyResult =
  | { ok: true; index: number; value: unknown; change?: CatalogChange }
  | { ok: false; index: number; error: MusterError };

export type ChangeListener = (index: number, cmd: Command) => void;

/**
 * The replicated state machine. Commands are applied in log order with their
 * log index; the index of the command that last changed a row is its
 * ModifyIndex. Applying is synchronous, pure and deterministic; a command that
 * fails validation still consumes its index (it is in the log) but changes no
 * row. Listeners hear of every applied index, so blocking queries can wake.
 */
export class StateStore {
  readonly catalog = new Catalog();
  private applied = 0;
  private readonly listeners = new Set<ChangeListener>();

  /** Index of the last applied command (0 before any). */
  get index(): number {
    return this.applied;
  }

  apply(index: number, cmd: Command): ApplyResult {
    if (index <= this.applied) {
      throw new MusterError('ERR_INTERNAL', `command index ${index} is not after the applied index ${this.applied}`);
    }
    this.applied = index;
    let result: ApplyResult;
    try {
      switch (cmd.type) {
        case 'register': {
          const change = this.catalog.register(index, cmd);
          result = { ok: true, index, value: true, change };
          break;
        }
        case 'deregister': {
          const change = this.catalog.deregister(index, cmd);
          result = { ok: true, index, value: true, change };
          break;
        }
        default:
          return assertNever(cmd);
      }
    } catch (err) {
      const error = err instanceof MusterError ? err : new MusterError('ERR_INTERNAL', String(err), { cause: err });
      result = { ok: false, index, error };
    }
    for (const l of this.listeners) l(index, cmd);
    return result;
  }

  /** Hear of every applied command; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
}

export function assertNever(x: never): never {
  throw new MusterError('ERR_INTERNAL', `unexpected value ${JSON.stringify(x)}`);
}
