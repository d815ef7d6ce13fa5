#!/usr/bin/env node
// The test runner behind `npm test`.
//
//   npm test                                  every test/**/*.test.ts
//   npm test -- test/docker/services.test.ts  some files (or folders) under test/
//   npm test -- test/state --grep=kv          arguments starting with '-' go to tap
//
// 1. Compiles src/ and test/ with `tsc -p tsconfig.json` into dist/, then the web
//    UI's browser code with `tsc -p src/ui/tsconfig.json` into dist/ui/.
// 2. Runs tap on the compiled dist/test/**/*.test.js with the raw TAP reporter,
//    copying that stream to stdout (readable, greppable, complete in CI logs) and
//    parsing it at the same time.
// 3. Counts leaf subtests: a `t.test` with no subtests of its own is one result
//    (passed, failed, or skipped/todo). A test that fails without any failing
//    subtest (a failed assertion outside its subtests, a crash, a timeout, a file
//    that does not load) counts as one failure. Then it lists each failure with its
//    diagnostics and prints, as the last line, `N passed, N failed[, N skipped]`.
// Exit status is non-zero iff something failed.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

const TAP_OPTIONS = [
  '--reporter=tap', // raw TAP on stdout: parsed here, readable as is
  '--disable-coverage',
  '--allow-empty-coverage',
  '--timeout=600', // per file; Docker and cluster tests are slow, never hung
  '--jobs=2',
];
// Test containers older than this are leftovers of a dead run (a live run's are younger).
const STRAY_CONTAINER_AGE_MS = 60 * 60 * 1000;

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  },
);

async function main() {
  const args = process.argv.slice(2);
  const tapArgs = args.filter((a) => a.startsWith('-'));
  const paths = args.filter((a) => !a.startsWith('-'));

  if (!compile()) return finish({ passed: 0, failed: 1, skipped: 0 });

  let sources;
  try {
    sources = selectTestSources(paths);
  } catch (err) {
    console.error(`test: ${err.message}`);
    return finish({ passed: 0, failed: 1, skipped: 0 });
  }
  if (sources.length === 0) {
    console.log(`test: no test files${paths.length ? ` under ${paths.join(', ')}` : ''}`);
    return finish({ passed: 0, failed: 0, skipped: 0 });
  }
  const files = sources.map(toDist);
  const missing = files.filter((f) => !existsSync(join(root, f)));
  if (missing.length) {
    console.error(`test: tsc did not emit ${missing.join(', ')}`);
    return finish({ passed: 0, failed: missing.length, skipped: 0 });
  }

  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await cleanTestContainers({ olderThanMs: STRAY_CONTAINER_AGE_MS }, 'stray');

  const { tree, exitCode, signal, bailout } = await runTap(files, tapArgs, runId);

  await cleanTestContainers({ run: runId }, 'leftover');

  const tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const child of tree.children) count(child, [], false, tally);
  for (const a of tree.asserts) {
    // With --jobs>1 tap drops a timed-out file's buffered output and reports only 'timeout!'.
    const expired = typeof a.diag?.expired === 'string' ? a.diag.expired : null;
    if (!a.ok && !a.skip && !a.todo) addFailure(tally, expired ? [expired, a.name] : [a.name], { asserts: [a], result: a });
  }
  if (bailout !== null) addFailure(tally, ['tap'], { note: `bailed out: ${bailout || '(no reason)'}` });
  if (tally.failed === 0 && (exitCode !== 0 || signal)) {
    addFailure(tally, ['tap'], { note: `tap exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}` });
  }
  if (tally.passed + tally.failed + tally.skipped === 0 && files.length > 0) {
    addFailure(tally, ['tap'], { note: 'tap reported no results' });
  }
  printFailures(tally.failures);
  return finish(tally);
}

function finish({ passed, failed, skipped }) {
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 ? 1 : 0;
}

// ---- 1. compile -----------------------------------------------------------

