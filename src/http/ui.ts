import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { Router } from './router.js';
import type { ApiRequest, ApiResponse } from './types.js';
import { text } from './response.js';
import { INDEX_HTML, STYLE_CSS } from './ui-page.js';

/** Where `tsc -p src/ui/tsconfig.json` writes the browser scripts, from dist/src/http/. */
const SCRIPTS_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * Everything the page loads comes from this agent (no internet needed), and
 * the policy says so: scripts, styles and API calls from the same origin only.
 */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The UI's files in memory: the page and stylesheet from ui-page.ts and the
 * compiled scripts, read once at the first request. Every answer carries an
 * ETag and `Cache-Control: no-cache`, so a browser revalidates (cheap 304s)
 * and never runs scripts of an older build.
 */
export class UiAssets {
  private loading: Promise<Map<string, Asset>> | undefined;

  constructor(private readonly log: Logger, private readonly scriptsDir = SCRIPTS_DIR) {}

  async get(path: string): Promise<Asset | undefined> {
    this.loading ??= this.load();
    return (await this.loading).get(path);
  }

  private async load(): Promise<Map<string, Asset>> {
    const files = new Map<string, Asset>();
    files.set('index.html', asset(Buffer.from(INDEX_HTML), 'text/html; charset=utf-8'));
    files.set('style.css', asset(Buffer.from(STYLE_CSS), 'text/css; charset=utf-8'));
    try {
      for (const file of await listScripts(this.scriptsDir)) {
        const name = relative(this.scriptsDir, file).split(sep).join('/');
        files.set(name, asset(await readFile(file), 'text/javascript; charset=utf-8'));
      }
    } catch (err) {
      // the readdir error names the folder
      this.log.error({ err: errorMessage(err) }, 'ui scripts missing: run npm run build');
    }
    return files;
  }
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

async function listScripts(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...await listScripts(path));
    else if (e.isFile() && e.name.endsWith('.js')) out.push(path);
  }
  return out;
}

/**
 * `/ui/` and its assets, and `/` redirecting there, as Consul does. Served by
 * every agent itself (a client agent too): only the page's API calls go
 * through the usual forwarding. Register before the `/` route of the API.
 */
export function registerUi(router: Router, assets: UiAssets): void {
  router.add('GET', '/', () => redirect('/ui/'));
  router.add('GET', '/ui', () => redirect('/ui/'));
  router.add('GET', '/ui/*path', async (req) => {
    const path = req.params.path ?? '';
    // a path without a file extension is a view: the page routes it itself, so a reload works anywhere
    const name = path === '' || !/\.[a-z]+$/.test(path) ? 'index.html' : path;
    const found = await assets.get(name);
    if (!found) return text(404, `Not found: ${req.path}`);
    return serve(req, found);
  });
}

function serve(req: ApiRequest, a: Asset): ApiResponse {
  const headers = { ...PAGE_HEADERS, 'Cache-Control': 'no-cache', ETag: a.etag };
  if (req.headers['if-none-match'] === a.etag) return { status: 304, headers, body: '' };
  return { status: 200, headers: { ...headers, 'Content-Type': a.type }, body: a.body };
}

function redirect(location: string): ApiResponse {
  // 302, not 301: a browser would remember a permanent redirect after the UI is turned off
  return { status: 302, headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8' }, body: `Found: ${location}` };
}
