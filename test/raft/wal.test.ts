import { appendFileSync, closeSync, mkdirSync, openSync, writeSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { encodeBatch, encodeMarker, scanRecords } from '../../src/raft/wal/record.js';
import { Wal, WalCorruptError, type WalOptions } from '../../src/raft/wal/wal.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { tmpfsDir } from '../helpers/tmpfs.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'muster-wal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'wal');
}

function ents(from: number, to: number, term = 1, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: i % 5 === 0 ? 'conf' : 'normal', data: new Uint8Array(size).fill(i % 256) });
  return out;
}

const hs = (term: number, commit: number, vote = 'n1'): HardState => ({ term, vote, commit });

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
}

/** Opens, runs `fn`, closes; the warnings are collected. */
async function withWal(dir: string, opts: WalOptions, fn?: (wal: Wal) => Promise<void>) {
  const warnings: string[] = [];
  const { wal, recovered } = await Wal.open(dir, { ...opts, warn: (m) => warnings.push(m) });
  if (fn) await fn(wal);
  await wal.close();
  return { recovered, warnings };
}

t.test('a new WAL is empty and has one segment', async (t) => {
  const dir = tempDir(t);
  const { recovered, warnings } = await withWal(dir, {});
  t.same(recovered, { hardState: { term: 0, vote: '', commit: 0 }, snapshot: undefined, entries: [] });
  t.same(segments(dir), ['0000000000000001-0000000000000001.wal']);
  t.same(warnings, []);
});

t.test('reopen after save recovers exactly', async (t) => {
  const dir = tempDir(t);
  const syncs: string[] = [];
  const opts: WalOptions = { preallocateBytes: 0, sync: async (fh) => { syncs.push('sync'); await fh.sync(); } };
  await withWal(dir, opts, async (wal) => {
    syncs.length = 0;
    await wal.save(hs(1, 0), ents(1, 3), true);
    t.equal(syncs.length, 1, 'one fsync for a synced save');
    await wal.save(undefined, ents(4, 6), false);
    t.equal(syncs.length, 1, 'no fsync for an unsynced save');
    await wal.save(hs(2, 5, 'n2'), [], true);
    t.equal(syncs.length, 2);
  });
  const { recovered } = await withWal(dir, opts);
  t.same(recovered.entries, ents(1, 6));
  t.same(recovered.hardState, hs(2, 5, 'n2'));
  t.equal(recovered.snapshot, undefined);
});

t.test('saves fired without awaiting run in call order', async (t) => {
  const dir = tempDir(t);
  await withWal(dir, {}, async (wal) => {
    const pending: Promise<void>[] = [];
    for (let i = 1; i <= 50; i++) pending.push(wal.save(hs(1, i - 1), ents(i, i), i % 7 === 0));
    await Promise.all(pending);
  });
  const { recovered } = await withWal(dir, {});
  t.same(recovered.entries, ents(1, 50));
  t.same(recovered.hardState, hs(1, 49));
});

t.test('an entry at or below the last index overwrites the suffix', async (t) => {
  const dir = tempDir(t);
  await withWal(dir, { segmentBytes: 200 }, async (wal) => {
    await wal.save(hs(1, 3), ents(1, 20), true);
    await wal.save(hs(1, 3), ents(1, 5), true); // into a new segment
    await wal.save(hs(2, 3), ents(6, 8, 2), true);
    await wal.save(undefined, ents(4, 4, 3), true);
  });
  t.ok(segments(dir).length > 1, 'the overwrite landed in a later segment');
  const { recovered } = await withWal(dir, {});
  t.same(recovered.entries, [...ents(1, 3), ...ents(4, 4, 3)]);
  t.same(recovered.hardState, hs(2, 3));
});

