import t from 'tap';
import { ESLint } from 'eslint';
import { ROOT } from './helpers/agent.js';

// The house rules the type checker cannot see (floating promises, determinism
// of the pure cores, no console in src/) are enforced as a test, so CI fails on them.
t.test('eslint finds no problems in src/ and bench/', async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  const results = await eslint.lintFiles(['src/**/*.ts', 'bench/**/*.ts']);
  const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(ROOT.length + 1)}:${m.line}:${m.column} ${m.ruleId ?? ''} ${m.message}`));
  t.ok(results.length > 10, 'linted the sources');
  t.same(problems, [], 'no lint problems');
});
