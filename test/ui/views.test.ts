// The web UI in a real browser against a real `muster agent -dev`: each view
// with real registrations, live updates through blocking queries, and the
// key/value browser (create, edit, delete, CAS conflicts) checked through the
// HTTP API. Screenshots go to test-artifacts/ui/.
import t from 'tap';
import type { Page } from 'playwright-core';
import { api, startAgent, type RunningAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { openPage, pageErrors, pageRequests, requireBrowser, screenshot } from './browser.js';

async function registerService(agent: RunningAgent, def: Record<string, unknown>): Promise<void> {
  const r = await api(agent.url, 'PUT', '/v1/agent/service/register', def);
  if (r.status !== 200) throw new Error(`register ${JSON.stringify(def)}: ${r.status} ${r.text}`);
}

async function kvRaw(agent: RunningAgent, key: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${agent.url}/v1/kv/${key}?raw`);
  return { status: res.status, text: await res.text() };
}

/** The text of the first element with this data-testid, once it contains `expected` (playwright polls). */
async function expectText(page: Page, testid: string, expected: string | RegExp): Promise<void> {
  await page.getByTestId(testid).filter({ hasText: expected }).first().waitFor();
}

t.test('web UI', async (t) => {
  const browser = await requireBrowser(t);
  if (!browser) return;
  const agent = await startAgent(t, { args: ['-dns-port', '-1'] });
  const ui = `${agent.url}/ui/`;

  await registerService(agent, {
    ID: 'web-1', Name: 'web', Tags: ['blue', 'v1'], Address: '127.0.0.10', Port: 8080,
    Meta: { version: '1.4.2', owner: 'team-a' }, Check: { TTL: '60s', Name: 'web-1 alive' },
  });
  await registerService(agent, {
    ID: 'web-2', Name: 'web', Tags: ['green'], Address: '127.0.0.11', Port: 8081, Meta: { version: '1.5.0' },
    Check: { TTL: '60s', Name: 'web-2 alive' },
  });
  await registerService(agent, { ID: 'db', Name: 'db', Port: 5432, Tags: ['primary'] });
  const pass = await api(agent.url, 'PUT', '/v1/agent/check/pass/service:web-1?note=fine');
  t.equal(pass.status, 200, 'web-1 passes its TTL check (web-2 stays critical)');

  await t.test('serves the page and its assets', async (t) => {
    const top = await fetch(`${agent.url}/`, { redirect: 'manual' });
    t.equal(top.status, 302, '/ redirects');
    t.equal(top.headers.get('location'), '/ui/', 'to /ui/');
    const bare = await fetch(`${agent.url}/ui`, { redirect: 'manual' });
    t.equal(bare.headers.get('location'), '/ui/', '/ui redirects to /ui/');
    const page = await fetch(ui);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/, 'the page is HTML');
    t.equal(page.headers.get('cache-control'), 'no-cache', 'revalidated on every load');
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/, 'scripts from the agent only');
    const script = await fetch(`${agent.url}/ui/main.js`);
    t.match(script.headers.get('content-type'), /^text\/javascript/, 'scripts are JavaScript');
    const css = await fetch(`${agent.url}/ui/style.css`);
    t.match(css.headers.get('content-type'), /^text\/css/, 'the stylesheet is CSS');
    const again = await fetch(`${agent.url}/ui/main.js`, { headers: { 'If-None-Match': script.headers.get('etag') ?? '' } });
    t.equal(again.status, 304, 'an unchanged script is a 304');
    t.equal((await fetch(`${agent.url}/ui/nothing.js`)).status, 404, 'a missing asset is a 404');
    const view = await fetch(`${agent.url}/ui/services/web`);
    t.match(view.headers.get('content-type'), /^text\/html/, 'any other path under /ui/ is the page');
  });

  await t.test('services view: instance counts and health', async (t) => {
    const page = await openPage(t, browser, ui);
    await page.waitForURL(/#\/services$/);
    const web = page.locator('tr[data-service="web"]');
    await web.filter({ hasText: '2 instances' }).waitFor();
    t.match(await web.textContent(), /2 passing/, 'web: two passing checks (the node\'s serfHealth counts, as in Consul)');
    t.match(await web.textContent(), /1 critical/, 'web: one critical check (web-2 TTL)');
    t.match(await web.textContent(), /blue/, 'web: tags');
    t.equal(await page.locator('tr[data-service="db"] td[data-instances]').textContent(), '1 instance', 'db: one instance');
    const total = Object.keys((await api(agent.url, 'GET', '/v1/catalog/services')).body as object).length;
    await expectText(page, 'service-count', new RegExp(`^${total} services$`));
    await page.getByTestId('service-filter').fill('primary');
    await expectText(page, 'service-count', `1 of ${total} services`);
    t.equal(await page.locator('tr[data-service]').count(), 1, 'the filter matches tags');
    await page.getByTestId('service-filter').fill('');
    t.pass(`screenshot ${await screenshot(page, 'services')}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('service view: instances with address, port, tags, meta and checks', async (t) => {
    const page = await openPage(t, browser, ui);
    await page.locator('tr[data-service="web"] a').click();
    await page.waitForURL(/#\/services\/web$/);
    const one = page.locator('tr[data-instance="web-1"]');
    await one.waitFor();
    const text = await one.textContent() ?? '';
    for (const s of ['127.0.0.10', '8080', 'blue', 'v1', 'version', '1.4.2', 'owner', 'team-a', 'web-1 alive', 'fine', agent.node]) {
      t.ok(text.includes(s), `web-1 shows ${s}`);
    }
    t.match(await page.locator('tr[data-instance="web-2"] [data-check="service:web-2"] .badge').textContent(), 'critical', 'web-2 check is critical');
    await page.reload();
    await page.locator('tr[data-instance="web-2"]').waitFor();
    t.pass('a reload shows the same view');
    t.pass(`screenshot ${await screenshot(page, 'service-web')}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('nodes and node view: gossip status and checks', async (t) => {
    const page = await openPage(t, browser, `${ui}#/nodes`);
    const row = page.locator(`tr[data-node="${agent.node}"]`);
    await row.filter({ hasText: 'alive' }).waitFor();
    t.match(await row.textContent(), /passing/, 'the node has passing checks');
    t.pass(`screenshot ${await screenshot(page, 'nodes')}`);
    await row.locator('a').click();
    await expectText(page, 'node-gossip', 'alive');
    const checks = await page.getByTestId('node-checks').textContent() ?? '';
    t.match(checks, /Serf Health Status/, 'the node view lists serfHealth');
    t.match(checks, /web-1 alive/, 'and the service checks');
    t.match(await page.getByTestId('node-services').textContent(), /web-2/, 'and its services');
    t.pass(`screenshot ${await screenshot(page, 'node')}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('members view', async (t) => {
    const page = await openPage(t, browser, `${ui}#/members`);
    const row = page.locator(`tr[data-member="${agent.node}"]`);
    await row.filter({ hasText: 'alive' }).waitFor();
    t.match(await row.textContent(), /server/, 'the dev agent is a server');
    t.pass(`screenshot ${await screenshot(page, 'members')}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('live update: a service registered while the list is open appears', async (t) => {
    const page = await openPage(t, browser, ui);
    await page.locator('tr[data-service="web"]').waitFor();
    await registerService(agent, { ID: 'late-1', Name: 'late', Port: 9000 });
    await page.locator('tr[data-service="late"]').waitFor();
    t.pass('late appeared without a reload');
    await api(agent.url, 'PUT', '/v1/agent/service/deregister/late-1');
    await page.locator('tr[data-service="late"]').waitFor({ state: 'detached' });
    t.pass('and went away when deregistered');
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('leaving a view aborts its blocking query', async (t) => {
    const page = await openPage(t, browser, ui);
    await page.locator('tr[data-service="web"]').waitFor();
    // the view's second query (past index 0) is the one the agent holds; it leaves 250 ms after the first answer
    await waitFor(() => pageRequests(page).some((u) => /\/v1\/internal\/ui\/services\?index=[1-9]/.test(u)), { timeoutMs: 10_000, message: 'the services view holds a blocking query' });
    const held = page.waitForEvent('requestfailed', (r) => r.url().includes('/v1/internal/ui/services?index='));
    const next = page.waitForRequest((r) => r.url().includes('/v1/internal/ui/nodes?index='));
    await page.getByRole('link', { name: 'Nodes' }).click();
    t.match((await held).failure()?.errorText, /ABORTED/, 'the services query held by the agent was aborted');
    await next;
    t.pass('and the nodes view started its own');
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('key/value: create, edit and delete through the UI', async (t) => {
    const page = await openPage(t, browser, `${ui}#/kv/`);
    await expectText(page, 'kv-count', 'entries');
    await page.getByTestId('kv-new-key').fill('app/');
    await page.getByTestId('kv-create').click();
    await page.locator('tr[data-key="app/"]').waitFor();
    t.equal((await kvRaw(agent, 'app/')).status, 200, 'a folder key ending in / was created');

    await page.locator('tr[data-key="app/"] a').click();
    await page.waitForURL(/#\/kv\/app\/$/);
    await page.getByTestId('kv-new-key').fill('config');
    await page.getByTestId('kv-new-value').fill('port = 80\nname = "größe"');
    await page.getByTestId('kv-create').click();
    await page.waitForURL(/#\/kv\/app\/config$/);
    await expectText(page, 'kv-index', 'ModifyIndex');
    t.same(await kvRaw(agent, 'app/config'), { status: 200, text: 'port = 80\nname = "größe"' }, 'created, UTF-8 intact');
    t.equal(await page.getByTestId('kv-value').inputValue(), 'port = 80\nname = "größe"', 'the editor shows the value');
    t.pass(`screenshot ${await screenshot(page, 'kv-key')}`);

    await page.getByTestId('kv-value').fill('port = 81');
    await page.getByTestId('kv-save').click();
    await expectText(page, 'kv-message', 'Saved');
    t.same(await kvRaw(agent, 'app/config'), { status: 200, text: 'port = 81' }, 'the edit reached the store');

    await page.getByTestId('kv-value').fill('port = 82');
    await page.getByTestId('kv-save').click();
    await waitFor(async () => (await kvRaw(agent, 'app/config')).text === 'port = 82', { timeoutMs: 10_000, message: 'second save' });
    t.pass('a second save uses the index of the first one');

    await page.getByTestId('kv-delete').click();
    await page.getByTestId('kv-confirm-delete').click();
    await page.waitForURL(/#\/kv\/app\/$/);
    t.equal((await kvRaw(agent, 'app/config')).status, 404, 'deleted after confirmation');

    await page.getByTestId('kv-new-key').fill('config');
    await page.getByTestId('kv-create').click();
    await page.waitForURL(/#\/kv\/app\/config$/);
    await page.goto(`${ui}#/kv/app/`);
    await page.getByTestId('kv-new-key').fill('config');
    await page.getByTestId('kv-create').click();
    await expectText(page, 'kv-message', 'already exists');
    t.pass('creating an existing key is refused (cas=0), not overwritten');
    t.pass(`screenshot ${await screenshot(page, 'kv-folder')}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('key/value: a concurrent change is a conflict, not overwritten', async (t) => {
    await api(agent.url, 'PUT', '/v1/kv/shared/setting', 'original');
    // The key's watch would hear of the other change before or after the refused save, as the
    // machine's timing has it: its queries past index 0 are held here until the conflict shows, so
    // that it hears of it after (the order in which its warning once replaced the conflict notice).
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const page = await openPage(t, browser, `${ui}#/kv/shared/setting`, {
      beforeLoad: async (p) => { await p.route(/\/v1\/kv\/shared\/setting\?index=[1-9]/, async (route) => { await released; await route.continue(); }); },
    });
    await expectText(page, 'kv-index', 'ModifyIndex');
    t.equal(await page.getByTestId('kv-value').inputValue(), 'original');
    await page.getByTestId('kv-value').fill('mine');
    const theirs = await api(agent.url, 'PUT', '/v1/kv/shared/setting', 'theirs');
    t.equal(theirs.body, true, 'someone else changes the key through the API');
    await page.getByTestId('kv-save').click();
    await expectText(page, 'kv-message', 'Conflict: not saved');
    release();
    // once the watch asks past the other change, its answer has been handled: the notice and its reload button are still there
    const changedAt = ((await api(agent.url, 'GET', '/v1/kv/shared/setting')).body as Array<{ ModifyIndex: number }>)[0]?.ModifyIndex;
    await waitFor(() => pageRequests(page).some((u) => u.includes(`/v1/kv/shared/setting?index=${changedAt}&`)), { timeoutMs: 10_000, message: 'the watch has seen the change' });
    await expectText(page, 'kv-message', 'Conflict: not saved');
    t.ok(await page.getByTestId('kv-reload').isVisible(), 'the conflict notice keeps its reload button after the watch hears of the change');
    t.equal(await page.getByTestId('kv-current-value').textContent(), 'theirs', 'the conflict shows the current value');
    t.same(await kvRaw(agent, 'shared/setting'), { status: 200, text: 'theirs' }, 'the other change was not overwritten');
    t.equal(await page.getByTestId('kv-value').inputValue(), 'mine', 'the user keeps their edit');
    t.pass(`screenshot ${await screenshot(page, 'kv-conflict')}`);

    await page.getByTestId('kv-reload').click();
    t.equal(await page.getByTestId('kv-value').inputValue(), 'theirs', 'reload loads the current value');
    await page.getByTestId('kv-value').fill('merged');
    await page.getByTestId('kv-save').click();
    await expectText(page, 'kv-message', 'Saved');
    t.same(await kvRaw(agent, 'shared/setting'), { status: 200, text: 'merged' }, 'saving after the reload works');

    await page.getByTestId('kv-value').fill('edited, not saved');
    await api(agent.url, 'PUT', '/v1/kv/shared/setting', 'changed again');
    await page.getByTestId('kv-delete').click();
    await page.getByTestId('kv-confirm-delete').click();
    await expectText(page, 'kv-message', 'Conflict: not deleted');
    t.same(await kvRaw(agent, 'shared/setting'), { status: 200, text: 'changed again' }, 'a stale delete is refused (cas)');
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('key/value: binary values are marked, keys and values are shown as text', async (t) => {
    const bin = await fetch(`${agent.url}/v1/kv/odd/binary`, { method: 'PUT', body: new Uint8Array([0, 255, 1, 254]) });
    t.equal(await bin.text(), 'true');
    const evil = '<img src=x onerror=window.pwned=1>';
    await fetch(`${agent.url}/v1/kv/odd/${encodeURIComponent(evil)}`, { method: 'PUT', body: `<script>window.pwned=2</script>${evil}` });
    const page = await openPage(t, browser, `${ui}#/kv/odd/binary`);
    await expectText(page, 'kv-message', 'Binary value (4 bytes)');
    t.equal(await page.getByTestId('kv-value').inputValue(), 'AP8B/g==', 'shown as base64');
    t.equal(await page.getByTestId('kv-save').isDisabled(), true, 'and not editable');
    await page.goto(`${ui}#/kv/odd/`);
    await page.locator(`tr[data-key="odd/${evil}"] a`).click();
    await expectText(page, 'kv-key', evil);
    t.equal(await page.getByTestId('kv-value').inputValue(), `<script>window.pwned=2</script>${evil}`, 'the value is text');
    t.equal(await page.locator('main img, main script').count(), 0, 'no markup from user data');
    t.equal(await page.evaluate('window.pwned'), undefined, 'nothing ran');
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('1,000 services are all listed', async (t) => {
    const names = Array.from({ length: 1000 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((name) => api(agent.url, 'PUT', '/v1/catalog/register', {
        Node: 'bulk-node', Address: '127.0.0.99', Service: { Service: name, Port: 1000 + (i % 100), Tags: ['bulk'] },
      })));
    }
    const total = Object.keys((await api(agent.url, 'GET', '/v1/catalog/services')).body as object).length;
    t.ok(total >= 1000, `${total} services in the catalog`);
    const page = await openPage(t, browser, ui);
    await expectText(page, 'service-count', new RegExp(`^${total} services$`));
    t.equal(await page.locator('tr[data-service]').count(), total, 'one row per service');
    await page.getByTestId('service-filter').fill('bulk-0999');
    await expectText(page, 'service-count', `1 of ${total} services`);
    await page.getByTestId('service-filter').fill('');
    await expectText(page, 'service-count', new RegExp(`^${total} services$`));
    t.pass(`screenshot ${await screenshot(page, 'services-1000', { fullPage: false })}`);
    t.same(pageErrors(page), [], 'no script errors');
  });

  await t.test('an unreachable agent is shown, and retried with back-off', async (t) => {
    const page = await openPage(t, browser, ui);
    await page.locator('tr[data-service="web"]').waitFor();
    await agent.stop();
    await page.locator('#connection.error').filter({ hasText: /unreachable; retrying in \d+ s/ }).waitFor();
    t.pass(`the header says so: ${await page.locator('#connection').textContent()}`);
    t.equal(await page.locator('tr[data-service="web"]').count(), 1, 'the last data stays on screen');
    t.same(pageErrors(page), [], 'no script errors');
  });
});