t.test('a snapshot marker drops the entries at or before it', async (t) => {
  t.test('behind the last entry (compaction)', async (t) => {
    const dir = tempDir(t);
    await withWal(dir, {}, async (wal) => {
      await wal.save(hs(1, 10), ents(1, 10), true);
      await wal.saveSnapshotMarker(6, 1);
      await wal.save(undefined, ents(11, 12), true);
    });
    const { recovered } = await withWal(dir, {});
    t.same(recovered.snapshot, { index: 6, term: 1 });
    t.same(recovered.entries, ents(7, 12));
  });
  t.test('past the last entry (a follower receiving a snapshot)', async (t) => {
    const dir = tempDir(t);
    await withWal(dir, {}, async (wal) => {
      await wal.save(hs(1, 2), ents(1, 3), true);
      await wal.saveSnapshotMarker(100, 4);
      await wal.save(hs(4, 100), ents(101, 102, 4), true);
    });
    const { recovered } = await withWal(dir, {});
    t.same(recovered.snapshot, { index: 100, term: 4 });
    t.same(recovered.entries, ents(101, 102, 4));
  });
  t.test('entries that would break the log are refused, and the WAL stays usable', async (t) => {
    const dir = tempDir(t);
    await withWal(dir, {}, async (wal) => {
      await wal.save(undefined, ents(1, 10), true);
      await wal.saveSnapshotMarker(5, 1);
      await t.rejects(wal.save(undefined, ents(5, 6), true), /at or before the snapshot marker 5/);
      await t.rejects(wal.save(undefined, ents(12, 12), true), /gap after 10/);
      await t.rejects(wal.save(undefined, [...ents(11, 11), ...ents(13, 13)], true), /not contiguous/);
      await t.rejects(wal.saveSnapshotMarker(4, 1), /behind the current one/);
      await wal.save(undefined, ents(11, 11), true);
    });
    const { recovered } = await withWal(dir, {});
    t.same(recovered.entries, ents(6, 11));
  });
});

t.test('releaseTo deletes whole segments behind the snapshot marker', async (t) => {
  const dir = tempDir(t);
  const opts = { segmentBytes: 100 };
  await withWal(dir, opts, async (wal) => {
    await wal.save(hs(3, 0, 'n3'), [], true); // the only hard-state record; it lives in the first segment
    for (let i = 1; i <= 60; i++) await wal.save(undefined, ents(i, i), false);
    t.ok(segments(dir).length >= 10, `many segments (${segments(dir).length})`);
    const unreleased = segments(dir);
    await wal.releaseTo(30);
    t.same(segments(dir), unreleased, 'nothing released without a snapshot marker');
    await wal.saveSnapshotMarker(30, 1);
    const before = segments(dir);
    const contents = new Map(before.map((f) => [f, readFileSync(join(dir, f))]));
    await wal.releaseTo(45); // capped at the marker
    const after = segments(dir);
    t.ok(after.length < before.length, `segments deleted (${before.length} -> ${after.length})`);
    t.same(after, before.slice(before.length - after.length), 'only a prefix was deleted, no hole');
    const entryIndexes = (file: string) => scanRecords(contents.get(file) as Buffer).records.filter((r) => r.type === 1).map((r) => r.payload[0] as number);
    t.ok(entryIndexes(after[0] as string).includes(31), 'the segment holding marker+1 is kept');
    t.ok(Math.max(...entryIndexes(before[before.length - after.length - 1] as string)) <= 30, 'the one before it held only entries <= 30');
  });
  const { recovered } = await withWal(dir, opts);
  t.same(recovered.entries, ents(31, 60));
  t.same(recovered.snapshot, { index: 30, term: 1 });
  t.same(recovered.hardState, hs(3, 0, 'n3'), 'the hard state survived its segment');
});

t.test('segment rollover never splits a record, and fsyncs the directory', async (t) => {
  const dir = tempDir(t);
  let syncs = 0;
  await withWal(dir, { segmentBytes: 64, sync: async (fh) => { syncs++; await fh.sync(); } }, async (wal) => {
    syncs = 0;
    for (let i = 1; i <= 40; i += 4) await wal.save(hs(1, i), ents(i, i + 3, 1, 20), true);
  });
  const files = segments(dir);
  t.ok(files.length > 5);
  t.equal(syncs, 10 + (files.length - 1), 'one fsync per save, plus the directory for each new segment');
  for (const f of files) t.equal(scanRecords(readFileSync(join(dir, f))).bad, undefined, `${f} parses whole`);
  const { recovered } = await withWal(dir, {});
  t.same(recovered.entries, ents(1, 40, 1, 20));
});

/** Ten entries in one segment; returns the segment's path. */
async function tenEntries(dir: string, opts: WalOptions = {}): Promise<string> {
  await withWal(dir, opts, (wal) => wal.save(hs(1, 9), ents(1, 10), true));
  return join(dir, segments(dir)[0] as string);
}

/** Where a segment's records end (its length, unless zero-filled ahead). */
const recordsEnd = (path: string) => scanRecords(readFileSync(path)).end;

