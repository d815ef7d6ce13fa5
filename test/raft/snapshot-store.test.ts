import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { KEEP, SnapshotStore } from '../../src/raft/snapshot-store.js';
import type { SnapshotMeta } from '../../src/raft/types.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'muster-snap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'snap');
}

const meta = (index: number, term: number): SnapshotMeta => ({ index, term, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } });
const data = (index: number): Uint8Array => new Uint8Array(1000 + index).map((_, i) => (i * 31 + index) % 256);

async function store(dir: string): Promise<{ snaps: SnapshotStore; warnings: string[] }> {
  const warnings: string[] = [];
  const snaps = await SnapshotStore.open(dir, { warn: (m) => warnings.push(m) });
  return { snaps, warnings };
}

const files = (dir: string): string[] => readdirSync(dir).sort();

t.test('an empty store has no snapshot', async (t) => {
  const dir = tempDir(t);
  const { snaps, warnings } = await store(dir);
  t.equal(await snaps.loadNewest(), undefined);
  t.same(files(dir), []);
  t.same(warnings, []);
});

t.test('save then load round trips, also after reopening', async (t) => {
  const dir = tempDir(t);
  const { snaps } = await store(dir);
  await snaps.save(meta(10, 2), data(10));
  t.same(files(dir), ['snap-0000000000000002-0000000000000010.snap'], 'no .tmp left behind');
  t.same(await snaps.loadNewest(), { meta: meta(10, 2), data: data(10) });
  const reopened = await store(dir);
  t.same(await reopened.snaps.loadNewest(), { meta: meta(10, 2), data: data(10) });
  t.same(reopened.warnings, []);
});

t.test(`keeps only the newest ${KEEP}`, async (t) => {
  const dir = tempDir(t);
  const { snaps } = await store(dir);
  await Promise.all([snaps.save(meta(5, 1), data(5)), snaps.save(meta(20, 2), data(20)), snaps.save(meta(12, 2), data(12))]);
  t.same(files(dir), ['snap-0000000000000002-0000000000000012.snap', 'snap-0000000000000002-0000000000000020.snap']);
  t.same((await snaps.loadNewest())?.meta, meta(20, 2));
});

t.test('a corrupt newest snapshot is skipped with a warning, not deleted', async (t) => {
  const damages: [string, (path: string) => void][] = [
    ['a flipped data byte', (p) => { const b = readFileSync(p); b[b.length - 7] = (b[b.length - 7] as number) ^ 1; writeFileSync(p, b); }],
    ['a flipped header byte', (p) => { const b = readFileSync(p); b[12] = (b[12] as number) ^ 1; writeFileSync(p, b); }],
    ['truncated', (p) => truncateSync(p, 100)],
    ['empty', (p) => truncateSync(p, 0)],
    ['a directory in its place', (p) => { rmSync(p); mkdirSync(p); }],
  ];
  for (const [name, damage] of damages) {
    t.test(name, async (t) => {
      const dir = tempDir(t);
      const { snaps, warnings } = await store(dir);
      await snaps.save(meta(10, 1), data(10));
      await snaps.save(meta(20, 1), data(20));
      const newest = join(dir, 'snap-0000000000000001-0000000000000020.snap');
      damage(newest);
      t.same(await snaps.loadNewest(), { meta: meta(10, 1), data: data(10) }, 'falls back to the older one');
      t.equal(warnings.length, 1);
      t.match(warnings[0], newest, 'the warning names the file');
      t.ok(existsSync(newest), 'the corrupt file is kept for inspection');
    });
  }
  t.test('a file whose content does not match its name', async (t) => {
    const dir = tempDir(t);
    const { snaps, warnings } = await store(dir);
    await snaps.save(meta(10, 1), data(10));
    await snaps.save(meta(20, 1), data(20));
    writeFileSync(join(dir, 'snap-0000000000000001-0000000000000030.snap'), readFileSync(join(dir, 'snap-0000000000000001-0000000000000010.snap')));
    t.same((await snaps.loadNewest())?.meta, meta(20, 1));
    t.match(warnings, [/not what its name says/]);
  });
  t.test('none readable', async (t) => {
    const dir = tempDir(t);
    const { snaps, warnings } = await store(dir);
    await snaps.save(meta(10, 1), data(10));
    truncateSync(join(dir, 'snap-0000000000000001-0000000000000010.snap'), 10);
    t.equal(await snaps.loadNewest(), undefined);
    t.equal(warnings.length, 1);
  });
});

t.test('leftover .tmp files are removed on open', async (t) => {
  const dir = tempDir(t);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'snap-0000000000000001-0000000000000007.tmp'), 'half a snapshot');
  writeFileSync(join(dir, 'other.txt'), 'not ours');
  const { snaps, warnings } = await store(dir);
  t.same(files(dir), ['other.txt']);
  t.match(warnings, [/removed leftover .*snap-0000000000000001-0000000000000007\.tmp/]);
  t.equal(await snaps.loadNewest(), undefined);
});
