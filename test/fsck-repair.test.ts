import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHashing } from '../core/hash.ts';
import { decodePack } from '../core/pack.ts';
import { dvx, dvxJson, dvxOk, git, workspace } from './support/cli.ts';
import { makePack } from './support/packs.ts';
import { deadPid } from './support/pids.ts';
import { seededBytes } from './support/prng.ts';

/**
 * `dvx fsck --repair` on damage that a disk or a stray command can do to the
 * local cache: its SQLite index, its Bloom filter, a pack's index area, a
 * pack's blobs. What is intact is kept, what is lost is named, and fsck says
 * how to get it back.
 */
function packFiles(ws: string): string[] {
  const dir = join(ws, '.dvx/cache/packs');
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)).map((f) => join(dir, sub, f)));
}

await loadHashing();

const cacheDir = (ws: string) => join(ws, '.dvx/cache');

/** Two tracked files, added together so their chunks share one pack. */
async function twoFiles(t: Parameters<typeof workspace>[0]): Promise<{ ws: string; f: Buffer; g: Buffer }> {
  const ws = await workspace(t);
  const f = seededBytes(21, 200_000);
  const g = seededBytes(22, 200_000);
  writeFileSync(join(ws, 'f'), f);
  writeFileSync(join(ws, 'g'), g);
  // Written a while ago, as data usually is: the stat cache then trusts what add records (a fresh mtime is "racy").
  const past = new Date(Date.now() - 3600_000);
  for (const name of ['f', 'g']) utimesSync(join(ws, name), past, past);
  await dvxOk(ws, ['add', '-q', 'f', 'g']);
  git(ws, ['commit', '-qm', 'data']);
  return { ws, f, g };
}

async function assertClean(ws: string): Promise<void> {
  const r = await dvx(ws, ['fsck', '--json']);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.problems.filter((p: any) => p.severity === 'damage'), [], r.stdout);
  assert.deepEqual(report.affected, []);
  assert.equal(r.code, 0, r.stderr);
}

async function assertRestores(ws: string, files: Record<string, Buffer>): Promise<void> {
  for (const name of Object.keys(files)) rmSync(join(ws, name), { force: true });
  await dvxOk(ws, ['checkout']);
  for (const [name, data] of Object.entries(files)) assert.deepEqual(readFileSync(join(ws, name)), data, name);
}

test('a damaged index.sqlite: every command names it and says to repair; fsck reports it; --repair moves it aside and rebuilds it from the packs', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  writeFileSync(join(cacheDir(ws), 'index.sqlite'), 'garbage\n');
  writeFileSync(join(ws, 'h'), 'new data');
  for (const args of [['status'], ['checkout'], ['add', 'h'], ['gc']]) {
    const r = await dvx(ws, args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /the cache index \S*\.dvx\/cache\/index\.sqlite is damaged \(file is not a database\)/, args.join(' '));
    assert.match(r.stderr, /dvx fsck --repair/, args.join(' '));
  }

  const check = await dvx(ws, ['fsck', '--json']);
  assert.equal(check.code, 1);
  const report = JSON.parse(check.stdout);
  assert.deepEqual(report.problems.map((p: any) => [p.kind, p.severity]), [['damaged_index', 'damage']]);
  assert.match(report.problems[0].object, /index\.sqlite$/);
  assert.deepEqual(report.affected, ['f', 'g']);
  const text = await dvx(ws, ['fsck']);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /DAMAGE: damaged index \S+index\.sqlite: file is not a database/);
  assert.match(text.stderr, /dvx fsck --repair/);

  const rep = await dvx(ws, ['fsck', '--repair']);
  assert.equal(rep.code, 0, rep.stdout + rep.stderr);
  const moved = /repaired: moved the damaged index to (\S+index\.sqlite\.damaged-\S+)/.exec(rep.stdout)?.[1];
  assert.ok(moved, rep.stdout);
  assert.equal(readFileSync(moved, 'utf8'), 'garbage\n', 'the damaged file is kept as it was');
  assert.match(rep.stdout, /repaired: indexed pack [0-9a-f]{64}/);
  assert.doesNotMatch(rep.stdout, /not in the cache/);
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('a damaged page inside index.sqlite is reported by the command that meets it, and repaired the same way', async (t) => {
  const ws = await workspace(t);
  // Enough chunks for the blob table to span many pages.
  const big = seededBytes(23, 8 << 20);
  writeFileSync(join(ws, 'big'), big);
  await dvxOk(ws, ['add', '-q', 'big']);
  const path = join(cacheDir(ws), 'index.sqlite');
  const db = readFileSync(path);
  const pageSize = db.readUInt16BE(16);
  assert.ok(db.length / pageSize > 8, `only ${db.length / pageSize} pages`);
  // Every page but the first (the header and schema): the tables' b-trees.
  db.fill(0x5a, pageSize);
  writeFileSync(path, db);
  rmSync(join(ws, 'big'));
  const co = await dvx(ws, ['checkout']);
  assert.equal(co.code, 1);
  assert.match(co.stderr, /the cache index \S*index\.sqlite is damaged \(database disk image is malformed\)/);
  assert.match(co.stderr, /dvx fsck --repair/);
  const check = await dvx(ws, ['fsck', '--json']);
  assert.equal(check.code, 1);
  assert.deepEqual(JSON.parse(check.stdout).problems.map((p: any) => p.kind), ['damaged_index']);
  await dvxOk(ws, ['fsck', '--repair']);
  await assertClean(ws);
  await assertRestores(ws, { big });
});

