// A client agent with -ui serves the page itself; the page's API calls go
// through the client's usual forwarding to the servers (which have no UI).
import t from 'tap';
import { TestCluster, kvGet } from '../helpers/cluster.js';
import { openPage, pageErrors, requireBrowser, screenshot } from './browser.js';

t.test('the UI on a client agent reads and writes through the servers', async (t) => {
  const browser = await requireBrowser(t);
  if (!browser) return;
  const cluster = await TestCluster.start(t, { servers: 1 });
  const client = await cluster.addClient('c1', { start: false });
  await client.start({ extra: ['-ui'] });
  await cluster.waitForMembers(cluster.all());
  const server = cluster.get('s1');

  t.equal((await fetch(`${server.url}/ui/`)).status, 404, 'the server has no UI (no -ui)');
  const page = await openPage(t, browser, `${client.url}/ui/#/nodes`);
  for (const name of ['s1', 'c1']) {
    await page.locator(`tr[data-node="${name}"]`).filter({ hasText: 'alive' }).waitFor();
    t.pass(`node ${name} is listed, alive`);
  }
  t.pass(`screenshot ${await screenshot(page, 'client-nodes')}`);

  await page.goto(`${client.url}/ui/#/kv/`);
  await page.getByTestId('kv-new-key').fill('from-client');
  await page.getByTestId('kv-new-value').fill('via c1');
  await page.getByTestId('kv-create').click();
  await page.waitForURL(/#\/kv\/from-client$/);
  t.equal(await kvGet(server.url, 'from-client'), 'via c1', 'a key created on the client\'s UI is on the server');
  t.same(pageErrors(page), [], 'no script errors');
});
