import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, gitRun, tempDir, workspace } from './support/cli.ts';
import { seededBytes } from './support/prng.ts';

const HOOKS = ['pre-commit', 'post-commit', 'pre-push', 'post-checkout', 'post-merge', 'post-rewrite'];

function pointerSha(text: string): string {
  return /sha256: ([0-9a-f]{64})/.exec(text)![1]!;
}

/** A workspace with dvx's hooks installed and a first commit, "base", of a README: a commit to switch back to. */
async function baseCommit(t: TestContext): Promise<string> {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'README'), 'r');
  git(ws, ['add', 'README']);
  git(ws, ['commit', '-qm', 'base']);
  return ws;
}

test('install puts shims where git looks, chains an existing hook, is idempotent; uninstall restores it', async (t) => {
  const ws = await workspace(t);
  const hooks = join(ws, '.git/hooks');
  writeFileSync(join(hooks, 'pre-commit'), '#!/bin/sh\necho "team hook ran" >&2\n');
  chmodSync(join(hooks, 'pre-commit'), 0o755);
  const first = await dvxJson(ws, ['install']);
  assert.deepEqual(first.chained, ['pre-commit']);
  for (const h of HOOKS) assert.match(readFileSync(join(hooks, h), 'utf8'), /# dvx hook shim/);
  const again = await dvxJson(ws, ['install']);
  assert.deepEqual(again.chained, []);
  assert.deepEqual(again.refreshed.sort(), [...HOOKS].sort());
  assert.match(readFileSync(join(hooks, 'pre-commit.dvx-chained'), 'utf8'), /team hook ran/);

  writeFileSync(join(ws, 'a.txt'), 'a');
  git(ws, ['add', 'a.txt']);
  const c = gitRun(ws, ['commit', '-m', 'one']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /team hook ran/);

  const un = await dvxJson(ws, ['uninstall']);
  assert.deepEqual(un.restored, ['pre-commit']);
  assert.equal(readFileSync(join(hooks, 'pre-commit'), 'utf8'), '#!/bin/sh\necho "team hook ran" >&2\n');
  assert.ok(!existsSync(join(hooks, 'pre-commit.dvx-chained')));
  assert.deepEqual(readdirSync(hooks).filter((n) => HOOKS.includes(n)), ['pre-commit']);
});

test("a checkout of a commit from before `dvx init` keeps the clone's .dvx state ignored (the clone's exclude file, not the committed .dvx/.gitignore)", async (t) => {
  const dir = tempDir(t);
  git(dir, ['init', '-q', '-b', 'main']);
  writeFileSync(join(dir, 'code.py'), 'print(1)\n');
  git(dir, ['add', 'code.py']);
  git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'before dvx']);
  await dvxOk(dir, ['init', '-q']);
  await dvxOk(dir, ['install']);
  await dvxOk(dir, ['init', '-q']);
  writeFileSync(join(dir, 'a.bin'), 'data');
  await dvxOk(dir, ['add', 'a.bin']);
  git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'with dvx']);
  const exclude = readFileSync(join(dir, '.git/info/exclude'), 'utf8');
  assert.equal(exclude.split('\n').filter((l) => l === '/.dvx/cache/').length, 1, 'written once, however often init and install run');
  git(dir, ['checkout', '-q', 'HEAD~1']);
  assert.ok(!existsSync(join(dir, '.dvx/.gitignore')), 'that commit has no .dvx/.gitignore');
  assert.ok(existsSync(join(dir, '.dvx/cache')));
  assert.doesNotMatch(git(dir, ['status', '--porcelain', '--untracked-files=all']), /\.dvx\//, 'no .dvx state for `git add -A` to commit');
  // The data of the pointer that commit does not have went too (unchanged, and in the cache): nothing is left for git to see.
  assert.ok(!existsSync(join(dir, 'a.bin')));
  assert.equal(git(dir, ['status', '--porcelain', '--untracked-files=all']), '');
  git(dir, ['checkout', '-q', 'main']);
  assert.equal(readFileSync(join(dir, 'a.bin'), 'utf8'), 'data');
});

test('a failing chained hook still stops the commit', async (t) => {
  const ws = await workspace(t);
  writeFileSync(join(ws, '.git/hooks/pre-commit'), '#!/bin/sh\necho "lint failed" >&2\nexit 3\n');
  chmodSync(join(ws, '.git/hooks/pre-commit'), 0o755);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'a.txt'), 'a');
  git(ws, ['add', 'a.txt']);
  const c = gitRun(ws, ['commit', '-m', 'x']);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /lint failed/);
});