function compile() {
  const tsc = require.resolve('typescript/bin/tsc');
  const run = () => spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
  console.log('test: tsc -p tsconfig.json');
  let r = run();
  // An incremental build trusts dist/.tsbuildinfo; if dist/ lost files behind its
  // back nothing is re-emitted. Rebuild from scratch when a test file is missing.
  if (r.status === 0 && listTestSources('test').some((s) => !existsSync(join(root, toDist(s))))) {
    rmSync(join(root, 'dist', '.tsbuildinfo'), { force: true });
    r = run();
  }
  // the web UI's browser code (DOM types) has its own tsconfig, built into dist/ui/ as `npm run build` does
  if (r.status === 0) {
    console.log('test: tsc -p src/ui/tsconfig.json');
    if (!existsSync(join(root, 'dist', 'ui', 'main.js'))) rmSync(join(root, 'dist', '.tsbuildinfo-ui'), { force: true });
    r = spawnSync(process.execPath, [tsc, '-p', 'src/ui/tsconfig.json'], { cwd: root, encoding: 'utf8' });
  }
  if (r.status !== 0) {
    process.stdout.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    if (r.error) console.error(r.error.message);
    console.log('test: compilation failed');
    return false;
  }
  return true;
}

// ---- 2. select and run ----------------------------------------------------

/** test/**\/*.test.ts selected by the arguments (files or folders, under test/ or dist/test/). */
function selectTestSources(paths) {
  if (paths.length === 0) return listTestSources('test');
  const out = new Set();
  for (const p of paths) {
    let rel = relative(root, resolve(process.cwd(), p)).split(sep).join('/');
    if (rel.startsWith('dist/test/') || rel === 'dist/test') rel = rel.slice('dist/'.length).replace(/\.js$/, '.ts');
    if (!(rel === 'test' || rel.startsWith('test/'))) throw new Error(`${p} is not under test/`);
    const abs = join(root, rel);
    if (existsSync(abs) && statSync(abs).isDirectory()) {
      for (const s of listTestSources(rel)) out.add(s);
    } else if (/\.test\.ts$/.test(rel) && existsSync(abs)) {
      out.add(rel);
    } else {
      throw new Error(`no test file ${p} (expected test/**/*.test.ts or a folder)`);
    }
  }
  return [...out].sort();
}

function listTestSources(dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && e.name.endsWith('.test.ts')) out.push(r);
    }
  };
  if (existsSync(join(root, dir))) walk(dir);
  return out.sort();
}

function toDist(source) {
  return `dist/${source.replace(/\.ts$/, '.js')}`;
}

async function runTap(files, extraArgs, runId) {
  const { Parser } = await import('tap-parser');
  const tapBin = join(dirname(require.resolve('tap/package.json')), 'dist/esm/run.mjs');
  const env = { ...process.env, MUSTER_TEST: '1', MUSTER_TEST_RUN: runId };
  delete env.TAP; // TAP=1 would make tap behave as a child test process

  const parser = new Parser();
  const tree = node('');
  attach(parser, tree);
  let bailout = null;
  parser.on('bailout', (reason) => {
    bailout = reason ?? '';
  });
  parser.on('complete', (final) => {
    tree.final = final;
  });

  console.log(`test: tap ${files.length} file(s), run ${runId}`);
  const child = spawn(process.execPath, [tapBin, ...TAP_OPTIONS, ...extraArgs, ...files], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    parser.write(chunk);
  });
  const [exitCode, signal] = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve([code, sig]));
  });
  parser.end();
  return { tree, exitCode, signal, bailout };
}

// ---- 3. count -------------------------------------------------------------

function node(name) {
  // children: subtests (with a body, or a bare skipped/todo test point);
  // asserts: plain test points directly in this test; result: its closing test point.
  return { name, children: [], asserts: [], result: null, extra: [] };
}

/** Mirrors the parser's subtest structure into `n`. */
function attach(parser, n) {
  const open = []; // subtests whose closing test point has not come yet, oldest first
  parser.on('child', (childParser) => {
    const c = node(childParser.name);
    n.children.push(c);
    open.push(c);
    attach(childParser, c);
  });
  parser.on('assert', (res) => {
    if (res.closingTestPoint && open.length) {
      open.shift().result = res;
    } else if (res.skip || res.todo) {
      // `t.test(name, { skip })`, `t.skip(name)`, `t.todo(name)`: a subtest without a body
      n.children.push({ ...node(res.name), result: res });
    } else {
      n.asserts.push(res);
    }
  });
  parser.on('extra', (line) => {
    if (n.extra.length < 50) n.extra.push(line);
  });
}

