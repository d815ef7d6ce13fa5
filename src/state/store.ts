import { MusterError } from '../errors.js';
import { Catalog, type CatalogChange } from './catalog.js';
import { KvTable, type KvEntry } from './kv.js';
import { SessionTable, type SessionRow } from './sessions.js';
import { RequestLog } from './requests.js';
import type { Command, KvCommand, KvOp, SessionInput, TxnCommand } from './commands.js';

export type ApplyResult =
  | { ok: true; index: number; value: unknown; change?: CatalogChange }
  | { ok: false; index: number; error: MusterError };

export type ChangeListener = (index: number, cmd: Command) => void;

/** One transaction op's result: the entries it read or wrote (writes report theirs). */
export interface TxnResult {
  /** Entries in op order; `read` marks get/get-tree results (value shown); writes and checks leave the value out, as Consul. */
  results: Array<{ entry: KvEntry; read: boolean }>;
  errors: Array<{ opIndex: number; what: string }>;
}

/** Consul's limit on operations in one transaction. */
export const MAX_TXN_OPS = 128;

/**
 * The replicated state machine. Commands are applied in log order with their
 * log index; the index of the command that last changed a row is its
 * ModifyIndex. Applying is synchronous, pure and deterministic (time comes in
 * the command's `at`); a command that fails validation still consumes its
 * index (it is in the log) but changes no row. Listeners hear of every
 * applied index, so blocking queries can wake.
 */
