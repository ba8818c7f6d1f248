import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DVX_BIN, dvx, dvxJson, dvxOk, git, run, tempDir, workspace } from './support/cli.ts';
import { seededBytes } from './support/prng.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('init creates .dvx with config, ignores and cache; running it twice is harmless', async (t) => {
  const ws = await workspace(t);
  assert.ok(existsSync(join(ws, '.dvx/config.yaml')));
  assert.ok(existsSync(join(ws, '.dvx/cache/packs')));
  assert.match(readFileSync(join(ws, '.dvx/.gitignore'), 'utf8'), /\/cache\//);
  const staged = git(ws, ['diff', '--cached', '--name-only']);
  assert.match(staged, /\.dvx\/config\.yaml/);
  assert.doesNotMatch(staged, /cache/);
  const config = readFileSync(join(ws, '.dvx/config.yaml'), 'utf8');
  const again = await dvxOk(ws, ['init']);
  assert.match(again.stdout, /already initialized/);
  assert.equal(readFileSync(join(ws, '.dvx/config.yaml'), 'utf8'), config);
});

test('init outside a git repository explains what to do', async (t) => {
  const dir = tempDir(t);
  const r = await dvx(dir, ['init']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not inside a git working tree/);
  assert.match(r.stderr, /git init/);
});

test('commands outside a workspace say to run dvx init', async (t) => {
  const dir = tempDir(t);
  git(dir, ['init', '-q']);
  const r = await dvx(dir, ['status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /dvx init/);
});

test('add a file: pointer written, data ignored, pointer staged; a second version stores only new chunks', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'data/raw'), { recursive: true });
  const v1 = seededBytes(1, 3_000_000);
  writeFileSync(join(ws, 'data/raw/customers.csv'), v1);
  const first = await dvxJson(ws, ['add', 'data/raw/customers.csv']);
  assert.equal(first.added[0].path, 'data/raw/customers.csv');
  assert.equal(first.added[0].size, v1.length);
  assert.equal(first.added[0].sha256, sha(v1));
  assert.equal(first.newBytes, v1.length);

  const pointer = readFileSync(join(ws, 'data/raw/customers.csv.dvx'), 'utf8');
  assert.match(pointer, /^# dvx pointer: commit this file, not the data\ndvx: 1\npath: customers.csv\ntype: file\nsize: 3000000\nsha256: [0-9a-f]{64}\nmanifest: [0-9a-f]{64}\n$/);
  assert.match(pointer, new RegExp(`sha256: ${sha(v1)}`));
  assert.equal(readFileSync(join(ws, 'data/raw/.gitignore'), 'utf8'), '/customers.csv\n');
  assert.equal(git(ws, ['check-ignore', 'data/raw/customers.csv']).trim(), 'data/raw/customers.csv');
  const staged = git(ws, ['diff', '--cached', '--name-only']).split('\n');
  assert.ok(staged.includes('data/raw/customers.csv.dvx'));
  assert.ok(staged.includes('data/raw/.gitignore'));
  assert.ok(!staged.includes('data/raw/customers.csv'));

  // Version 2: 1 KiB changed in the middle, 10 KiB appended.
  const v2 = Buffer.concat([v1, seededBytes(2, 10_000)]);
  seededBytes(3, 1024).copy(v2, 1_500_000);
  writeFileSync(join(ws, 'data/raw/customers.csv'), v2);
  const second = await dvxJson(ws, ['add', 'data/raw/customers.csv']);
  assert.ok(second.newBytes > 0 && second.newBytes < 200_000, `new bytes ${second.newBytes} should be a few chunks`);
  assert.match((await dvxOk(ws, ['add', 'data/raw/customers.csv'])).stdout, /0 B new/);
});

