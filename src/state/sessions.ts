import type { SessionInput } from './commands.js';

/** A session as stored: what created it (TTL kept as Consul's string, "" for none), with indexes. */
export interface SessionRow extends SessionInput {
  createIndex: number;
  modifyIndex: number;
}

/** The sessions table, with lookups by node and by linked check. */
export class SessionTable {
  private readonly rows = new Map<string, SessionRow>();
  private tableIndex = 0;

  get index(): number {
    return this.tableIndex;
  }

  get size(): number {
    return this.rows.size;
  }

  get(id: string): SessionRow | undefined {
    return this.rows.get(id);
  }

  list(): SessionRow[] {
    return [...this.rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  onNode(node: string): SessionRow[] {
    return this.list().filter((s) => s.node === node);
  }

  /** Sessions linked to a check on `node` (as a node check or a service check). */
  linkedTo(node: string, checkId: string): SessionRow[] {
    return this.list().filter((s) => s.node === node
      && (s.nodeChecks.includes(checkId) || s.serviceChecks.some((c) => c.id === checkId)));
  }

  insert(idx: number, row: Omit<SessionRow, 'createIndex' | 'modifyIndex'>): SessionRow {
    const stored: SessionRow = { ...row, nodeChecks: [...row.nodeChecks], serviceChecks: row.serviceChecks.map((c) => ({ ...c })), createIndex: idx, modifyIndex: idx };
    this.rows.set(row.id, stored);
    this.tableIndex = idx;
    return stored;
  }

  remove(idx: number, id: string): SessionRow | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    this.rows.delete(id);
    this.tableIndex = idx;
    return row;
  }

  dump(): { sessions: SessionRow[]; index: number } {
    return { sessions: this.list(), index: this.tableIndex };
  }

  /** Replaces every row and the table index with a snapshot's (rows are taken as they are). */
  restore(tables: { sessions: SessionRow[]; index: number }): void {
    this.rows.clear();
    for (const row of tables.sessions) this.rows.set(row.id, row);
    this.tableIndex = tables.index;
  }
}