export class StateStore {
  readonly catalog = new Catalog();
  readonly kv = new KvTable();
  readonly sessions = new SessionTable();
  /** Recently applied request IDs and their outcomes (at-most-once retries). */
  readonly requests = new RequestLog();
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
    const at = cmd.at ?? 0;
    if (cmd.rid !== undefined) {
      const seen = this.requests.get(cmd.rid);
      if (seen) {
        // a retry of a request applied before: the same answer, nothing changes
        const notice: Command = { type: 'txn', ops: [] };
        for (const l of this.listeners) l(index, notice);
        return seen.ok ? { ok: true, index, value: seen.value } : { ok: false, index, error: seen.error };
      }
    }
    let result: ApplyResult;
    try {
      switch (cmd.type) {
        case 'register': {
          const change = this.catalog.register(index, cmd);
          this.invalidateForCatalog(index, at, change);
          result = { ok: true, index, value: true, change };
          break;
        }
        case 'deregister': {
          const change = this.catalog.deregister(index, cmd);
          this.invalidateForCatalog(index, at, change);
          result = { ok: true, index, value: true, change };
          break;
        }
        case 'kv':
          result = { ok: true, index, value: this.applyKv(index, at, cmd) };
          break;
        case 'txn':
          result = { ok: true, index, value: this.applyTxn(index, at, cmd) };
          break;
        case 'session-create':
          result = { ok: true, index, value: this.createSession(index, cmd.session) };
          break;
        case 'session-destroy':
          result = { ok: true, index, value: this.destroySession(index, at, cmd.id) };
          break;
        default:
          return assertNever(cmd);
      }
    } catch (err) {
      const error = err instanceof MusterError ? err : new MusterError('ERR_INTERNAL', String(err), { cause: err });
      result = { ok: false, index, error };
    }
    if (cmd.rid !== undefined) this.requests.remember(cmd.rid, at, result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error });
    for (const l of this.listeners) l(index, cmd);
    return result;
  }

  /**
   * After a snapshot replaced the tables (see snapshot.ts): the applied index
   * becomes the snapshot's, so the next command is `index + 1`. Listeners hear
   * of it as an empty transaction at that index, so blocking queries re-read.
   */
  restoreIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) throw new MusterError('ERR_INTERNAL', `invalid restored index ${index}`);
    this.applied = index;
    const notice: Command = { type: 'txn', ops: [] };
    for (const l of this.listeners) l(index, notice);
  }

  /** Hear of every applied command; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  // ---- KV ----

  private applyKv(idx: number, at: number, cmd: KvCommand): boolean {
    const value = decodeValue(cmd.value);
    const flags = decodeFlags(cmd.flags);
    switch (cmd.verb) {
      case 'set': this.kv.set(idx, cmd.key, value, flags); return true;
      case 'cas': return this.kv.cas(idx, cmd.key, value, flags, cmd.index ?? 0);
      case 'lock': {
        if (!cmd.session) throw new MusterError('ERR_MISSING_SESSION', 'missing session');
        const session = this.requireSession(cmd.session);
        return this.kv.lock(idx, at, cmd.key, value, flags, session.id) === true;
      }
      case 'unlock':
        if (!cmd.session) throw new MusterError('ERR_MISSING_SESSION', 'missing session');
        return this.kv.unlock(idx, cmd.key, value, flags, cmd.session);
      case 'delete': this.kv.delete(idx, cmd.key); return true;
      case 'delete-cas': return this.kv.deleteCas(idx, cmd.key, cmd.index ?? 0);
      case 'delete-tree': this.kv.deleteTree(idx, cmd.key); return true;
      default: return assertNever(cmd.verb);
    }
  }

  private requireSession(id: string | undefined): SessionRow {
    const s = id ? this.sessions.get(id) : undefined;
    if (!s) throw new MusterError('ERR_INVALID_SESSION', `invalid session "${id ?? ''}"`);
    return s;
  }

  private applyTxn(idx: number, at: number, cmd: TxnCommand): TxnResult {
    if (cmd.ops.length > MAX_TXN_OPS) {
      throw new MusterError('ERR_TXN_TOO_MANY', `Transaction contains too many operations (${cmd.ops.length} > ${MAX_TXN_OPS})`);
    }
    const results: TxnResult['results'] = [];
    const errors: TxnResult['errors'] = [];
    this.kv.begin();
    try {
      cmd.ops.forEach((op, opIndex) => {
        const what = this.txnOp(idx, at, op, results);
        if (what) errors.push({ opIndex, what });
      });
    } catch (err) {
      // an op that throws (a malformed command) must not leave the earlier ops applied
      this.kv.rollback();
      throw err;
    }
    if (errors.length > 0) {
      this.kv.rollback();
      return { results: [], errors };
    }
    this.kv.commit();
    return { results, errors };
  }

  /** Runs one transaction op; returns Consul's error text, or undefined. */
  private txnOp(idx: number, at: number, op: KvOp, results: TxnResult['results']): string | undefined {
    const key = op.key;
    const value = decodeValue(op.value);
    const flags = decodeFlags(op.flags);
    const read = op.verb === 'get';
    const push = () => { const e = this.kv.get(key); if (e) results.push({ entry: e, read }); };
    switch (op.verb) {
      case 'set': this.kv.set(idx, key, value, flags); push(); return undefined;
      case 'cas':
        if (!this.kv.cas(idx, key, value, flags, op.index ?? 0)) return `failed to set key "${key}", index is stale`;
        push(); return undefined;
      case 'lock': {
        if (!op.session) return 'missing session';
        const s = this.sessions.get(op.session);
        if (!s) return `invalid session "${op.session}"`;
        const r = this.kv.lock(idx, at, key, value, flags, s.id);
        if (r === 'held') return `failed to lock key "${key}", lock is already held`;
        if (r === 'lock-delay') return `failed to lock key "${key}" due to lock delay`;
        push(); return undefined;
      }
      case 'unlock':
        if (!op.session) return 'missing session';
        if (!this.kv.unlock(idx, key, value, flags, op.session)) {
          return `failed to unlock key "${key}", lock isn't held, or is held by another session`;
        }
        push(); return undefined;
      case 'get': {
        if (!this.kv.get(key)) return `key "${key}" doesn't exist`;
        push(); return undefined;
      }
      case 'get-tree': for (const entry of this.kv.list(key)) results.push({ entry, read: true }); return undefined;
      case 'check-index': {
        const e = this.kv.get(key);
        if (!e) return `failed to check index, key "${key}" doesn't exist`;
        if (e.modifyIndex !== (op.index ?? 0)) return `failed index check for key "${key}", current modify index ${e.modifyIndex} != ${op.index ?? 0}`;
        push(); return undefined;
      }
      case 'check-session': {
        const e = this.kv.get(key);
        if (!e) return `failed to check session, key "${key}" doesn't exist`;
        if (e.session !== (op.session ?? '')) return `failed session check for key "${key}", current session "${e.session}" != "${op.session ?? ''}"`;
        push(); return undefined;
      }
      case 'check-not-exists':
        if (this.kv.get(key)) return `key "${key}" exists`;
        return undefined;
      case 'delete': this.kv.delete(idx, key); return undefined;
      case 'delete-tree': this.kv.deleteTree(idx, key); return undefined;
      case 'delete-cas':
        if (!this.kv.deleteCas(idx, key, op.index ?? 0)) return `failed to delete key "${key}", index is stale`;
        return undefined;
      default: return `unknown KV verb "${String(op.verb)}"`;
    }
  }

  // ---- sessions ----

  private createSession(idx: number, input: SessionInput): SessionRow {
    if (this.sessions.get(input.id)) throw new MusterError('ERR_SESSION_INVALID_INPUT', `session "${input.id}" already exists`);
    if (!this.catalog.getNode(input.node)) throw new MusterError('ERR_SESSION_INVALID_INPUT', `Missing node registration`);
    const checks = [...input.nodeChecks, ...input.serviceChecks.map((c) => c.id)];
    for (const checkId of checks) {
      const c = this.catalog.getCheck(input.node, checkId);
      if (!c) throw new MusterError('ERR_SESSION_INVALID_INPUT', `Missing check '${checkId}' registration`);
      if (c.status === 'critical') throw new MusterError('ERR_SESSION_INVALID_INPUT', `Check '${checkId}' is in critical state`);
    }
    return this.sessions.insert(idx, input);
  }

  /** Invalidates a session: its locks are released or its keys deleted, with lock-delay. Unknown ids are fine. */
  private destroySession(idx: number, at: number, id: string): boolean {
    const row = this.sessions.remove(idx, id);
    if (!row) return true;
    this.kv.releaseSession(idx, at, row.id, row.behavior, row.lockDelayMs);
    this.kv.expireLockDelays(at);
    return true;
  }

  /** A node gone, or a linked check gone or critical, invalidates sessions (Consul's rules). */
  private invalidateForCatalog(idx: number, at: number, change: CatalogChange): void {
    const doomed = new Set<string>();
    for (const node of change.removedNodes) for (const s of this.sessions.onNode(node)) doomed.add(s.id);
    for (const c of [...change.removedChecks, ...change.criticalChecks]) {
      for (const s of this.sessions.linkedTo(c.node, c.checkId)) doomed.add(s.id);
    }
    for (const id of [...doomed].sort()) this.destroySession(idx, at, id);
  }
}

function decodeValue(b64: string | undefined): Buffer {
  return b64 ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
}

function decodeFlags(flags: string | undefined): bigint {
  return flags ? BigInt(flags) : 0n;
}

export function assertNever(x: never): never {
  throw new MusterError('ERR_INTERNAL', `unexpected value ${JSON.stringify(x)}`);
}