test('core.hooksPath (husky-style) is respected and its hooks keep running', async (t) => {
  const ws = await workspace(t);
  mkdirSync(join(ws, '.githooks'));
  writeFileSync(join(ws, '.githooks/post-commit'), '#!/bin/sh\ntouch "$(git rev-parse --show-toplevel)/post-commit-ran"\n');
  chmodSync(join(ws, '.githooks/post-commit'), 0o755);
  git(ws, ['config', 'core.hooksPath', '.githooks']);
  const r = await dvxJson(ws, ['install']);
  assert.equal(r.dir, join(ws, '.githooks'));
  assert.ok(!existsSync(join(ws, '.git/hooks/pre-commit')));
  writeFileSync(join(ws, 'd.bin'), seededBytes(1, 50_000));
  await dvxOk(ws, ['add', 'd.bin']);
  git(ws, ['commit', '-qm', 'data']);
  assert.ok(existsSync(join(ws, 'post-commit-ran')));
  writeFileSync(join(ws, 'd.bin'), seededBytes(2, 50_000));
  writeFileSync(join(ws, 'code.py'), 'print(1)');
  git(ws, ['add', 'code.py']);
  assert.equal(gitRun(ws, ['commit', '-m', 'code and data']).code, 0);
  assert.equal(pointerSha(git(ws, ['show', 'HEAD:d.bin.dvx'])), pointerSha(readFileSync(join(ws, 'd.bin.dvx'), 'utf8')));
});

test('pre-commit records changed data and stages its pointer; refuses data committed to git', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'data/train.csv'), 'a,b\n1,2\n');
  mkdirSync(join(ws, 'images'));
  writeFileSync(join(ws, 'images/1.png'), seededBytes(3, 10_000));
  await dvxOk(ws, ['add', 'data/train.csv', 'images']);
  git(ws, ['commit', '-qm', 'v1']);

  writeFileSync(join(ws, 'data/train.csv'), 'a,b\n1,2\n3,4\n');
  writeFileSync(join(ws, 'images/2.png'), seededBytes(4, 10_000));
  writeFileSync(join(ws, 'README'), 'readme');
  git(ws, ['add', 'README']);
  const c = gitRun(ws, ['commit', '-m', 'v2']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /dvx: recorded data\/train\.csv/);
  assert.match(c.stderr, /dvx: recorded images/);
  assert.match(git(ws, ['show', 'HEAD:data/train.csv.dvx']), /size: 12\n/);
  assert.match(git(ws, ['show', 'HEAD:images.dvx']), /files: 2\n/);
  assert.equal(git(ws, ['status', '--porcelain']), '');

  // Only data changed and nothing staged: git stops before the hook's staging counts; the hook says what to do.
  writeFileSync(join(ws, 'data/train.csv'), 'a,b\n5,6\n');
  const only = gitRun(ws, ['commit', '-m', 'v3']);
  assert.match(only.stderr + only.stdout, /run the same `git commit` command again/);
  if (only.code !== 0) assert.equal(gitRun(ws, ['commit', '-m', 'v3']).code, 0);
  assert.match(git(ws, ['show', 'HEAD:data/train.csv.dvx']), /size: 8\n/);

  git(ws, ['add', '-f', 'data/train.csv']);
  const bad = gitRun(ws, ['commit', '-m', 'oops']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /refusing to commit data\/train\.csv: it is data tracked by dvx/);
  assert.match(bad.stderr, /git rm --cached/);
  git(ws, ['add', '-f', 'images/1.png']);
  git(ws, ['rm', '-q', '--cached', 'data/train.csv']);
  assert.match(gitRun(ws, ['commit', '-m', 'oops']).stderr, /refusing to commit images\/1\.png/);
});