test('a damaged index.sqlite with garbage -wal and -shm beside it: --repair builds a sound index from the packs, nothing of the old one replayed', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const dir = cacheDir(ws);
  writeFileSync(join(dir, 'index.sqlite'), 'garbage\n');
  writeFileSync(join(dir, 'index.sqlite-wal'), seededBytes(24, 5000));
  writeFileSync(join(dir, 'index.sqlite-shm'), seededBytes(25, 32768));
  const rep = await dvxOk(ws, ['fsck', '--repair', '--json']);
  const moved = JSON.parse(rep.stdout).repair.movedIndex as string;
  assert.match(moved, /index\.sqlite\.damaged-/);
  assert.equal(readFileSync(moved, 'utf8'), 'garbage\n');
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('a garbage -wal beside a sound index is ignored by SQLite: nothing is lost and fsck finds nothing', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  writeFileSync(join(cacheDir(ws), 'index.sqlite-wal'), seededBytes(26, 5000));
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('a deleted index.sqlite: fsck says the index lacks packs and that --repair re-indexes them, not to pull', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  for (const n of readdirSync(cacheDir(ws))) if (n.startsWith('index.sqlite')) rmSync(join(cacheDir(ws), n));
  const r = await dvx(ws, ['fsck']);
  assert.doesNotMatch(r.stdout, /dvx pull/);
  assert.match(r.stdout, /the index does not list 1 pack on disk; `dvx fsck --repair` indexes it/);
  assert.match(r.stdout, /data in packs the index does not list \(`dvx fsck --repair` indexes them\): f, g/);
  const report = await dvxJson(ws, ['fsck']);
  assert.deepEqual(report.notInCache, []);
  assert.deepEqual(report.unindexed, ['f', 'g']);
  const rep = await dvxOk(ws, ['fsck', '--repair']);
  assert.doesNotMatch(rep.stdout, /not in the cache|packs the index does not list \(/);
  assert.match(rep.stdout, /repaired: indexed pack/);
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('a damaged Bloom filter: garbage is rebuilt silently; a filter that denies stored blobs is reported and rebuilt by --repair', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const bloom = join(cacheDir(ws), 'bloom.bin');
  writeFileSync(bloom, 'garbage');
  await dvxOk(ws, ['status']);
  await assertClean(ws);
  await dvxOk(ws, ['status']);
  // A well-formed header over cleared bits: every stored blob is denied.
  const bytes = readFileSync(bloom);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'DVXBLOOM');
  bytes.fill(0, 32);
  writeFileSync(bloom, bytes);
  const r = await dvx(ws, ['fsck', '--json']);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.problems.map((p: any) => p.kind), ['damaged_filter']);
  assert.deepEqual(report.notInCache, [], 'fsck itself does not trust the damaged filter');
  const rep = await dvxOk(ws, ['fsck', '--repair']);
  assert.match(rep.stdout, /repaired: rebuilt the Bloom filter/);
  await assertClean(ws);
  // Adding the same data again stores nothing: the filter knows every blob again.
  const packs = packFiles(ws).length;
  writeFileSync(join(ws, 'f2'), f);
  await dvxOk(ws, ['add', '-q', 'f2']);
  assert.equal(packFiles(ws).length, packs, 'no chunk stored twice');
  await assertRestores(ws, { f, g });
});

test('a pack whose trailer is cut off: fsck says its blobs are readable; --repair keeps every blob and checkout still works', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const [pack] = packFiles(ws);
  const id = pack!.slice(-64);
  const blobs = decodePack(readFileSync(pack!)).entries.length;
  truncateSync(pack!, statSync(pack!).size - 12);

  const check = await dvx(ws, ['fsck', '--json']);
  assert.equal(check.code, 1);
  const report = JSON.parse(check.stdout);
  assert.deepEqual(report.problems.map((p: any) => [p.kind, p.object]), [['damaged_pack', id]]);
  assert.deepEqual(report.affected, [], 'every blob still reads back intact');

  const rep = await dvx(ws, ['fsck', '--repair']);
  assert.equal(rep.code, 0, rep.stdout + rep.stderr);
  // The same blobs in the same order: the pack as it was, under its own id.
  assert.match(rep.stdout, new RegExp(`repaired: rewrote ${blobs} intact blobs of damaged pack ${id}, which is whole again\n`));
  assert.deepEqual(packFiles(ws), [pack]);
  assert.doesNotMatch(rep.stdout, /dropped|lost/);
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('a pack cut short inside its last blob: that blob is named as lost, every other one is salvaged', async (t) => {
  const { ws, f } = await twoFiles(t);
  const [pack] = packFiles(ws);
  const entries = decodePack(readFileSync(pack!)).entries;
  const last = entries[entries.length - 1]!;
  truncateSync(pack!, last.offset + last.length - 10);
  const check = JSON.parse((await dvx(ws, ['fsck', '--json'])).stdout);
  const cut = check.problems.find((p: any) => p.kind === 'damaged_blob');
  assert.equal(cut.object, last.id);
  assert.match(cut.detail, /past the end of the \d+-byte pack/);
  const rep = await dvx(ws, ['fsck', '--repair', '--json']);
  assert.equal(rep.code, 1);
  const [salvaged] = JSON.parse(rep.stdout).repair.salvaged;
  assert.equal(salvaged.blobs, entries.length - 1);
  assert.deepEqual(salvaged.lost, [last.id]);
  rmSync(join(ws, 'f'));
  await dvxOk(ws, ['checkout', 'f']);
  assert.deepEqual(readFileSync(join(ws, 'f')), f);
});

test('a pack with a damaged index area and a damaged blob: --repair salvages by the SQLite index what verifies and names what is lost', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const [pack] = packFiles(ws);
  const bytes = readFileSync(pack!);
  const idx = decodePack(bytes);
  // One bit of one of g's chunks, and the trailer's magic.
  const at = bytes.indexOf(g.subarray(50_000, 50_064));
  const victim = idx.entries.find((e) => e.offset <= at && at < e.offset + e.length)!;
  bytes[at + 5]! ^= 0x10;
  bytes[bytes.length - 12]! ^= 0xff;
  writeFileSync(pack!, bytes);

  const check = await dvx(ws, ['fsck', '--json']);
  assert.equal(check.code, 1);
  const before = JSON.parse(check.stdout);
  // g's manifest decodes (it verifies) and names the damaged chunk.
  assert.deepEqual(before.problems.map((p: any) => p.kind), ['damaged_pack', 'damaged_blob', 'missing_blob']);
  assert.deepEqual(before.problems.slice(0, 2).map((p: any) => p.object), [pack!.slice(-64), victim.id]);
  assert.deepEqual(before.affected, ['g']);

  const rep = await dvx(ws, ['fsck', '--repair', '--json']);
  assert.equal(rep.code, 1);
  const outcome = JSON.parse(rep.stdout).repair;
  assert.equal(outcome.salvaged.length, 1);
  assert.equal(outcome.salvaged[0].blobs, idx.entries.length - 1);
  assert.deepEqual(outcome.salvaged[0].lost, [victim.id]);
  assert.ok(!existsSync(pack!), 'the damaged pack is gone once its intact blobs are safe');
  const text = await dvx(ws, ['fsck']);
  assert.match(text.stdout, /affected tracked paths:\n {2}g\n/);

  rmSync(join(ws, 'f'));
  await dvxOk(ws, ['checkout', 'f']);
  assert.deepEqual(readFileSync(join(ws, 'f')), f);
});

test('a damaged blob that another pack also holds: --repair indexes that copy and loses nothing', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const [pack] = packFiles(ws);
  const bytes = readFileSync(pack!);
  const first = decodePack(bytes).entries[0]!;
  // A second copy, as two adds of the same data at once leave: the index points at the first only.
  const copy = makePack([{ id: first.id, type: first.type, data: Buffer.from(bytes.subarray(first.offset, first.offset + first.length)) }]);
  mkdirSync(join(cacheDir(ws), 'packs', copy.id.slice(0, 2)), { recursive: true });
  writeFileSync(join(cacheDir(ws), 'packs', copy.id.slice(0, 2), copy.id), copy.bytes);
  await dvxOk(ws, ['fsck', '--repair']);
  bytes[first.offset + 3]! ^= 0x20;
  writeFileSync(pack!, bytes);

  const rep = await dvxOk(ws, ['fsck', '--repair', '--json']);
  const [salvaged] = JSON.parse(rep.stdout).repair.salvaged;
  assert.equal(salvaged.pack, pack!.slice(-64));
  assert.deepEqual(salvaged.lost, []);
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('after --repair lost a chunk: fsck names the affected path and says to pull or add again; add of the unchanged file stores the chunk again', async (t) => {
  const { ws, f, g } = await twoFiles(t);
  const [pack] = packFiles(ws);
  const bytes = readFileSync(pack!);
  bytes[bytes.indexOf(f.subarray(100_000, 100_064)) + 7]! ^= 0x01;
  writeFileSync(pack!, bytes);
  const before = JSON.parse((await dvx(ws, ['fsck', '--json'])).stdout);
  assert.deepEqual(before.affected, ['f']);
  const rep = await dvx(ws, ['fsck', '--repair']);
  assert.equal(rep.code, 1);
  assert.match(rep.stdout, /repaired: rewrote \d+ intact blobs of damaged pack [0-9a-f]{64} into pack [0-9a-f]{64}; lost 1 blob: [0-9a-f]{64}\n/);

  // A second repair has nothing to salvage: both say what is lost and how to get it back.
  for (const args of [['fsck'], ['fsck', '--repair']]) {
    const r = await dvx(ws, [...args, '--json']);
    assert.equal(r.code, 1, args.join(' '));
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.problems.map((p: any) => p.kind), ['missing_blob']);
    assert.deepEqual(report.affected, ['f'], args.join(' '));
    const text = await dvx(ws, args);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /DAMAGE: missing blobs of manifest [0-9a-f]{64}: references 1 blob/);
    assert.match(text.stdout, /affected tracked paths:\n {2}f\n/);
    assert.match(text.stderr, /the cache lacks the data of f/);
    assert.doesNotMatch(text.stderr, /fsck --repair/, args.join(' '));
    assert.match(text.stderr, /dvx pull/);
    assert.match(text.stderr, /dvx add/);
  }

  // f is still in the working tree, unchanged: adding it again stores the lost chunk.
  await dvxOk(ws, ['add', '-q', 'f']);
  await assertClean(ws);
  await assertRestores(ws, { f, g });
});