test('identical content in different files is stored once', async (t) => {
  const ws = await workspace(t);
  const data = seededBytes(4, 2_000_000);
  writeFileSync(join(ws, 'a.bin'), data);
  writeFileSync(join(ws, 'b.bin'), data);
  const r = await dvxJson(ws, ['add', 'a.bin', 'b.bin']);
  assert.equal(r.newBytes, data.length);
  assert.equal(r.added[1].newBytes, 0);
});

test('add a directory: one pointer, nested files, exec bits; symlinks inside skipped with a warning', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'images/train/cats'), { recursive: true });
  writeFileSync(join(ws, 'images/train/cats/1.jpg'), seededBytes(5, 50_000));
  writeFileSync(join(ws, 'images/train/2.jpg'), seededBytes(6, 70_000));
  writeFileSync(join(ws, 'images/run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(ws, 'images/run.sh'), 0o755);
  symlinkSync('/etc/passwd', join(ws, 'images/passwd'));
  const r = await dvxOk(ws, ['add', 'images', '--json']);
  const out = JSON.parse(r.stdout);
  assert.equal(out.added[0].type, 'dir');
  assert.equal(out.added[0].files, 3);
  assert.equal(out.added[0].size, 50_000 + 70_000 + 18);
  assert.deepEqual(out.added[0].skipped, ['images/passwd']);
  assert.match(r.stderr, /skipped images\/passwd/);
  assert.match(readFileSync(join(ws, 'images.dvx'), 'utf8'), /type: dir\nsize: 120018\nfiles: 3\n/);

  rmSync(join(ws, 'images'), { recursive: true });
  await dvxOk(ws, ['checkout']);
  assert.deepEqual(readFileSync(join(ws, 'images/train/cats/1.jpg')), seededBytes(5, 50_000));
  assert.equal(statSync(join(ws, 'images/run.sh')).mode & 0o777, 0o755);
  assert.equal(statSync(join(ws, 'images/train/2.jpg')).mode & 0o111, 0);
  assert.ok(!existsSync(join(ws, 'images/passwd')));
});

test('a symlink as the path to add is refused', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'real.bin'), 'x');
  symlinkSync('real.bin', join(ws, 'link.bin'));
  const r = await dvx(ws, ['add', 'link.bin']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /link\.bin is a symbolic link/);
  assert.ok(!existsSync(join(ws, 'link.bin.dvx')));
});

test('status reports modified, missing and per-file directory changes; --json for machines', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'a.bin'), seededBytes(7, 100_000));
  writeFileSync(join(ws, 'b.bin'), seededBytes(8, 100_000));
  mkdirSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/keep.txt'), 'keep');
  writeFileSync(join(ws, 'd/sub/change.txt'), 'before');
  writeFileSync(join(ws, 'd/gone.txt'), 'gone');
  await dvxOk(ws, ['add', 'a.bin', 'b.bin', 'd']);
  let s = await dvxJson(ws, ['status']);
  assert.deepEqual(s.paths.map((p: any) => p.state), ['clean', 'clean', 'clean']);
  assert.match((await dvxOk(ws, ['status'])).stdout, /3 tracked paths, all up to date/);
  assert.equal((await dvxOk(ws, ['status', 'nope.bin'])).stdout, 'not tracked: nope.bin\n', 'a filter that matches nothing is not "nothing tracked yet"');
  assert.match((await dvxOk(ws, ['status', 'a.bin'])).stdout, /^1 tracked path, all up to date/);

  // Same size, changed immediately after add: the racy-clean rule must catch it.
  const a = seededBytes(7, 100_000);
  a[500] ^= 1;
  writeFileSync(join(ws, 'a.bin'), a);
  rmSync(join(ws, 'b.bin'));
  writeFileSync(join(ws, 'd/sub/change.txt'), 'after!');
  rmSync(join(ws, 'd/gone.txt'));
  writeFileSync(join(ws, 'd/new.txt'), 'new');
  s = await dvxJson(ws, ['status']);
  const by = Object.fromEntries(s.paths.map((p: any) => [p.path, p]));
  assert.equal(by['a.bin'].state, 'modified');
  assert.equal(by['b.bin'].state, 'missing');
  assert.deepEqual(by['d'], { path: 'd', state: 'changed', added: ['new.txt'], modified: ['sub/change.txt'], removed: ['gone.txt'] });
  const text = (await dvxOk(ws, ['status'])).stdout;
  assert.match(text, /modified: +a\.bin/);
  assert.match(text, /missing: +b\.bin/);
  assert.match(text, /\+ new\.txt/);
  // Limiting to a path
  s = await dvxJson(ws, ['status', 'b.bin']);
  assert.deepEqual(s.paths.map((p: any) => p.path), ['b.bin']);
});