test('pre-commit never records data that git left outdated (a conflicted merge, a reset), and a partial commit records nothing', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'data/t.csv'), 'v1\n');
  mkdirSync(join(ws, 'imgs'));
  writeFileSync(join(ws, 'imgs/a.png'), 'a1');
  await dvxOk(ws, ['add', 'data/t.csv', 'imgs']);
  writeFileSync(join(ws, 'code.txt'), 'base\n');
  git(ws, ['add', 'code.txt']);
  git(ws, ['commit', '-qm', 'base']);
  git(ws, ['checkout', '-qb', 'feature']);
  writeFileSync(join(ws, 'data/t.csv'), 'v2 from feature\n');
  writeFileSync(join(ws, 'imgs/b.png'), 'b2');
  writeFileSync(join(ws, 'code.txt'), 'feature\n');
  await dvxOk(ws, ['add', 'data/t.csv', 'imgs']);
  git(ws, ['commit', '-qam', 'feature']);
  const featurePointers = [git(ws, ['show', 'HEAD:data/t.csv.dvx']), git(ws, ['show', 'HEAD:imgs.dvx'])];
  git(ws, ['checkout', '-q', 'main']);
  writeFileSync(join(ws, 'code.txt'), 'main\n');
  git(ws, ['commit', '-qam', 'main']);

  // The merge stops on code.txt: git writes the merged pointers, but no hook checks the data out.
  assert.notEqual(gitRun(ws, ['merge', 'feature']).code, 0);
  assert.equal(readFileSync(join(ws, 'data/t.csv'), 'utf8'), 'v1\n');
  const st = JSON.parse((await dvxOk(ws, ['status', '--json'])).stdout);
  assert.deepEqual(st.paths.map((p: any) => [p.path, p.state]), [['data/t.csv', 'outdated'], ['imgs', 'outdated']]);
  writeFileSync(join(ws, 'code.txt'), 'resolved\n');
  git(ws, ['add', 'code.txt']);
  const merged = gitRun(ws, ['commit', '--no-edit']);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stderr, /data\/t\.csv is not checked out/);
  assert.doesNotMatch(merged.stderr, /recorded/);
  assert.deepEqual([git(ws, ['show', 'HEAD:data/t.csv.dvx']), git(ws, ['show', 'HEAD:imgs.dvx'])], featurePointers, 'the merge commit keeps what git merged');
  await dvxOk(ws, ['checkout']);
  assert.equal(readFileSync(join(ws, 'data/t.csv'), 'utf8'), 'v2 from feature\n');

  // reset --hard moves the pointer back and leaves the data: the next commit keeps the pointer.
  git(ws, ['reset', '-q', '--hard', 'HEAD~1']);
  writeFileSync(join(ws, 'code.txt'), 'after reset\n');
  const after = gitRun(ws, ['commit', '-qam', 'after reset']);
  assert.equal(after.code, 0, after.stderr);
  assert.match(git(ws, ['show', 'HEAD:data/t.csv.dvx']), /size: 3\n/);

  // An edit after that is recorded as usual.
  await dvxOk(ws, ['checkout']);
  writeFileSync(join(ws, 'data/t.csv'), 'v3 edited\n');
  writeFileSync(join(ws, 'README'), 'r');
  git(ws, ['add', 'README']);
  // `git commit <paths>`: only README; the data change stays unrecorded, and the index keeps the old pointer.
  const partial = gitRun(ws, ['commit', '-qm', 'readme only', 'README']);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stderr, /a partial commit .* does not record data; changed and not recorded: data\/t\.csv/);
  assert.deepEqual(git(ws, ['show', '--name-only', '--format=', 'HEAD']).trim().split('\n'), ['README']);
  assert.equal(git(ws, ['diff', '--cached', '--name-only']), '');
  writeFileSync(join(ws, 'code.txt'), 'with data\n');
  const full = gitRun(ws, ['commit', '-qam', 'with data']);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stderr, /recorded data\/t\.csv/);
  assert.match(git(ws, ['show', 'HEAD:data/t.csv.dvx']), /size: 10\n/);
  assert.equal(git(ws, ['status', '--porcelain']), '');
});

test('pre-commit does not record data edited on another version than its pointer names (a switch or pull that left local changes), so the other version is not silently undone', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'nov.txt'), 'v1\n');
  await dvxOk(ws, ['add', 'nov.txt']);
  git(ws, ['commit', '-qm', 'v1']);
  git(ws, ['checkout', '-qb', 'teammate']);
  writeFileSync(join(ws, 'nov.txt'), 'v2 from a teammate\n');
  await dvxOk(ws, ['add', 'nov.txt']);
  git(ws, ['commit', '-qm', 'v2']);
  const v2 = git(ws, ['show', 'HEAD:nov.txt.dvx']);
  git(ws, ['checkout', '-q', 'main']);
  // An edit of v1, not recorded, then a switch to the branch with v2: post-checkout cannot update it.
  writeFileSync(join(ws, 'nov.txt'), 'v1 with my edit\n');
  const sw = gitRun(ws, ['checkout', '-q', 'teammate']);
  assert.equal(sw.code, 0, sw.stderr);
  assert.match(sw.stderr, /nov\.txt was not updated/);

  const empty = gitRun(ws, ['commit', '--allow-empty', '-qm', 'unrelated']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /nov\.txt was not recorded: its pointer changed in git .* `dvx add nov\.txt` records your data over it; `dvx checkout --force nov\.txt` takes the pointer's version/);
  assert.doesNotMatch(empty.stderr, /recorded nov\.txt/);
  assert.equal(git(ws, ['show', 'HEAD:nov.txt.dvx']), v2, "the teammate's version stays");
  assert.equal(readFileSync(join(ws, 'nov.txt'), 'utf8'), 'v1 with my edit\n', 'the edit is kept in the working tree');

  // Recording the edit over it is an explicit `dvx add`; after that, commits record edits as usual.
  await dvxOk(ws, ['add', 'nov.txt']);
  git(ws, ['commit', '-qm', 'mine over v2']);
  assert.match(git(ws, ['show', 'HEAD:nov.txt.dvx']), /size: 16\n/);
  writeFileSync(join(ws, 'nov.txt'), 'edited again\n');
  const again = gitRun(ws, ['commit', '--allow-empty', '-qm', 'again']);
  assert.match(again.stderr, /recorded nov\.txt/);
  assert.match(git(ws, ['show', 'HEAD:nov.txt.dvx']), /size: 13\n/);
});

