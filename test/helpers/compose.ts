// Debian's docker-compose (v1) against the compose examples, one project per test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { findScript, TEST_LABEL, TEST_RUN_LABEL } from './docker.js';

export interface ComposeProject {
  name: string;
  /** Runs `docker-compose -p NAME -f FILE ARGS...`; rejects with its output when it fails. */
  run(args: string[], timeoutMs?: number): Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 300_000;

/** Whether `docker-compose` is installed; undefined when it is, else why not. */
export function composeMissing(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('docker-compose', ['version', '--short'], { timeout: 30_000 }, (err) => resolve(err ? `docker-compose not usable: ${err.message}` : undefined));
  });
}

/**
 * A compose project for `compose-examples/<example>/docker-compose.yml` with a
 * unique name (`mt<random>`), run with `env` on top of ours; `down -v
 * --remove-orphans` at teardown, even when the test failed (unless `down: false`:
 * a project that only runs `config`).
 */
export function composeProject(
  t: Test, example: string, env: Record<string, string>, opts: { down?: boolean; services?: string[] } = {},
): ComposeProject {
  const file = findScript(`compose-examples/${example}/docker-compose.yml`);
  const name = `mt${randomBytes(4).toString('hex')}`;
  const files = ['-f', file];
  if (opts.services) {
    // an override file labels the containers as the other Docker tests' are, so that
    // scripts/test.mjs removes them too if this process dies before its teardown
    const dir = mkdtempSync(join(tmpdir(), 'muster-compose-'));
    const labels = { [TEST_LABEL]: '1', [TEST_RUN_LABEL]: process.env['MUSTER_TEST_RUN'] ?? 'adhoc' };
    const override = join(dir, 'test-labels.yml');
    writeFileSync(override, JSON.stringify({ services: Object.fromEntries(opts.services.map((s) => [s, { labels }])) }));
    files.push('-f', override);
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  }
  const run = (args: string[], timeoutMs = DEFAULT_TIMEOUT_MS) => new Promise<string>((resolve, reject) => {
    execFile('docker-compose', ['--ansi', 'never', '-p', name, ...files, ...args], {
      timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker-compose ${args.join(' ')} failed: ${(stderr || stdout).trim().slice(-2000) || err.message}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
  if (opts.down === false) return { name, run };
  t.teardown(async () => {
    await run(['down', '-v', '--remove-orphans', '-t', '5']).catch((err: unknown) => {
      t.comment(`teardown of ${name}: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  return { name, run };
}
