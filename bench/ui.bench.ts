/**
 * bench/ui: what the services view costs with N services on one `-dev` agent.
 *  1. The data: one `/v1/internal/ui/services` request against the baseline a
 *     UI without the summary would need (`/v1/catalog/services` plus one
 *     `/v1/health/service/:name` per service, 16 at a time), ms and ratio.
 *  2. The page, when /usr/bin/chromium (or $MUSTER_CHROMIUM) is there: from
 *     navigation to N rows drawn, and a filter narrowing the list and clearing it.
 *
 * Run: npm run build && node dist/bench/ui.bench.js [N=1000] [REPS=5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.argv[2] ?? 1000);
const REPS = Number(process.argv[3] ?? 5);
const CHROMIUM = process.env['MUSTER_CHROMIUM'] ?? '/usr/bin/chromium';

function startAgent(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [resolve(ROOT, 'bin/muster'), 'agent', '-dev', '-node', 'bench-ui', '-http-port', '0',
    '-serf-lan-port', '0', '-server-port', '0', '-dns-port', '-1', '-docker', '', '-log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('agent did not start in 30 s')), 30_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as { msg?: string; addr?: string };
      if (l.msg === 'http api listening' && l.addr) {
        clearTimeout(timer);
        res({ proc, url: `http://127.0.0.1:${l.addr.slice(l.addr.lastIndexOf(':') + 1)}` });
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`agent exited with ${code}`)); });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const { proc, url } = await startAgent();
  try {
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => fetch(`${url}/v1/catalog/register`, {
        method: 'PUT',
        body: JSON.stringify({ Node: `node-${(i + k) % 20}`, Address: '127.0.0.2', Service: { Service: `svc-${i + k}`, Port: 80, Tags: ['bench'] },
          Check: { CheckID: `check-${i + k}`, Name: 'c', Status: 'passing', ServiceID: `svc-${i + k}` } }),
      }).then((r) => r.text())));
    }
    console.log(`bench/ui: ${N} services on 20 nodes, ${REPS} reps (median), ${cpus().length} CPUs, node ${process.version}`);

    const summary: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < REPS; r++) {
      summary.push(await timed(async () => (await fetch(`${url}/v1/internal/ui/services`)).json()));
      baseline.push(await timed(async () => {
        const names = Object.keys(await (await fetch(`${url}/v1/catalog/services`)).json() as object);
        for (let i = 0; i < names.length; i += 16) {
          await Promise.all(names.slice(i, i + 16).map(async (n) => (await fetch(`${url}/v1/health/service/${encodeURIComponent(n)}`)).json()));
        }
      }));
    }
    const [s, b] = [median(summary), median(baseline)];
    console.log(`data   summary endpoint ${s.toFixed(1)} ms | baseline catalog + ${N} health requests ${b.toFixed(1)} ms | ratio ${(s / b).toFixed(3)}`);

    if (!existsSync(CHROMIUM)) { console.log(`page   skipped: no chromium at ${CHROMIUM}`); return; }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const load: number[] = [];
      const filter: number[] = [];
      for (let r = 0; r < REPS; r++) {
        load.push(await timed(async () => {
          await page.goto(`${url}/ui/#/services`);
          await page.waitForFunction(`document.querySelectorAll('tr[data-service]').length >= ${N}`);
        }));
        // in the page: the input event's handler redraws synchronously, so this is the redraw's own time
        filter.push(await page.evaluate(`(() => {
          const input = document.querySelector('[data-testid=service-filter]');
          const t0 = performance.now();
          input.value = 'svc-99'; input.dispatchEvent(new Event('input'));
          input.value = ''; input.dispatchEvent(new Event('input'));
          return performance.now() - t0;
        })()`));
      }
      console.log(`page   load to ${N} rows ${median(load).toFixed(0)} ms | filter to 11 rows and back to all, in the page ${median(filter).toFixed(1)} ms`);
    } finally {
      await browser.close();
    }
  } finally {
    proc.kill('SIGTERM');
  }
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