test('post-checkout cannot fail a checkout git has done: a broken dvx config in the target commit is a warning', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'a.txt'), 'a');
  git(ws, ['add', 'a.txt']);
  git(ws, ['commit', '-qm', 'one']);
  git(ws, ['checkout', '-qb', 'badcfg']);
  writeFileSync(join(ws, '.dvx/config.yaml'), 'version: [1\n');
  git(ws, ['commit', '-qnam', 'broken config']);
  git(ws, ['checkout', '-q', 'main']);
  const r = gitRun(ws, ['checkout', 'badcfg']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /dvx: warning: post-checkout: the data was not updated: .*config\.yaml/);
});

test('checkout, branch switch, merge and rebase materialize the data the pointers name', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  const v1 = seededBytes(5, 300_000);
  writeFileSync(join(ws, 'a.bin'), v1);
  writeFileSync(join(ws, 'b.bin'), seededBytes(6, 100_000));
  await dvxOk(ws, ['add', 'a.bin', 'b.bin']);
  git(ws, ['commit', '-qm', 'v1']);
  const v2 = Buffer.concat([v1, seededBytes(7, 1000)]);
  writeFileSync(join(ws, 'a.bin'), v2);
  await dvxOk(ws, ['add', 'a.bin']);
  git(ws, ['commit', '-qm', 'v2']);

  git(ws, ['checkout', '-q', 'HEAD~1']);
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), v1);
  git(ws, ['checkout', '-q', 'main']);
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), v2);

  // Two branches change different data; merge brings both.
  git(ws, ['checkout', '-q', '-b', 'feature']);
  const b2 = seededBytes(8, 100_000);
  writeFileSync(join(ws, 'b.bin'), b2);
  await dvxOk(ws, ['add', 'b.bin']);
  git(ws, ['commit', '-qm', 'b2']);
  git(ws, ['checkout', '-q', 'main']);
  assert.deepEqual(readFileSync(join(ws, 'b.bin')), seededBytes(6, 100_000));
  const c3 = seededBytes(9, 50_000);
  writeFileSync(join(ws, 'c.bin'), c3);
  await dvxOk(ws, ['add', 'c.bin']);
  git(ws, ['commit', '-qm', 'c']);
  git(ws, ['checkout', '-q', 'feature']);
  assert.ok(!existsSync(join(ws, 'c.bin')), 'feature has no c.bin.dvx: its unchanged data goes');
  git(ws, ['merge', '-q', '--no-edit', 'main']);
  assert.deepEqual(readFileSync(join(ws, 'c.bin')), c3);
  assert.deepEqual(readFileSync(join(ws, 'b.bin')), b2);

  // Rebase a branch that changes a.bin onto main.
  git(ws, ['checkout', '-q', '-b', 'topic', 'main~1']);
  const a3 = seededBytes(10, 200_000);
  writeFileSync(join(ws, 'a.bin'), a3);
  await dvxOk(ws, ['add', 'a.bin']);
  git(ws, ['commit', '-qm', 'a3']);
  const rb = gitRun(ws, ['rebase', '-q', 'main']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(readFileSync(join(ws, 'a.bin')), a3);
  assert.deepEqual(readFileSync(join(ws, 'c.bin')), c3);
  assert.equal((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'), true);
});

test('a switch to a commit without a pointer removes its unchanged data (file and directory), with the .gitignore entry gone too; switching back restores it', async (t) => {
  const ws = await baseCommit(t);
  mkdirSync(join(ws, 'data/imgs/sub'), { recursive: true });
  const x = seededBytes(11, 200_000);
  writeFileSync(join(ws, 'data/x.bin'), x);
  writeFileSync(join(ws, 'data/imgs/a.png'), seededBytes(12, 5000));
  writeFileSync(join(ws, 'data/imgs/sub/b.png'), seededBytes(13, 5000));
  await dvxOk(ws, ['add', 'data/x.bin', 'data/imgs']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'data']);

  const back = gitRun(ws, ['checkout', '-q', 'HEAD~1']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stderr, /removed 2 paths that are no longer tracked: data\/imgs, data\/x\.bin/);
  assert.ok(!existsSync(join(ws, 'data')), 'the data and the folders that held only it are gone');
  assert.equal(git(ws, ['status', '--porcelain']), '', 'nothing for `git add -A` to pick up');

  const again = gitRun(ws, ['checkout', '-q', 'main']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readFileSync(join(ws, 'data/x.bin')), x);
  assert.deepEqual(readFileSync(join(ws, 'data/imgs/sub/b.png')), seededBytes(13, 5000));
  assert.ok((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'));

  // A file checkout moves no HEAD and removes nothing.
  git(ws, ['checkout', '-q', 'HEAD~1', '--', 'README']);
  assert.ok(existsSync(join(ws, 'data/x.bin')));
});

test('data changed since the checkout stays when its pointer is dropped, with a warning; so does data whose version the cache lacks', async (t) => {
  const ws = await baseCommit(t);
  mkdirSync(join(ws, 'data/imgs'), { recursive: true });
  mkdirSync(join(ws, 'data/more'));
  writeFileSync(join(ws, 'data/x.bin'), seededBytes(14, 50_000));
  writeFileSync(join(ws, 'data/imgs/a.png'), 'a');
  writeFileSync(join(ws, 'data/more/c.png'), 'c');
  writeFileSync(join(ws, 'data/clean.bin'), 'clean');
  await dvxOk(ws, ['add', 'data/x.bin', 'data/imgs', 'data/more', 'data/clean.bin']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'data']);

  writeFileSync(join(ws, 'data/x.bin'), 'edited');
  writeFileSync(join(ws, 'data/imgs/new.png'), 'an extra file');
  writeFileSync(join(ws, 'data/more/c.png'), 'changed');
  const r = gitRun(ws, ['checkout', '-q', 'HEAD~1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed 1 path that is no longer tracked: data\/clean\.bin/);
  for (const p of ['data/x.bin', 'data/imgs', 'data/more']) {
    assert.match(r.stderr, new RegExp(`warning: ${p.replace('.', '\\.')} is no longer tracked .* was kept: it has changes that are not stored anywhere\\. \`dvx add ${p.replace('.', '\\.')}\` tracks it again; delete it if it is not needed; git no longer ignores it`));
  }
  assert.equal(readFileSync(join(ws, 'data/x.bin'), 'utf8'), 'edited');
  assert.deepEqual(readdirSync(join(ws, 'data/imgs')).sort(), ['a.png', 'new.png']);
  assert.equal(readFileSync(join(ws, 'data/more/c.png'), 'utf8'), 'changed');
  assert.ok(!existsSync(join(ws, 'data/clean.bin')));

  // Unchanged data whose version is gone from the cache is the only copy here: it stays.
  rmSync(join(ws, 'data'), { recursive: true });
  git(ws, ['checkout', '-q', 'main']);
  assert.equal(readFileSync(join(ws, 'data/clean.bin'), 'utf8'), 'clean');
  rmSync(join(ws, '.dvx/cache'), { recursive: true });
  const r2 = gitRun(ws, ['checkout', '-q', 'HEAD~1']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /data\/clean\.bin is no longer tracked .* was kept: its version is not whole in the local cache/);
  assert.equal(readFileSync(join(ws, 'data/clean.bin'), 'utf8'), 'clean');
});

test('a switch from tracking a directory whole to tracking a part of it (and git a file in it) removes the rest of its unchanged data; changed data stays with a warning', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'data/imgs/sub'), { recursive: true });
  mkdirSync(join(ws, 'data/imgs/old'));
  writeFileSync(join(ws, 'data/imgs/a.png'), seededBytes(21, 5000));
  writeFileSync(join(ws, 'data/imgs/old/c.png'), seededBytes(22, 5000));
  writeFileSync(join(ws, 'data/imgs/sub/b.png'), seededBytes(23, 5000));
  await dvxOk(ws, ['add', 'data/imgs']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'whole']);
  // split: only data/imgs/sub is dvx's, and git tracks a README inside data/imgs
  git(ws, ['checkout', '-q', '-b', 'split']);
  git(ws, ['rm', '-q', 'data/imgs.dvx', 'data/.gitignore']);
  rmSync(join(ws, 'data/imgs'), { recursive: true });
  mkdirSync(join(ws, 'data/imgs/sub'), { recursive: true });
  writeFileSync(join(ws, 'data/imgs/sub/b.png'), seededBytes(24, 5000));
  writeFileSync(join(ws, 'data/imgs/README.md'), 'about the images\n');
  await dvxOk(ws, ['add', 'data/imgs/sub']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'split']);
  git(ws, ['checkout', '-q', 'main']);
  assert.ok((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'));

  const r = gitRun(ws, ['checkout', '-q', 'split']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed 1 path that is no longer tracked: data\/imgs \(but what is tracked there now\)/);
  assert.deepEqual(readdirSync(join(ws, 'data/imgs')).sort(), ['.gitignore', 'README.md', 'sub', 'sub.dvx']);
  assert.deepEqual(readFileSync(join(ws, 'data/imgs/sub/b.png')), seededBytes(24, 5000));
  assert.equal(git(ws, ['status', '--porcelain']), '', 'nothing for `git add -A` to pick up');
  assert.ok((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'));

  // Back, edit a file outside the part, switch again: nothing of data/imgs goes, and the warning says so.
  git(ws, ['checkout', '-q', 'main']);
  assert.deepEqual(readFileSync(join(ws, 'data/imgs/old/c.png')), seededBytes(22, 5000));
  writeFileSync(join(ws, 'data/imgs/a.png'), 'edited');
  const r2 = gitRun(ws, ['checkout', '-q', 'split']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /warning: data\/imgs is no longer tracked .* was kept: it has changes that are not stored anywhere/);
  assert.equal(readFileSync(join(ws, 'data/imgs/a.png'), 'utf8'), 'edited');
  assert.deepEqual(readFileSync(join(ws, 'data/imgs/old/c.png')), seededBytes(22, 5000));
  assert.deepEqual(readFileSync(join(ws, 'data/imgs/sub/b.png')), seededBytes(24, 5000));
});

test("commands that messages give for a path with a space or a quote are quoted, so that they can be pasted into a shell", async (t) => {
  const ws = await baseCommit(t);
  mkdirSync(join(ws, "data/my set"), { recursive: true });
  writeFileSync(join(ws, "data/my set/a.csv"), 'a');
  writeFileSync(join(ws, "data/it's.csv"), 'b');
  await dvxOk(ws, ['add', 'data/my set', "data/it's.csv"]);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'data']);

  const inside = await dvx(ws, ['add', 'data/my set/a.csv']);
  assert.equal(inside.code, 1);
  assert.match(inside.stderr, /hint: add the directory instead: `dvx add 'data\/my set'`/);

  writeFileSync(join(ws, "data/my set/a.csv"), 'edited');
  writeFileSync(join(ws, "data/it's.csv"), 'edited');
  const r = gitRun(ws, ['checkout', '-q', 'HEAD~1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /`dvx add 'data\/my set'` tracks it again/);
  assert.match(r.stderr, /`dvx add 'data\/it'\\''s\.csv'` tracks it again/);
  const back = gitRun(ws, ['checkout', '-q', 'main']);
  assert.match(back.stderr, /`dvx checkout --force 'data\/my set\/a\.csv'` discards it/);
});

test('a path tracked as a directory on one branch and as a file on another follows each switch, when nothing would be lost', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'p'), 'a file');
  await dvxOk(ws, ['add', 'p']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'file']);
  git(ws, ['checkout', '-q', '-b', 'dir']);
  rmSync(join(ws, 'p'));
  mkdirSync(join(ws, 'p/sub'), { recursive: true });
  writeFileSync(join(ws, 'p/one'), '1');
  writeFileSync(join(ws, 'p/sub/two'), '2');
  await dvxOk(ws, ['add', 'p']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'dir']);

  const toFile = gitRun(ws, ['checkout', '-q', 'main']);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.doesNotMatch(toFile.stderr, /in the way/);
  assert.equal(readFileSync(join(ws, 'p'), 'utf8'), 'a file');
  assert.ok((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'));
  // so the next commit records nothing, rather than the other branch's directory
  const c = gitRun(ws, ['commit', '-q', '--allow-empty', '-m', 'unrelated']);
  assert.doesNotMatch(c.stderr, /recorded p/);
  assert.match(git(ws, ['show', 'HEAD:p.dvx']), /type: file/);

  git(ws, ['checkout', '-q', 'dir']);
  assert.equal(readFileSync(join(ws, 'p/sub/two'), 'utf8'), '2');
  // A directory holding a file the cache cannot give back stays in the way.
  writeFileSync(join(ws, 'p/mine'), 'not stored anywhere');
  const kept = gitRun(ws, ['checkout', '-q', 'main']);
  assert.match(kept.stderr, /p was not updated: a directory is in the way/);
  assert.equal(readFileSync(join(ws, 'p/mine'), 'utf8'), 'not stored anywhere');
});

