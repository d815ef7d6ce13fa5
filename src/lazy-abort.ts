/**
 * An AbortSignal made only when someone asks for it. Most HTTP requests and
 * RPC calls are never aborted and their handlers never look at the signal,
 * and an AbortController with its listeners costs more than serving a KV
 * write. An abort before the signal exists is remembered.
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  private done = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done;
  }

  abort(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
