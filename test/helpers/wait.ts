/**
 * Polls `fn` until it returns something other than undefined/false, and
 * resolves with that value; rejects with `message` once `timeoutMs` passes.
 * The way tests wait for state: a deadline, never a fixed sleep.
 */
export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: ${opts.message ?? 'condition not met'} (after ${timeoutMs}ms)`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}