test('checkout restores byte-identical data and older versions; never overwrites unstored changes without --force', async (t) => {
  const ws = await workspace(t);
  const v1 = seededBytes(9, 2_500_000);
  writeFileSync(join(ws, 'model.bin'), v1);
  await dvxOk(ws, ['add', 'model.bin']);
  git(ws, ['commit', '-qm', 'v1']);
  const v2 = Buffer.concat([v1.subarray(0, 1_000_000), seededBytes(10, 600_000)]);
  writeFileSync(join(ws, 'model.bin'), v2);
  await dvxOk(ws, ['add', 'model.bin']);
  git(ws, ['commit', '-qm', 'v2']);

  rmSync(join(ws, 'model.bin'));
  assert.match((await dvxOk(ws, ['checkout'])).stdout, /restored model\.bin/);
  assert.equal(sha(readFileSync(join(ws, 'model.bin'))), sha(v2));

  // Back to v1's pointer: v2's bytes are stored, so they may be replaced.
  git(ws, ['checkout', '-q', 'HEAD~1', '--', 'model.bin.dvx']);
  await dvxOk(ws, ['checkout', 'model.bin']);
  assert.equal(sha(readFileSync(join(ws, 'model.bin'))), sha(v1));

  // A local change that is stored nowhere is kept.
  writeFileSync(join(ws, 'model.bin'), 'precious local edit');
  git(ws, ['checkout', '-q', 'main', '--', 'model.bin.dvx']);
  const refused = await dvx(ws, ['checkout']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /model\.bin: not overwritten, it has local changes/);
  assert.match(refused.stderr, /--force/);
  assert.equal(readFileSync(join(ws, 'model.bin'), 'utf8'), 'precious local edit');
  await dvxOk(ws, ['checkout', '--force']);
  assert.equal(sha(readFileSync(join(ws, 'model.bin'))), sha(v2));
  assert.match((await dvxOk(ws, ['checkout'])).stdout, /already up to date/);
});

for (const directIo of ['1', '0']) {
  test(`add and checkout of a file spanning many staging blocks and packs, direct I/O ${directIo === '1' ? 'on' : 'off'}: byte-identical`, async (t) => {
    const ws = await workspace(t);
    const env = { DVX_DIRECT_IO: directIo };
    // 45 MiB and a second version sharing most of its chunks: two packs' worth, pieces of a
    // version come from different packs, and 8 MiB blocks end mid-chunk and mid-range.
    const v1 = seededBytes(21, 45 * 1024 * 1024 + 12345);
    writeFileSync(join(ws, 'big.bin'), v1);
    await dvxOk(ws, ['add', 'big.bin'], env);
    const v2 = Buffer.concat([v1.subarray(0, 20 << 20), seededBytes(22, 3 << 20), v1.subarray(20 << 20)]);
    writeFileSync(join(ws, 'big.bin'), v2);
    const added = await dvxJson<{ newBytes: number }>(ws, ['add', 'big.bin'], env);
    assert.ok(added.newBytes < 4 << 20, `second version stored ${added.newBytes} new bytes`);
    git(ws, ['commit', '-qm', 'v2']);

    rmSync(join(ws, 'big.bin'));
    await dvxOk(ws, ['checkout', 'big.bin'], env);
    assert.equal(sha(readFileSync(join(ws, 'big.bin'))), sha(v2));
    assert.equal(statSync(join(ws, 'big.bin')).size, v2.length);
    assert.match((await dvxOk(ws, ['fsck'], env)).stdout, /no problems found/);
  });
}

