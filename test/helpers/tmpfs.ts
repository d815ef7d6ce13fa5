import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/**
 * A fresh directory with a tmpfs of `size` (mount's syntax: 256k, 2m)
 * mounted on it, unmounted and removed at teardown; a small disk to fill.
 * Undefined when this machine cannot mount one (not root): the test is then
 * skipped, or failed under CI=true.
 */
export function tmpfsDir(t: Test, prefix: string, size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = `cannot mount a tmpfs: ${r.error?.message ?? r.stderr.trim()}`;
    if (process.env['CI'] === 'true') t.fail(why);
    else t.comment(`skipped: ${why}`);
    return undefined;
  }
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
