// `muster kv ...` as a user runs it, against a real agent.
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../helpers/agent.js';
import { runMuster } from '../helpers/cli.js';

t.test('muster kv against an agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const dir = mkdtempSync(join(tmpdir(), 'muster-kv-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kv = (args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) =>
    runMuster(['kv', ...args], { env: { MUSTER_HTTP_ADDR: agent.url, CONSUL_HTTP_ADDR: '', ...opts.env }, ...(opts.input !== undefined ? { input: opts.input } : {}) });

  t.test('put and get', async (t) => {
    const put = await kv(['put', 'app/name', 'muster']);
    t.equal(put.code, 0, put.stderr);
    t.equal(put.stdout.toString(), 'Success! Data written to: app/name\n');
    const get = await kv(['get', 'app/name']);
    t.equal(get.code, 0);
    t.equal(get.stdout.toString(), 'muster\n', 'the raw value and a newline');
    const missing = await kv(['get', 'app/none']);
    t.equal(missing.code, 1, 'a missing key exits 1');
    t.equal(missing.stderr, 'muster: No key exists at: app/none\n');
    t.equal((await kv(['get', '/app/name'])).stdout.toString(), 'muster\n', 'a leading / is dropped');
  });

  t.test('-http-addr, CONSUL_HTTP_ADDR and MUSTER_HTTP_ADDR', async (t) => {
    const [flag, consul, down] = await Promise.all([
      runMuster(['kv', 'get', '-http-addr', agent.url, 'app/name'], { env: { MUSTER_HTTP_ADDR: '127.0.0.1:1', CONSUL_HTTP_ADDR: '127.0.0.1:1' } }),
      runMuster(['kv', 'get', 'app/name'], { env: { MUSTER_HTTP_ADDR: '', CONSUL_HTTP_ADDR: `127.0.0.1:${agent.port}` } }),
      runMuster(['kv', 'get', 'app/name'], { env: { MUSTER_HTTP_ADDR: '127.0.0.1:1' } }),
    ]);
    t.equal(flag.stdout.toString(), 'muster\n', 'the flag wins over the environment');
    t.equal(consul.stdout.toString(), 'muster\n', 'CONSUL_HTTP_ADDR');
    t.equal(down.code, 1);
    t.match(down.stderr, /^muster: Error querying Consul agent: .*ECONNREFUSED/);
  });

  t.test('flags, -detailed and -base64', async (t) => {
    const puts = await Promise.all([kv(['put', '-flags', '16209093007834647008', 'app/sem', 'x']), kv(['put', '-flags=3304740253564472344', 'app/lock', 'y'])]);
    t.same(puts.map((r) => r.code), [0, 0]);
    const detailed = await kv(['get', '-detailed', 'app/sem']);
    const lines = detailed.stdout.toString().split('\n');
    t.match(lines, [
      /^CreateIndex {6}\d+$/, 'Flags            16209093007834647008', 'Key              app/sem',
      'LockIndex        0', /^ModifyIndex {6}\d+$/, 'Session          -', 'Value            x', '',
    ], 'consul kv get -detailed\'s field list');
    const b64 = await kv(['get', '-base64', 'app/lock']);
    t.equal(b64.stdout.toString(), 'eQ==\n');
    t.equal((await kv(['put', '-base64', 'app/b64', 'aGk='])).code, 0);
    t.equal((await kv(['get', 'app/b64'])).stdout.toString(), 'hi\n', '-base64 put decodes');
    const bad = await kv(['put', '-base64', 'app/b64', 'not base64!']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /Cannot base 64 decode data/);
    const over = await kv(['put', '-flags', '18446744073709551616', 'app/x', 'y']);
    t.equal(over.code, 2, 'a flags value above uint64 is a usage error');
  });

  t.test('values from a file and from stdin, binary intact', async (t) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const file = join(dir, 'blob.bin');
    writeFileSync(file, bytes);
    t.equal((await kv(['put', 'bin/file', `@${file}`])).code, 0);
    t.same((await kv(['get', 'bin/file'])).stdout, Buffer.concat([bytes, Buffer.from('\n')]), '@file');
    t.equal((await kv(['put', 'bin/stdin', '-'], { input: bytes })).code, 0);
    t.same((await kv(['get', 'bin/stdin'])).stdout, Buffer.concat([bytes, Buffer.from('\n')]), '- reads stdin');
    t.equal((await kv(['put', 'bin/dash', '-5'])).code, 0);
    t.equal((await kv(['get', 'bin/dash'])).stdout.toString(), '-5\n', '-5 is a literal');
    t.equal((await kv(['put', 'bin/empty'])).code, 0);
    t.equal((await kv(['get', 'bin/empty'])).stdout.toString(), '\n', 'no DATA: an empty value');
  });

  t.test('-recurse, -keys and -separator', async (t) => {
    await Promise.all([['tree/a', '1'], ['tree/b/c', '2'], ['tree/b/d', '3']].map(([k, v]) => kv(['put', k as string, v as string])));
    t.equal((await kv(['get', '-recurse', 'tree'])).stdout.toString(), 'tree/a:1\ntree/b/c:2\ntree/b/d:3\n');
    t.equal((await kv(['get', '-keys', 'tree/'])).stdout.toString(), 'tree/a\ntree/b/\n', 'cut at / by default');
    t.equal((await kv(['get', '-keys', '-separator', '', 'tree/'])).stdout.toString(), 'tree/a\ntree/b/c\ntree/b/d\n', 'no separator');
    const detailed = (await kv(['get', '-recurse', '-detailed', 'tree/b'])).stdout.toString();
    t.equal(detailed.split('\n\n').length, 2, 'two blocks, a blank line between');
  });

  t.test('cas and delete', async (t) => {
    await kv(['put', 'c/k', 'v1']);
    const index = /ModifyIndex\s+(\d+)/.exec((await kv(['get', '-detailed', 'c/k'])).stdout.toString())?.[1] ?? '0';
    const stale = await kv(['put', '-cas', '-modify-index', String(Number(index) + 100), 'c/k', 'v2']);
    t.equal(stale.code, 1);
    t.equal(stale.stderr, 'muster: Did not write to c/k: CAS failed\n');
    const ok = await kv(['put', '-cas', '-modify-index', index, 'c/k', 'v2']);
    t.equal(ok.code, 0, ok.stderr);
    t.equal((await kv(['put', '-cas', 'c/k', 'v3'])).code, 2, '-cas needs -modify-index');
    t.equal((await kv(['delete', '-cas', '-modify-index', '1', 'c/k'])).stderr, 'muster: Did not delete key c/k: CAS failed\n');
    const del = await kv(['delete', 'c/k']);
    t.equal(del.stdout.toString(), 'Success! Deleted key: c/k\n');
    t.equal((await kv(['get', 'c/k'])).code, 1);
    t.equal((await kv(['delete', '-recurse', '-cas', '-modify-index', '3', 'tree'])).code, 2, '-recurse with -cas');
    const tree = await kv(['delete', '-recurse', 'tree']);
    t.equal(tree.stdout.toString(), 'Success! Deleted keys with prefix: tree\n');
    t.equal((await kv(['get', '-recurse', 'tree'])).stdout.toString(), '', 'gone');
  });

  t.test('export and import round trip', async (t) => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const file = join(dir, 'v.bin');
    writeFileSync(file, bytes);
    await kv(['put', '-flags', '16209093007834647008', 'exp/a', 'alpha']);
    await kv(['put', 'exp/b<&>', `@${file}`]);
    const exp = await kv(['export', 'exp/']);
    t.equal(exp.code, 0, exp.stderr);
    const text = exp.stdout.toString();
    t.match(text, /^\[\n\t\{\n\t\t"key": "exp\/a",\n\t\t"flags": 16209093007834647008,\n\t\t"value": "YWxwaGE="\n\t\},/, 'tab-indented, flags exact');
    t.match(text, /"exp\/b\\u003c\\u0026\\u003e"/, 'keys escaped as Go escapes them');
    const dump = join(dir, 'export.json');
    writeFileSync(dump, text);

    t.equal((await kv(['delete', '-recurse', 'exp/'])).code, 0);
    const imp = await kv(['import', `@${dump}`]);
    t.equal(imp.code, 0, imp.stderr);
    t.equal(imp.stdout.toString(), 'Imported: exp/a\nImported: exp/b<&>\n');
    t.equal((await kv(['export', 'exp/'])).stdout.toString(), text, 'the export after import is the same');
    t.same((await kv(['get', 'exp/b<&>'])).stdout.subarray(0, 5), bytes, 'binary value restored');

    const fromStdin = await kv(['import', '-prefix', 'copy/', '-'], { input: text });
    t.equal(fromStdin.code, 0, fromStdin.stderr);
    t.match((await kv(['get', '-detailed', 'copy/exp/a'])).stdout.toString(), /Flags\s+16209093007834647008/, 'stdin import with -prefix');
    t.equal((await kv(['export', 'nothing-here/'])).stdout.toString(), '[]\n', 'an empty export');

    const badJson = await kv(['import', '[{"key":"x",']);
    t.equal(badJson.code, 1);
    t.match(badJson.stderr, /^muster: Cannot unmarshal data/);
    const badValue = await kv(['import', '[{"key":"x","flags":0,"value":"!!"}]']);
    t.equal(badValue.code, 1);
    t.match(badValue.stderr, /Error base 64 decoding value for key x/);
  });

  t.test('usage errors exit 2', async (t) => {
    const [bad, noKey, noGetKey, tooMany, noData, unknown, help] = await Promise.all([
      kv(['put', '-bogus', 'k', 'v']), kv(['put']), kv(['get']), kv(['get', 'a', 'b']), kv(['import']), kv(['frobnicate']), kv(['put', '-help']),
    ]);
    t.equal(bad.code, 2, 'an unknown flag');
    t.equal(bad.stderr, 'muster: flag provided but not defined: -bogus\n');
    t.equal(noKey.code, 2, 'no key');
    t.equal(noGetKey.code, 2, 'get without a key or -recurse');
    t.equal(tooMany.code, 2, 'too many arguments');
    t.equal(noData.code, 2, 'import without data');
    t.equal(unknown.code, 2, 'an unknown subcommand');
    t.equal(help.code, 0);
    t.match(help.stdout.toString(), /Usage: muster kv put \[options\] KEY \[DATA\]/);
  });
});
