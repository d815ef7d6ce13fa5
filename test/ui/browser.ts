// Helpers for the web UI tests: Debian's chromium driven by playwright-core.
//
// Contract: a test calls `requireBrowser(t)` first and returns when it gets
// `undefined`. Without chromium the test is skipped, except under CI=true,
// where it fails (a CI run that skipped the UI tests would prove nothing).
// The browser is closed in the test's teardown, even when the test failed.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../helpers/agent.js';

/** Debian's chromium; MUSTER_CHROMIUM names another binary. */
export const CHROMIUM = process.env['MUSTER_CHROMIUM'] ?? '/usr/bin/chromium';

/** Screenshots of each view, for people to look at: test-artifacts/ui/ under the repository root (git-ignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');

/** How long a UI expectation may take before it fails (playwright polls until then; generous: the CI machine is shared). */
export const UI_TIMEOUT_MS = 30_000;

export async function requireBrowser(t: Test): Promise<Browser | undefined> {
  const ci = process.env['CI'] === 'true';
  if (!existsSync(CHROMIUM)) {
    const reason = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set MUSTER_CHROMIUM)`;
    if (ci) t.fail(`the UI tests need a browser under CI=true: ${reason}`);
    else t.plan(0, `skipped: ${reason}`);
    return undefined;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  return browser;
}

const ERRORS = new WeakMap<Page, string[]>();
const REQUESTS = new WeakMap<Page, string[]>();

/** Script errors the page threw so far (a test checks this is empty at its end). */
export function pageErrors(page: Page): string[] {
  return ERRORS.get(page) ?? [];
}

/** The URLs the page has requested so far, in order (a blocking query is there while it is held). */
export function pageRequests(page: Page): string[] {
  return REQUESTS.get(page) ?? [];
}

/** A fresh page (own context: no shared storage between tests) that records its script errors and requests. */
export async function openPage(t: Test, browser: Browser, url: string, opts: { beforeLoad?: (page: Page) => Promise<void> } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const errors: string[] = [];
  ERRORS.set(page, errors);
  const requests: string[] = [];
  REQUESTS.set(page, requests);
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (err) => { errors.push(err.message); });
  const loads: string[] = [];
  page.on('console', (m) => loads.push(`console ${m.type()}: ${m.text()}`));
  page.on('requestfailed', (r) => loads.push(`failed ${r.url()}: ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => loads.push(`${r.status()} ${r.url()}`));
  await opts.beforeLoad?.(page); // e.g. routes that hold some of the page's requests
  await page.goto(url);
  // Chromium cancels requests in flight with net::ERR_NETWORK_CHANGED when interfaces come and go,
  // and Docker adds and removes a veth pair for every container the tests start: seen in CI, a
  // cancelled module script leaves the page at its static "Loading…". Such a load is reported and
  // done again (up to twice); a page that does not start for any other reason fails the test.
  for (let attempt = 1; ; attempt++) {
    const stalled = await page.locator('header nav a.active').waitFor({ timeout: APP_START_MS }).then(() => false, () => true);
    if (!stalled) break;
    const fetched = loads.join('\n');
    if (attempt > 2 || !fetched.includes('ERR_NETWORK_CHANGED')) {
      throw new Error(`the UI's scripts did not start within ${APP_START_MS} ms; what the page fetched:\n${fetched}`);
    }
    t.comment(`a network change (Docker's interfaces) cancelled the page's requests; loading it again:\n${fetched}`);
    loads.length = 0;
    await page.reload();
  }
  return page;
}

/** How long the page's scripts may take to draw the first view. */
const APP_START_MS = 15_000;

/** Writes test-artifacts/ui/<name>.png: the whole page, or only the viewport for very long pages. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: opts.fullPage ?? true });
  return path;
}