test('a merge and a rebase remove the data of pointers they drop, and keep what the replayed commits add', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'data/old.bin'), seededBytes(15, 20_000));
  writeFileSync(join(ws, 'data/kept.bin'), seededBytes(16, 20_000));
  writeFileSync(join(ws, 'code.txt'), 'base\n');
  await dvxOk(ws, ['add', 'data/old.bin', 'data/kept.bin']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'base']);
  // main drops old.bin (the way to stop tracking data: remove the pointer, commit)
  git(ws, ['rm', '-q', 'data/old.bin.dvx']);
  git(ws, ['commit', '-qm', 'drop old']);

  // A merge bringing that in removes the data on the other branch.
  git(ws, ['checkout', '-q', '-b', 'merging', 'main~1']);
  assert.ok(existsSync(join(ws, 'data/old.bin')));
  writeFileSync(join(ws, 'code.txt'), 'merging\n');
  git(ws, ['commit', '-qam', 'code']);
  const m = gitRun(ws, ['merge', '-q', '--no-edit', 'main']);
  assert.equal(m.code, 0, m.stderr);
  assert.ok(!existsSync(join(ws, 'data/old.bin')));

  // A rebase onto main: old.bin goes, what the replayed commit adds stays.
  git(ws, ['checkout', '-q', '-b', 'topic', 'main~1']);
  writeFileSync(join(ws, 'new.bin'), seededBytes(17, 30_000));
  await dvxOk(ws, ['add', 'new.bin']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'new']);
  const rb = gitRun(ws, ['rebase', '-q', 'main']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.doesNotMatch(rb.stderr, /new\.bin/, 'data the rebase brings back is not removed and written again');
  assert.ok(!existsSync(join(ws, 'data/old.bin')));
  assert.deepEqual(readFileSync(join(ws, 'new.bin')), seededBytes(17, 30_000));
  assert.deepEqual(readFileSync(join(ws, 'data/kept.bin')), seededBytes(16, 20_000));
  assert.ok((await dvxJson(ws, ['status'])).paths.every((p: any) => p.state === 'clean'));
});

