import type { NodeId, ReadState } from './types.js';

/**
 * The leader's pending ReadIndex requests, in arrival order. A request is
 * safe once a quorum acknowledged a heartbeat carrying its context; then it
 * and every earlier request are released together.
 */
export class ReadOnly {
  private readonly pending = new Map<string, { index: number; acks: Set<NodeId> }>();
  private queue: string[] = [];

  add(context: string, index: number, self: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records an acknowledgement; the set of acks so far, or undefined for an unknown context. */
  ack(context: string, from: NodeId): Set<NodeId> | undefined {
    const p = this.pending.get(context);
    if (!p) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  releaseUpTo(context: string): ReadState[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadState[] = [];
    for (const ctx of done) {
      const p = this.pending.get(ctx);
      this.pending.delete(ctx);
      if (p) out.push({ index: p.index, context: ctx });
    }
    return out;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