function count(n, path, inTodo, tally) {
  const res = n.result;
  // The `# Subtest:` name; the closing point's can differ (a timed-out file closes as 'timeout!').
  const name = n.name || res?.name || '(unnamed)';
  const here = [...path, name];
  const excused = inTodo || Boolean(res && (res.skip || res.todo));
  if (n.children.length === 0) {
    if (excused) tally.skipped++;
    else if (res?.ok) tally.passed++;
    else addFailure(tally, here, n);
    return;
  }
  const before = tally.failed;
  for (const c of n.children) count(c, here, excused, tally);
  const failedItself = !excused && !res?.ok;
  if (failedItself && tally.failed === before) addFailure(tally, here, n);
}

function addFailure(tally, path, n) {
  tally.failed++;
  tally.failures.push({ path, n });
}

// ---- report ---------------------------------------------------------------

function printFailures(failures) {
  if (failures.length === 0) return;
  const out = ['', `# ${failures.length} failure(s)`];
  for (const { path, n } of failures) {
    out.push('', `not ok - ${path.join(' > ')}`);
    if (n.note) out.push(`  ${n.note}`);
    const failedAsserts = (n.asserts ?? []).filter((a) => !a.ok && !a.skip && !a.todo);
    for (const a of failedAsserts) {
      if (a !== n.result) out.push(`  not ok - ${a.name}`);
      out.push(...yamlish(describe(a.diag), '    '));
    }
    if (failedAsserts.length === 0) {
      if (n.result === null && !n.note) out.push('  (no result: the test did not finish)');
      if (n.result?.diag) out.push(...yamlish(describe(n.result.diag), '    '));
      if (n.result && !n.result.diag && (n.children ?? []).length === 0 && !n.note) {
        out.push('  (failed without a failing assertion: plan or end not reached?)');
      }
    }
    const extra = (n.extra ?? []).map((l) => l.trimEnd()).filter(Boolean);
    if (extra.length) out.push('  output:', ...extra.map((l) => `    ${l}`));
  }
  console.log(out.join('\n'));
}

/** Drops diagnostics that only repeat the source location or the runner's command line. */
function describe(diag) {
  if (!diag || typeof diag !== 'object') return diag;
  const { at, command, args, cwd, stdio, jobId, externalID, ...rest } = diag;
  return rest;
}

function yamlish(value, indent) {
  const lines = [];
  const scalar = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  const walk = (v, pad) => {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' && x.includes('\n')) {
        lines.push(`${pad}${k}: |`, ...x.trimEnd().split('\n').map((l) => `${pad}  ${l}`));
      } else if (x && typeof x === 'object') {
        lines.push(`${pad}${k}:`);
        walk(x, `${pad}  `);
      } else {
        lines.push(`${pad}${k}: ${scalar(x)}`);
      }
    }
  };
  if (value && typeof value === 'object') walk(value, indent);
  else if (value !== undefined && value !== null) lines.push(`${indent}${scalar(value)}`);
  return lines;
}

// ---- docker leftovers -----------------------------------------------------

/** Removes test containers (label muster.test=1) matching `filter`, if an engine is there. */
async function cleanTestContainers(filter, what) {
  const helper = join(root, 'dist/test/helpers/docker.js');
  if (!existsSync(helper)) return;
  try {
    const { dockerSocketPath, removeStrayTestContainers } = await import(pathToFileURL(helper).href);
    const socketPath = dockerSocketPath();
    if (!existsSync(socketPath)) return;
    const { default: Docker } = await import('dockerode');
    const docker = new Docker({ socketPath, timeout: 10_000 });
    const removed = await removeStrayTestContainers(docker, filter);
    if (removed > 0) console.log(`test: removed ${removed} ${what} test container(s)`);
  } catch (err) {
    console.error(`test: could not clean ${what} test containers: ${err.message}`);
  }
}
