import t from 'tap';
import { startAgent } from '../helpers/agent.js';
import { runMuster } from '../helpers/cli.js';
import { columnize } from '../../src/cli/members.js';

t.test('muster members prints Consul\'s columns for the agent', async (t) => {
  const agent = await startAgent(t, { args: ['-docker', ''] });
  const addr = ['-http-addr', `127.0.0.1:${agent.port}`];
  const r = await runMuster(['members', ...addr]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.toString().trimEnd().split('\n');
  t.match(lines[0] ?? '', /^Node\s+Address\s+Status\s+Type\s+Build\s+Protocol\s+DC\s+Segment$/);
  t.match(lines[1] ?? '', new RegExp(`^${agent.node}\\s+127\\.0\\.0\\.1:\\d+\\s+alive\\s+server\\s+\\S+\\s+2\\s+dc1\\s+<all>$`));

  const detailed = await runMuster(['members', '-detailed', ...addr]);
  t.match(detailed.stdout.toString(), /role=consul/);
  t.match(detailed.stdout.toString(), /dc=dc1/);

  const none = await runMuster(['members', '-status', 'failed', ...addr]);
  t.equal(none.code, 2, 'no member matches: exit 2, as Consul');
  const bad = await runMuster(['members', '-status', '(', ...addr]);
  t.equal(bad.code, 2, 'a bad regexp is a usage error');
});

t.test('muster members against an agent that is not there fails with one line', async (t) => {
  const r = await runMuster(['members', '-http-addr', '127.0.0.1:1']);
  t.equal(r.code, 1);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.match(r.stderr, /^muster: /);
});

t.test('keygen prints 32 random bytes in base64', async (t) => {
  const a = await runMuster(['keygen']);
  const b = await runMuster(['keygen']);
  const key = a.stdout.toString().trim();
  t.equal(Buffer.from(key, 'base64').length, 32);
  t.equal(key.length, 44);
  t.not(key, b.stdout.toString().trim());
});

t.test('columnize pads every column but the last by two spaces', async (t) => {
  t.equal(columnize([['a', 'bb', 'c'], ['ccc', 'd', 'e']]), 'a    bb  c\nccc  d   e\n');
});
