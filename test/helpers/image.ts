// The Muster image for the Docker tests: the real Dockerfile built offline by
// scripts/local-image.sh on a base made from this machine's node (see that
// script). It is labelled with a digest of its build context and rebuilt only
// when that changes, so the test files of one run share one build.
import { execFile } from 'node:child_process';
import { findScript } from './docker.js';

/** Generous: on the vfs storage driver every build step copies the whole image. */
const BUILD_TIMEOUT_MS = 480_000;

export interface BuiltImage {
  image: string;
  /** How long the script took (a cached image: a few seconds). */
  ms: number;
}

/** Builds (or finds) the local Muster image; rejects with the script's stderr. */
export function buildLocalMusterImage(socketPath: string): Promise<BuiltImage> {
  return runImageScript('scripts/local-image.sh', socketPath);
}

/** An etcd image made from this machine's etcd (scripts/local-etcd-image.sh). */
export function localEtcdImage(socketPath: string): Promise<BuiltImage> {
  return runImageScript('scripts/local-etcd-image.sh', socketPath);
}

async function runImageScript(relative: string, socketPath: string): Promise<BuiltImage> {
  const script = findScript(relative);
  const started = Date.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    const env = { ...process.env, DOCKER_HOST: `unix://${socketPath}` };
    execFile('bash', [script], { timeout: BUILD_TIMEOUT_MS, env, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) => {
      if (err) reject(new Error(`${script} failed: ${stderr.trim() || err.message}`));
      else resolve(out);
    });
  });
  const image = stdout.trim().split('\n').pop() ?? '';
  if (!image) throw new Error(`${script} printed no image name`);
  return { image, ms: Date.now() - started };
}