test('checkout of a directory version removes stored extras and keeps unstored ones', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'd'));
  writeFileSync(join(ws, 'd/a.txt'), 'a1');
  await dvxOk(ws, ['add', 'd']);
  git(ws, ['commit', '-qm', 'one file']);
  writeFileSync(join(ws, 'd/b.txt'), 'b1');
  await dvxOk(ws, ['add', 'd']);
  git(ws, ['commit', '-qm', 'two files']);
  git(ws, ['checkout', '-q', 'HEAD~1', '--', 'd.dvx']);
  writeFileSync(join(ws, 'd/scratch.txt'), 'not stored');
  const r = await dvx(ws, ['checkout', '--json']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.removed, ['d/b.txt']);
  assert.deepEqual(out.conflicts.map((c: any) => c.path), ['d/scratch.txt']);
  assert.ok(existsSync(join(ws, 'd/scratch.txt')));
  assert.ok(!existsSync(join(ws, 'd/b.txt')));
});

test('status and checkout of a path inside a tracked directory act on that part only; a checkout of a path the version lacks is refused before anything is written', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/a.txt'), 'a1');
  writeFileSync(join(ws, 'd/sub/b.txt'), 'b1');
  writeFileSync(join(ws, 'd/sub/c.txt'), 'c1');
  writeFileSync(join(ws, 'f.bin'), 'f1');
  await dvxOk(ws, ['add', 'd', 'f.bin']);
  rmSync(join(ws, 'd/a.txt'));
  rmSync(join(ws, 'd/sub/b.txt'));
  writeFileSync(join(ws, 'd/sub/c.txt'), 'local edit');

  // status of a part lists that part's changes only
  const part = JSON.parse((await dvxOk(ws, ['status', '--json', 'd/sub'])).stdout).paths;
  assert.deepEqual(part, [{ path: 'd', state: 'changed', added: [], modified: ['sub/c.txt'], removed: ['sub/b.txt'] }]);
  assert.equal(JSON.parse((await dvxOk(ws, ['status', '--json', 'd/sub/b.txt', 'f.bin'])).stdout).paths[0].removed.join(), 'sub/b.txt');

  const one = await dvxOk(ws, ['checkout', '--json', 'd/sub/b.txt']);
  assert.deepEqual(JSON.parse(one.stdout).restored, ['d/sub/b.txt']);
  assert.equal(readFileSync(join(ws, 'd/sub/b.txt'), 'utf8'), 'b1');
  assert.ok(!existsSync(join(ws, 'd/a.txt')), 'the rest of the directory is left as it was');
  assert.equal(readFileSync(join(ws, 'd/sub/c.txt'), 'utf8'), 'local edit');

  for (const bad of [['d/nope'], ['d/sub/b.txt/x'], ['f.bin/x'], ['d/a.txt', 'd/su']]) {
    const r = await dvx(ws, ['checkout', ...bad]);
    assert.equal(r.code, 1, bad.join(' '));
    assert.match(r.stderr, new RegExp(`not tracked by dvx: ${bad.at(-1)!.replace(/\./g, '\\.')}\\n`), r.stderr);
  }
  assert.ok(!existsSync(join(ws, 'd/a.txt')), 'a refused checkout wrote nothing');

  // A subdirectory: its files only, and its local change still protected.
  const sub = await dvx(ws, ['checkout', '--json', 'd/sub']);
  assert.equal(sub.code, 1);
  assert.deepEqual(JSON.parse(sub.stdout).conflicts.map((c: any) => c.path), ['d/sub/c.txt']);
  await dvxOk(ws, ['checkout', '--force', 'd/sub']);
  assert.equal(readFileSync(join(ws, 'd/sub/c.txt'), 'utf8'), 'c1');
  assert.ok(!existsSync(join(ws, 'd/a.txt')));
  // Named whole and in part: the whole wins.
  await dvxOk(ws, ['checkout', 'd/sub/b.txt', 'd']);
  assert.equal(readFileSync(join(ws, 'd/a.txt'), 'utf8'), 'a1');
});