test('blobs missing after a gc was killed, of data no tracked path needs: fsck says to let gc finish, and after `dvx gc` it is clean', async (t) => {
  const { ws, f } = await twoFiles(t);
  // The state a gc killed halfway leaves: a manifest of data nothing needs any more, one of its chunks gone.
  const [pack] = packFiles(ws);
  const bytes = readFileSync(pack!);
  bytes[bytes.indexOf(f.subarray(100_000, 100_064)) + 7]! ^= 0x01;
  writeFileSync(pack!, bytes);
  assert.equal((await dvx(ws, ['fsck', '--repair'])).code, 1);
  // No commit names f any more (amended away), so gc will not keep its manifest.
  git(ws, ['rm', '-q', 'f.dvx']);
  git(ws, ['commit', '-q', '--amend', '-m', 'data']);
  rmSync(join(ws, 'f'));

  const plain = await dvx(ws, ['fsck']);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /the cache lacks blobs that 1 manifest in it name\n/);
  assert.match(plain.stderr, /dvx pull/);

  mkdirSync(join(cacheDir(ws), 'locks'), { recursive: true });
  writeFileSync(join(cacheDir(ws), 'locks', 'gc'), String(deadPid()));
  const after = await dvx(ws, ['fsck']);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /no tracked path's; a `dvx gc` \(pid \d+\) was stopped before it finished/);
  assert.match(after.stderr, /run `dvx gc` to finish it, then `dvx fsck` again/);
  await dvxOk(ws, ['gc']);
  await dvxOk(ws, ['fsck']);
  assert.ok(!existsSync(join(cacheDir(ws), 'locks', 'gc')));
});