/** Writes `bytes` into a file at `offset`, extending it if need be. */
function writeAt(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

t.test('a segment is zero-filled ahead of its writes, and the zeros read back as its end', async (t) => {
  const dir = tempDir(t);
  const path = await tenEntries(dir, { preallocateBytes: 4096 });
  const end = recordsEnd(path);
  t.ok(end > 0 && end < 4096, 'the records fit the first step');
  t.equal(statSync(path).size, 4096, 'the file was filled to one step');
  const again = await withWal(dir, { preallocateBytes: 4096 }, (wal) => wal.save(hs(2, 11), ents(11, 12, 2), true));
  t.same(again.warnings, [], 'no torn tail is reported');
  t.same(again.recovered.entries, ents(1, 10));
  t.equal(statSync(path).size, 4096, 'the next write went into the zeros');
  const big = ents(13, 13, 2, 6000);
  await withWal(dir, { preallocateBytes: 4096 }, (wal) => wal.save(undefined, big, true));
  t.equal(statSync(path).size, 12288, 'a write past the end grows the file by whole steps (to 8 KiB), and with less than half a step left the next one is filled ahead (12 KiB)');
  const last = await withWal(dir, {});
  t.same(last.warnings, []);
  t.same(last.recovered.entries, [...ents(1, 10), ...ents(11, 12, 2), ...big]);
});

t.test('zero-filling runs ahead of the writes while they go on, and everything reads back', async (t) => {
  const dir = tempDir(t);
  const opts: WalOptions = { preallocateBytes: 4096, segmentBytes: 32 * 1024 };
  let ahead = 0;
  await withWal(dir, opts, async (wal) => {
    const fired: Promise<void>[] = [];
    for (let i = 1; i <= 600; i++) {
      const save = wal.save(hs(1, i - 1), ents(i, i, 1, 120), true);
      if (i % 3 === 0) {
        await save;
        const path = join(dir, segments(dir).at(-1) as string);
        if (statSync(path).size > recordsEnd(path)) ahead++;
      } else fired.push(save);
    }
    await Promise.all(fired);
  });
  t.ok(ahead > 150, `the file was longer than its records after most writes (${ahead} of 200)`);
  const files = segments(dir);
  t.ok(files.length >= 2, `the log rolled over into ${files.length} segments`);
  const { recovered, warnings } = await withWal(dir, opts);
  t.same(warnings, [], 'no torn tail');
  t.same(recovered.entries, ents(1, 600, 1, 120), 'every entry, in order');
  t.same(recovered.hardState, hs(1, 599));
});

t.test('a small append is on disk when save() returns; larger or pooled ones go through the thread pool', async (t) => {
  const dir = tempDir(t);
  await withWal(dir, { preallocateBytes: 64 * 1024 }, async (wal) => {
    await wal.save(hs(1, 0), ents(1, 1), true); // the first one waits for the first zero-fill
    const path = join(dir, segments(dir)[0] as string);
    const before = recordsEnd(path);
    const saving = wal.save(hs(1, 1), ents(2, 2), true);
    t.ok(recordsEnd(path) > before, 'the record was written before save() returned (inline, on this thread)');
    await saving;
    await wal.save(hs(1, 2), ents(3, 3, 1, 300 * 1024), true);
    t.ok(recordsEnd(path) > 300 * 1024, 'a 300 KiB append (over the 256 KiB inline limit) was written too');
  });
  const { recovered, warnings } = await withWal(dir, {});
  t.same(warnings, []);
  t.same(recovered.entries, [...ents(1, 2), ...ents(3, 3, 1, 300 * 1024)]);

  const pooled = tempDir(t);
  await withWal(pooled, { inlineWriteBytes: 0 }, async (wal) => {
    const fired = [];
    for (let i = 1; i <= 50; i++) fired.push(wal.save(hs(1, i - 1), ents(i, i), true));
    await Promise.all(fired);
  });
  t.same((await withWal(pooled, {})).recovered.entries, ents(1, 50), 'with inlineWriteBytes 0 every write goes through the pool, in order');
  const asked = tempDir(t);
  await withWal(asked, {}, async (wal) => {
    const fired = [];
    for (let i = 1; i <= 50; i++) fired.push(wal.save(hs(1, i - 1), ents(i, i), true, i % 2 === 0));
    await Promise.all(fired);
  });
  t.same((await withWal(asked, {})).recovered.entries, ents(1, 50), 'pooled and inline saves mixed keep their order');
  await t.rejects(Wal.open(tempDir(t), { inlineWriteBytes: -1 }), /inlineWriteBytes must be a non-negative integer/);
});

t.test('a full segment is trimmed to its records before the next one starts', async (t) => {
  const dir = tempDir(t);
  await withWal(dir, { segmentBytes: 3000, preallocateBytes: 1024 }, async (wal) => {
    for (let i = 1; i <= 40; i++) await wal.save(hs(1, i), ents(i, i, 1, 100), true);
  });
  const files = segments(dir);
  t.ok(files.length >= 2, `${files.length} segments`);
  for (const f of files.slice(0, -1)) {
    const path = join(dir, f);
    t.equal(statSync(path).size, recordsEnd(path), `${f} ends with its last record`);
  }
  const { recovered, warnings } = await withWal(dir, {});
  t.same(warnings, []);
  t.same(recovered.entries, ents(1, 40, 1, 100));
});

t.test('zeros after a segment that is not the last are corruption', async (t) => {
  const dir = tempDir(t);
  await withWal(dir, { segmentBytes: 100, preallocateBytes: 0 }, async (wal) => {
    for (let i = 1; i <= 20; i++) await wal.save(undefined, ents(i, i), true);
  });
  const path = join(dir, segments(dir)[0] as string);
  appendFileSync(path, Buffer.alloc(64));
  await t.rejects(Wal.open(dir), { name: 'WalCorruptError', message: /not the last/ });
});

t.test('a torn tail is truncated with a warning, and the WAL stays usable', async (t) => {
  const garbage = Buffer.from('\xde\xad\xbe\xef\x01\x02\x03\x04garbage', 'latin1');
  const tears: [string, WalOptions, (path: string) => void][] = [
    ['cut short by a few bytes', { preallocateBytes: 0 }, (p) => truncateSync(p, recordsEnd(p) - 3)],
    ['cut short inside preallocated space', {}, (p) => writeAt(p, recordsEnd(p) - 3, Buffer.alloc(3))],
    ['garbage appended', { preallocateBytes: 0 }, (p) => appendFileSync(p, garbage)],
    ['garbage in preallocated space', {}, (p) => writeAt(p, recordsEnd(p), garbage)],
    ['garbage deep in preallocated space', {}, (p) => writeAt(p, recordsEnd(p) + 1000, garbage)],
  ];
  for (const [name, opts, tear] of tears) {
    t.test(name, async (t) => {
      const dir = tempDir(t);
      const path = await tenEntries(dir, opts);
      const goodSize = recordsEnd(path);
      tear(path);
      const first = await withWal(dir, opts, (wal) => wal.save(hs(2, 11), ents(11, 12, 2), true));
      t.equal(first.warnings.length, 1);
      t.match(first.warnings[0], path, 'the warning names the file');
      t.match(first.warnings[0], /torn tail .* at offset \d+/);
      // Cut short: the hard-state record (the last one) is lost; otherwise nothing is.
      const lost = name.startsWith('cut') ? 1 : 0;
      t.equal(first.recovered.entries.length, 10);
      t.same(first.recovered.hardState, lost ? { term: 0, vote: '', commit: 0 } : hs(1, 9));
      if (!lost) t.match(first.warnings[0], `offset ${goodSize}`);
      const again = await withWal(dir, opts);
      t.same(again.warnings, [], 'reopens cleanly');
      t.same(again.recovered.entries, [...ents(1, 10), ...ents(11, 12, 2)]);
      t.same(again.recovered.hardState, hs(2, 11));
    });
  }
});

t.test('corruption is refused, naming the file and offset', async (t) => {
  t.test('a flipped byte in a middle record', async (t) => {
    const dir = tempDir(t);
    const path = await tenEntries(dir);
    const buf = readFileSync(path);
    const offset = scanRecords(buf).records[4]?.offset as number;
    buf[offset + 12] = (buf[offset + 12] as number) ^ 0x40;
    writeFileSync(path, buf);
    const err = await Wal.open(dir).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof WalCorruptError, 'rejects with WalCorruptError');
    t.match((err as Error).message, path, 'names the file');
    t.match((err as Error).message, `at offset ${offset}: CRC mismatch, with a valid record after it`, 'names the offset');
    t.match((err as Error).message, 'the log is corrupt');
    t.same(readFileSync(path), buf, 'the file is left alone');
  });
  t.test('a torn record in a segment that is not the last', async (t) => {
    const dir = tempDir(t);
    await withWal(dir, { segmentBytes: 100 }, async (wal) => {
      for (let i = 1; i <= 20; i++) await wal.save(undefined, ents(i, i), true);
    });
    const path = join(dir, segments(dir)[1] as string);
    truncateSync(path, statSync(path).size - 2);
    await t.rejects(Wal.open(dir), { name: 'WalCorruptError', message: new RegExp(`${path} at offset \\d+: .*not the last.*log is corrupt`) });
  });
  t.test('a missing segment in the middle', async (t) => {
    const dir = tempDir(t);
    await withWal(dir, { segmentBytes: 100 }, async (wal) => {
      for (let i = 1; i <= 20; i++) await wal.save(undefined, ents(i, i), true);
    });
    unlinkSync(join(dir, segments(dir)[2] as string));
    await t.rejects(Wal.open(dir), { name: 'WalCorruptError', message: /segment 3 is missing/ });
  });
});