test('`.` at the top of the workspace names every tracked path for status and checkout; a name starting with `..` is inside it', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'sub'));
  writeFileSync(join(ws, '..notes'), 'n1');
  writeFileSync(join(ws, 'sub/s.bin'), 's1');
  await dvxOk(ws, ['add', '..notes', 'sub/s.bin']);
  rmSync(join(ws, '..notes'));
  rmSync(join(ws, 'sub/s.bin'));
  const st = JSON.parse((await dvxOk(ws, ['status', '--json', '.'])).stdout);
  assert.deepEqual(st.paths.map((p: any) => [p.path, p.state]), [['..notes', 'missing'], ['sub/s.bin', 'missing']]);
  const co = JSON.parse((await dvxOk(ws, ['checkout', '--json', '.'])).stdout);
  assert.deepEqual(co.restored.sort(), ['..notes', 'sub/s.bin']);
  assert.equal(readFileSync(join(ws, '..notes'), 'utf8'), 'n1');
  // From a subdirectory, `..` is the top too.
  rmSync(join(ws, '..notes'));
  await dvxOk(join(ws, 'sub'), ['checkout', '..']);
  assert.equal(readFileSync(join(ws, '..notes'), 'utf8'), 'n1');
  const root = await dvx(ws, ['add', '.']);
  assert.equal(root.code, 1);
  assert.match(root.stderr, /\. is the workspace root/);
});

test('checkout never writes through a symlink inside a tracked directory (one git checked out from a commit); --force replaces the link, not its target', async (t) => {
  const ws = await workspace(t);
  const outside = tempDir(t);
  mkdirSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/sub/b.txt'), 'payload');
  writeFileSync(join(ws, 'd/top.txt'), 'top');
  await dvxOk(ws, ['add', 'd']);
  git(ws, ['commit', '-qm', 'data']);
  rmSync(join(ws, 'd/sub'), { recursive: true });
  symlinkSync(outside, join(ws, 'd/sub'));
  git(ws, ['add', '-f', 'd/sub']);
  git(ws, ['commit', '-qm', 'a symlink where the data has a directory']);
  rmSync(join(ws, 'd/top.txt'));

  const r = await dvx(ws, ['checkout', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.restored, ['d/top.txt'], 'the rest of the directory is restored');
  assert.deepEqual(out.conflicts.map((c: any) => c.path), ['d/sub']);
  assert.match(out.conflicts[0].reason, /symlink/);
  assert.ok(!existsSync(join(outside, 'b.txt')), 'nothing written outside the working tree');

  writeFileSync(join(outside, 'b.txt'), 'not yours');
  await dvxOk(ws, ['checkout', '--force']);
  assert.equal(readFileSync(join(outside, 'b.txt'), 'utf8'), 'not yours', 'the link target is untouched');
  assert.ok(!statSync(join(ws, 'd/sub')).isSymbolicLink() && statSync(join(ws, 'd/sub')).isDirectory());
  assert.equal(readFileSync(join(ws, 'd/sub/b.txt'), 'utf8'), 'payload');
});

test('checkout restores an empty tracked directory, and names a file with local changes that stands where the version has a directory', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, 'empty'));
  mkdirSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/sub/b.txt'), 'b');
  await dvxOk(ws, ['add', 'empty', 'd']);
  rmSync(join(ws, 'empty'), { recursive: true });
  rmSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/sub'), 'my notes, stored nowhere');
  const r = await dvx(ws, ['checkout', '--json']);
  assert.equal(r.code, 1);
  assert.ok(statSync(join(ws, 'empty')).isDirectory());
  assert.deepEqual(JSON.parse(r.stdout).conflicts.map((c: any) => c.path), ['d/sub']);
  assert.doesNotMatch(r.stderr, /EEXIST/);
  assert.equal(readFileSync(join(ws, 'd/sub'), 'utf8'), 'my notes, stored nowhere');
  const st = JSON.parse((await dvx(ws, ['status', '--json'])).stdout);
  assert.equal(st.paths.find((p: any) => p.path === 'empty').state, 'clean');
});

