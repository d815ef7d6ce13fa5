import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/config/load.js';
import { MusterError } from '../../src/errors.js';
import { DEFAULTS } from '../../src/config/defaults.js';

function withFiles(t: Test, docs: unknown[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'muster-dnscfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return docs.flatMap((doc, i) => {
    const file = join(dir, `${i}.json`);
    writeFileSync(file, JSON.stringify(doc));
    return ['-config-file', file];
  });
}

t.test('defaults: TTL 0, warning answered, TC on, Consul\'s SOA; -dev serves DNS on 8600', async (t) => {
  const c = loadAgentConfig(['-dev'], {}).config;
  t.equal(c.ports.dns, 8600);
  t.same(c.dns, { serviceTtlMs: {}, nodeTtlMs: 0, onlyPassing: false, enableTruncate: true, soa: { refresh: 3600, retry: 600, expire: 86400, minTtl: 0 } });
  t.equal(DEFAULTS.dns.serviceTtlMs, 0);
});

t.test('dns_config from files: later files win key by key', async (t) => {
  const args = withFiles(t, [
    { dns_config: { service_ttl: { '*': '5s', web: '30s' }, node_ttl: '10s', only_passing: true, soa: { min_ttl: 1, retry: 60 } } },
    { dns_config: { service_ttl: { 'db*': '1m' }, enable_truncate: false, soa: { min_ttl: 2 } } },
  ]);
  const c = loadAgentConfig(['-dev', ...args], {}).config;
  t.same(c.dns, {
    serviceTtlMs: { '*': 5000, web: 30_000, 'db*': 60_000 }, nodeTtlMs: 10_000, onlyPassing: true, enableTruncate: false,
    soa: { refresh: 3600, retry: 60, expire: 86400, minTtl: 2 },
  });
});

t.test('bad dns_config: every problem reported at once', async (t) => {
  const args = withFiles(t, [{ dns_config: { service_ttl: { web: 'soon' }, node_ttl: 5, only_passing: 'yes', soa: { serial: 1, retry: -1 }, recursors: ['8.8.8.8'] } }]);
  try {
    loadAgentConfig(['-dev', ...args], {});
    t.fail('accepted');
  } catch (err) {
    t.type(err, MusterError);
    t.equal((err as MusterError).code, 'ERR_CONFIG');
    const msg = (err as Error).message;
    for (const part of ['service_ttl.web', 'node_ttl', 'only_passing', 'soa.serial', 'soa.retry', 'dns_config.recursors']) t.match(msg, part);
  }
});