t.test('replay: a gap in the log must be covered by a snapshot marker', async (t) => {
  const write = (dir: string, ...parts: Buffer[]) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0000000000000001-0000000000000001.wal'), Buffer.concat(parts));
  };
  const bare = tempDir(t);
  write(bare, encodeBatch(ents(1, 3), undefined), encodeBatch(ents(6, 7), undefined));
  await t.rejects(Wal.open(bare), { name: 'WalCorruptError', message: /entries up to 5 are missing/ });
  const covered = tempDir(t);
  write(covered, encodeBatch(ents(1, 3), undefined), encodeMarker({ index: 5, term: 1 }), encodeBatch(ents(6, 7), undefined));
  t.same((await withWal(covered, {})).recovered.entries, ents(6, 7));
  const late = tempDir(t);
  write(late, encodeBatch(ents(8, 9), undefined), encodeMarker({ index: 5, term: 1 }));
  await t.rejects(Wal.open(late), { name: 'WalCorruptError', message: /entries 6\.\.7 after the snapshot marker are missing/ });
});

t.test('after an I/O error the WAL refuses further calls', async (t) => {
  const dir = tempDir(t);
  let fail = false;
  const { wal } = await Wal.open(dir, { sync: async (fh) => { if (fail) throw new Error('EIO: disk on fire'); await fh.sync(); } });
  await wal.save(undefined, ents(1, 1), true);
  fail = true;
  await t.rejects(wal.save(undefined, ents(2, 2), true), /disk on fire/);
  fail = false;
  await t.rejects(wal.save(undefined, ents(2, 2), true), /unusable after an earlier I\/O error/);
  await wal.close();
});