test('add refuses, before storing anything, a pointer path git ignores and a file at the pointer path that is not a pointer', async (t) => {
  const ws = await workspace(t);
  appendFileSync(join(ws, '.gitignore'), 'scratch/\n');
  mkdirSync(join(ws, 'scratch'));
  writeFileSync(join(ws, 'scratch/a.bin'), 'a');
  const ignored = await dvx(ws, ['add', 'scratch/a.bin']);
  assert.equal(ignored.code, 1);
  assert.match(ignored.stderr, /git ignores scratch\/a\.bin\.dvx.*\n.*--no-git-add/);
  assert.ok(!existsSync(join(ws, 'scratch/a.bin.dvx')));
  const again = await dvxOk(ws, ['add', '--no-git-add', '--json', 'scratch/a.bin']);
  assert.equal(JSON.parse(again.stdout).newBytes, 1, 'the refused add stored nothing');

  writeFileSync(join(ws, 'notes.dvx'), 'my notes about the dvx setup');
  writeFileSync(join(ws, 'notes'), 'data');
  const foreign = await dvx(ws, ['add', 'notes']);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /notes\.dvx exists and is not a dvx pointer/);
  assert.equal(readFileSync(join(ws, 'notes.dvx'), 'utf8'), 'my notes about the dvx setup');
  // A broken pointer (here: truncated) is still a pointer: adding records the data anew.
  writeFileSync(join(ws, 'notes.dvx'), '# dvx pointer: commit this file, not the data\ndvx: 1\npath: no');
  await dvxOk(ws, ['add', 'notes']);
  assert.match(readFileSync(join(ws, 'notes.dvx'), 'utf8'), /path: notes\n/);

  // The entry dvx wrote for a directory no longer tracked (its pointer removed) is named as the rule, with the way out.
  mkdirSync(join(ws, 'data/imgs/sub'), { recursive: true });
  writeFileSync(join(ws, 'data/imgs/sub/x'), 'x');
  writeFileSync(join(ws, 'data/imgs/y'), 'y');
  await dvxOk(ws, ['add', 'data/imgs']);
  rmSync(join(ws, 'data/imgs.dvx'));
  const stale = await dvx(ws, ['add', 'data/imgs/sub']);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /git ignores data\/imgs\/sub\.dvx, so the pointer could not be committed: the rule is `\/imgs` in data\/\.gitignore \(line 1\), which dvx wrote for data\/imgs; that path is no longer tracked/);
  assert.match(stale.stderr, /hint: remove that line and add again/);
  writeFileSync(join(ws, 'data/.gitignore'), '');
  await dvxOk(ws, ['add', 'data/imgs/sub']);
  assert.ok(existsSync(join(ws, 'data/imgs/sub.dvx')));
});