// With merge=binary (dvx init) git writes no markers: test/git-merge.test.ts. A workspace set up by an older init merges pointers line by line.
test('a merge that leaves conflict markers in a pointer (attributes of an older dvx init): named as a conflict with its ways out, before and after the markers are staged', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, '.gitattributes'), '*.dvx text eol=lf -diff\n');
  git(ws, ['add', '.gitattributes']);
  const version = async (text: string, message: string) => {
    writeFileSync(join(ws, 'a.csv'), text);
    await dvxOk(ws, ['add', 'a.csv']);
    git(ws, ['commit', '-qm', message]);
  };
  await version('base\n', 'base');
  git(ws, ['checkout', '-qb', 'other']);
  await version('theirs\n', 'theirs');
  git(ws, ['checkout', '-q', 'main']);
  await version('ours\n', 'ours');
  assert.notEqual(gitRun(ws, ['merge', 'other']).code, 0, 'git stops on the conflicting pointer');
  assert.match(readFileSync(join(ws, 'a.csv.dvx'), 'utf8'), /^<<<<<<< HEAD$/m);

  const [s] = (await dvxJson(ws, ['status'])).paths;
  assert.deepEqual([s.path, s.state], ['a.csv', 'conflicted']);
  assert.match(s.error, /a\.csv\.dvx has unresolved merge conflict markers \(both branches changed a\.csv\)/);
  assert.equal(s.hint, 'keep ours: `git checkout --ours a.csv.dvx && git add a.csv.dvx`; take theirs: `git checkout --theirs a.csv.dvx && dvx checkout a.csv && git add a.csv.dvx`; or record the data now in the working tree: `dvx add a.csv`; then commit');
  assert.match((await dvxOk(ws, ['status'])).stdout, /conflicted: a\.csv: [^\n]*conflict markers[^\n]*\n {6}keep ours/);
  const blocked = await dvx(ws, ['checkout']);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /conflict markers/);

  // Staged with its markers, git no longer holds the two sides: the pointer is invalid, and only a commit has a version to restore.
  git(ws, ['add', 'a.csv.dvx']);
  const [staged] = (await dvxJson(ws, ['status'])).paths;
  assert.deepEqual([staged.state, staged.error], ['invalid', s.error]);
  assert.match(staged.hint, /`git checkout HEAD -- a\.csv\.dvx` \(or MERGE_HEAD for theirs/);
  assert.match(gitRun(ws, ['commit', '--no-edit']).stderr, /refusing to commit: a\.csv\.dvx has unresolved merge conflict markers[^]*git checkout HEAD -- a\.csv\.dvx/);

  git(ws, ['checkout', 'MERGE_HEAD', '--', 'a.csv.dvx']);
  await dvxOk(ws, ['checkout', 'a.csv']);
  assert.equal(readFileSync(join(ws, 'a.csv'), 'utf8'), 'theirs\n');
  git(ws, ['commit', '-qm', 'merge other, theirs']);
  assert.equal((await dvxJson(ws, ['status'])).paths[0].state, 'clean');
});