t.test('a closed WAL refuses calls', async (t) => {
  const dir = tempDir(t);
  const { wal } = await Wal.open(dir);
  await wal.close();
  await t.rejects(wal.save(undefined, ents(1, 1), true), /is closed/);
  await t.rejects(wal.releaseTo(1), /is closed/);
});

t.test('calls made without awaiting keep their order around close', async (t) => {
  const dir = tempDir(t);
  const { wal } = await Wal.open(dir);
  const first = wal.save(hs(1, 0), ents(1, 2), true); // starts at once: the WAL is idle
  const closing = wal.close();
  const late = wal.save(undefined, ents(3, 3), true);
  await first;
  await closing;
  await t.rejects(late, /is closed/, 'a save after close is refused even before close finished');
  const { recovered } = await withWal(dir, {});
  t.same(recovered.entries, ents(1, 2), 'the save before close is there');
});

t.test('out of space for preallocation, appends go on in the room left, and a full disk fails the write', async (t) => {
  const mnt = tmpfsDir(t, 'muster-wal-full-', '256k');
  if (mnt === undefined) return;
  const dir = join(mnt, 'wal');
  const warnings: string[] = [];
  // a 1 MiB step cannot fit in 256 KiB: the WAL appends without it
  const { wal } = await Wal.open(dir, { warn: (m) => warnings.push(m) });
  let acked = 0;
  let failure: unknown;
  for (let i = 1; i <= 100 && failure === undefined; i++) {
    try {
      await wal.save(hs(1, i - 1), ents(i, i, 1, 8 * 1024), true);
      acked = i;
    } catch (err) {
      failure = err;
    }
  }
  await wal.close().catch(() => undefined);
  t.match(warnings.join('\n'), /no space to preallocate/, 'the skipped preallocation is logged');
  t.ok(acked >= 20, `appends went on in the room left (${acked} acknowledged)`);
  t.match(String(failure), /ENOSPC/, 'a write that does not fit fails with ENOSPC');
  spawnSync('mount', ['-o', 'remount,size=4m', mnt]);
  const again = await withWal(dir, {});
  t.same(again.recovered.entries, ents(1, acked, 1, 8 * 1024), 'every acknowledged entry is there');
});