test('checkout names a pointer whose size or file count was edited, instead of restoring data that status then calls modified', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'f.bin'), 'twelve bytes');
  mkdirSync(join(ws, 'd'));
  writeFileSync(join(ws, 'd/a'), 'a');
  await dvxOk(ws, ['add', 'f.bin', 'd']);
  rmSync(join(ws, 'f.bin'));
  rmSync(join(ws, 'd'), { recursive: true });
  writeFileSync(join(ws, 'f.bin.dvx'), readFileSync(join(ws, 'f.bin.dvx'), 'utf8').replace('size: 12', 'size: 13'));
  writeFileSync(join(ws, 'd.dvx'), readFileSync(join(ws, 'd.dvx'), 'utf8').replace('files: 1', 'files: 5'));
  const r = await dvx(ws, ['checkout']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /f\.bin\.dvx says size 13 .* has size 12 .*: the pointer was edited/);
  assert.match(r.stderr, /d\.dvx says 1 bytes in 5 files, but the version it names has 1 bytes in 1 files/);
  assert.ok(!existsSync(join(ws, 'f.bin')));
});

test('--help is available for every command; usage errors exit 2 and say what is wrong', async (t) => {
  const ws = tempDir(t);
  const commandsIn = (help: string) => [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  const top = await dvxOk(ws, ['--help']);
  const verbs = commandsIn(top.stdout);
  for (const verb of ['init', 'add', 'status', 'checkout', 'fsck', 'push', 'log', 'diff', 'get', 'gc', 'install']) assert.ok(verbs.includes(verb), verb);
  for (const verb of verbs) {
    const r = await dvxOk(ws, [verb, '--help']);
    assert.match(r.stdout, new RegExp(`Usage: dvx ${verb}`));
    // and every subcommand (remote add, runs show, models register, ...)
    for (const sub of r.stdout.includes('Commands:') ? commandsIn(r.stdout) : []) {
      assert.match((await dvxOk(ws, [verb, sub, '--help'])).stdout, new RegExp(`Usage: dvx ${verb} ${sub}`));
    }
  }
  for (const [args, message] of [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['fsck', '--bogus'], /unknown option '--bogus'/],
    [['log'], /missing required argument 'path'/],
  ] as const) {
    const bad = await dvx(ws, [...args]);
    assert.equal(bad.code, 2, args.join(' '));
    assert.match(bad.stderr, message);
    assert.match(bad.stderr, /run with --help for usage/);
  }
});

test('add and checkout of large data show a progress bar on a terminal, and none when stderr is not one', async (t) => {
  const ws = await workspace(t);
  const data = randomBytes(40 << 20);
  writeFileSync(join(ws, 'big.bin'), data);
  // A real pseudo-terminal: util-linux's `script` runs the command on one and copies what it shows.
  const onTty = (args: string) => run('script', ['-qec', `${process.execPath} ${DVX_BIN} ${args}`, '/dev/null'], { cwd: ws, env: { DVX_NO_PROGRESS: '' } });
  const added = await onTty('add big.bin');
  assert.equal(added.code, 0, added.stdout);
  assert.match(added.stdout, /adding \[[^\]]+\] \d+% \| [\d.]+ [KM]?i?B\/40\.0 MiB \| /, 'the bar, with bytes done of the total');
  assert.match(added.stdout, /added big\.bin \(40\.0 MiB\): 40\.0 MiB new/);
  rmSync(join(ws, 'big.bin'));
  const restored = await onTty('checkout big.bin');
  assert.equal(restored.code, 0, restored.stdout);
  assert.match(restored.stdout, /checking out \[[^\]]+\] \d+% \| /);
  assert.deepEqual(readFileSync(join(ws, 'big.bin')), data);

  // Not a terminal (a pipe, as in scripts and CI logs): the result only.
  appendFileSync(join(ws, 'big.bin'), 'more');
  const piped = await dvxOk(ws, ['add', 'big.bin'], { DVX_NO_PROGRESS: '' });
  assert.doesNotMatch(piped.stderr + piped.stdout, /%/);
  assert.match(piped.stdout, /added big\.bin/);
  // --quiet silences the bar on a terminal too.
  rmSync(join(ws, 'big.bin'));
  const quiet = await onTty('checkout -q big.bin');
  assert.equal(quiet.code, 0, quiet.stdout);
  assert.doesNotMatch(quiet.stdout, /checking out \[/);
});
