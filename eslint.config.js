// Lint rules that the type checker does not cover: no floating promises, and
// determinism in the pure cores (state/, docker/services and its helpers,
// later raft/ and gossip/), which get clock, timers and randomness injected.
import tseslint from 'typescript-eslint';

const deterministic = {
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'inject a Clock' },
    { object: 'Math', property: 'random', message: 'inject an Rng' },
    { object: 'crypto', property: 'randomUUID', message: 'inject an Rng' },
  ],
  'no-restricted-globals': ['error',
    { name: 'setTimeout', message: 'inject Timers' },
    { name: 'setInterval', message: 'inject Timers' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js', 'scripts/**'] },
  {
    // tests are left out: tap's top-level t.test() calls are meant to float
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/state/**/*.ts', 'src/raft/**/*.ts', 'src/gossip/**/*.ts', 'src/docker/services.ts',
      'src/docker/metadata.ts', 'src/docker/address.ts', 'src/docker/checks.ts', 'src/docker/template*.ts',
      'src/dns/query-name.ts', 'src/dns/answer.ts', 'src/dns/message.ts', 'src/dns/ttl.ts'],
    // the Raft runtime owns the timers and files that drive the pure core
    ignores: ['src/raft/node.ts', 'src/raft/wal/**', 'src/raft/snapshot-store.ts'],
    rules: deterministic,
  },
);