test('a hook whose dvx is gone says what to do; DVX_SKIP_HOOKS=1 gets past it', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  const shim = join(ws, '.git/hooks/pre-commit');
  writeFileSync(shim, readFileSync(shim, 'utf8').replace(/^node='.*'$/m, "node='/nonexistent/node'").replace(/^dvx='.*'$/m, "dvx='/nonexistent/dvx.js'"));
  writeFileSync(join(ws, 'a.txt'), 'a');
  git(ws, ['add', 'a.txt']);
  const env = { PATH: '/usr/bin:/bin' };
  const c = gitRun(ws, ['commit', '-m', 'x'], env);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /the dvx that installed it is gone/);
  assert.match(c.stderr, /DVX_SKIP_HOOKS=1/);
  assert.equal(gitRun(ws, ['commit', '-m', 'x'], { ...env, DVX_SKIP_HOOKS: '1' }).code, 0);
});

test('log lists the versions of a dataset; diff compares revisions; gc keeps what commits need', async (t) => {
  const ws = await workspace(t);
  const versions = [seededBytes(11, 400_000)];
  versions.push(Buffer.concat([versions[0]!, seededBytes(12, 20_000)]));
  versions.push(Buffer.concat([versions[1]!.subarray(0, 200_000), seededBytes(13, 5_000)]));
  for (const [i, v] of versions.entries()) {
    writeFileSync(join(ws, 'events.csv'), v);
    await dvxOk(ws, ['add', 'events.csv']);
    git(ws, ['commit', '-qm', `version ${i + 1}`]);
  }
  const log = await dvxJson(ws, ['log', 'events.csv']);
  assert.deepEqual(log.versions.map((v: any) => v.message), ['version 3', 'version 2', 'version 1']);
  assert.deepEqual(log.versions.map((v: any) => v.size), [205_000, 420_000, 400_000]);
  assert.equal(log.versions[2].newBytes, 400_000);
  assert.ok(log.versions[1].newBytes < 100_000, `v2 appended 20 kB: ${log.versions[1].newBytes} new`);
  const text = (await dvxOk(ws, ['log', 'events.csv'])).stdout;
  assert.match(text, /version 1/);

  const d = await dvxJson(ws, ['diff', 'HEAD~2', 'HEAD~1']);
  assert.equal(d.changed[0].path, 'events.csv');
  assert.equal(d.changed[0].sizeDelta, 20_000);
  assert.ok(d.changed[0].newBytes > 0 && d.changed[0].newBytes < 100_000);

  // An added but never committed version is garbage; committed ones are not.
  writeFileSync(join(ws, 'events.csv'), seededBytes(14, 300_000));
  await dvxOk(ws, ['add', 'events.csv']);
  git(ws, ['checkout', '-q', '--', 'events.csv.dvx']);
  git(ws, ['reset', '-q']);
  git(ws, ['checkout', '-q', '--', 'events.csv.dvx']);
  const gc = await dvxJson(ws, ['gc']);
  assert.ok(gc.deletedBlobs > 0, JSON.stringify(gc));
  const fsck = await dvxJson(ws, ['fsck']);
  assert.deepEqual(fsck.problems, []);
  for (const rev of ['HEAD~2', 'HEAD~1', 'HEAD']) {
    git(ws, ['checkout', '-q', rev, '--', 'events.csv.dvx']);
    await dvxOk(ws, ['checkout', '--force', 'events.csv']);
  }
  assert.deepEqual(readFileSync(join(ws, 'events.csv')), versions[2]);
  git(ws, ['checkout', '-q', 'HEAD~2', '--', 'events.csv.dvx']);
  await dvxOk(ws, ['checkout', 'events.csv']);
  assert.deepEqual(readFileSync(join(ws, 'events.csv')), versions[0]);

  // A stash is a root too: `git stash pop` after a gc gives back data, not a pointer to nothing.
  git(ws, ['checkout', '-q', 'HEAD', '--', 'events.csv.dvx']);
  const stashed = seededBytes(15, 250_000);
  writeFileSync(join(ws, 'events.csv'), stashed);
  await dvxOk(ws, ['add', 'events.csv']);
  git(ws, ['stash', '-q']);
  rmSync(join(ws, 'events.csv'));
  await dvxOk(ws, ['checkout', 'events.csv']);
  assert.deepEqual(readFileSync(join(ws, 'events.csv')), versions[2]);
  assert.equal((await dvxJson(ws, ['gc'])).deletedBlobs, 0, 'nothing is garbage: the stash names the new version');
  git(ws, ['stash', 'pop', '-q']);
  await dvxOk(ws, ['checkout', 'events.csv']);
  assert.deepEqual(readFileSync(join(ws, 'events.csv')), stashed);
  // Dropped, the stash no longer keeps it.
  git(ws, ['checkout', '-q', 'HEAD', '--', 'events.csv.dvx']);
  await dvxOk(ws, ['checkout', '--force', 'events.csv']);
  assert.ok((await dvxJson(ws, ['gc'])).deletedBlobs > 0);
});
