import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvxJson, dvxOk, git, gitOk, gitRun, workspace } from './support/cli.ts';

/**
 * Merges and rebases of branches that both used dvx, with the real git CLI
 * and dvx's hooks: what `dvx init` tells git about merging pointers and
 * .gitignore files, and how a dataset both branches changed is resolved.
 */

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The data in the working tree is what the pointer HEAD committed names. */
function assertMatchesHead(ws: string, dataPath: string, expected: string): void {
  assert.equal(readFileSync(join(ws, dataPath), 'utf8'), expected);
  const pointer = git(ws, ['show', `HEAD:${dataPath}.dvx`]);
  assert.equal(/sha256: ([0-9a-f]{64})/.exec(pointer)![1], sha256(expected), `HEAD's ${dataPath}.dvx names the data in the working tree`);
}

test('dvx init tells git to merge pointers whole and .gitignore files by union, and adds that to a workspace an older init set up', async (t) => {
  const ws = await workspace(t);
  const attributes = '*.dvx text eol=lf -diff merge=binary\n# dvx: branches that each add data in a directory keep both ignore entries\n.gitignore merge=union\n';
  assert.equal(readFileSync(join(ws, '.gitattributes'), 'utf8'), attributes);
  assert.equal(git(ws, ['check-attr', 'merge', '--', 'a.csv.dvx', 'deep/er/.gitignore']), 'a.csv.dvx: merge: binary\ndeep/er/.gitignore: merge: union\n');

  // What an older `dvx init` wrote, beside a line of the user's own.
  writeFileSync(join(ws, '.gitattributes'), '*.png binary\n*.dvx text eol=lf -diff\n');
  git(ws, ['commit', '-qam', 'old dvx']);
  const again = await dvxJson(ws, ['init']);
  assert.deepEqual(again.created, ['.gitattributes']);
  assert.equal(readFileSync(join(ws, '.gitattributes'), 'utf8'), `*.png binary\n${attributes}`);
  assert.equal(git(ws, ['diff', '--name-only']), '', 'init staged it');
  assert.deepEqual((await dvxJson(ws, ['init'])).created, [], 'a third run changes nothing');
});

test('branches that each add data in the same directories merge and rebase without a conflict in .gitignore', async (t) => {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'code.txt'), 'base\n');
  git(ws, ['add', 'code.txt']);
  git(ws, ['commit', '-qm', 'base']);
  git(ws, ['tag', 'base']);
  const branch = async (name: string, files: Record<string, string>) => {
    git(ws, ['checkout', '-qb', name, 'main']);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(ws, path, '..'), { recursive: true });
      writeFileSync(join(ws, path), text);
    }
    await dvxOk(ws, ['add', ...Object.keys(files)]);
    git(ws, ['commit', '-qm', name]);
  };
  // In the root and in a nested directory, each .gitignore new on both branches (add/add) or appended to on both.
  await branch('a', { 'a.csv': 'a\n', 'data/sub/a.csv': 'a\n' });
  await branch('b', { 'b.csv': 'b\n', 'data/sub/b.csv': 'b\n' });
  await branch('c', { 'c.csv': 'c\n', 'data/sub/c.csv': 'c\n' });
  git(ws, ['checkout', '-q', 'main']);
  gitOk(ws, ['merge', '-q', 'a']);
  const merged = gitRun(ws, ['merge', '--no-edit', 'b']);
  assert.equal(merged.code, 0, merged.stdout + merged.stderr);
  assert.deepEqual(readFileSync(join(ws, 'data/sub/.gitignore'), 'utf8').split('\n').filter(Boolean).sort(), ['/a.csv', '/b.csv']);
  assert.match(readFileSync(join(ws, '.gitignore'), 'utf8'), /^\/a\.csv\n\/b\.csv\n/m);

  // c, rebased onto the merge, replays its .gitignore lines after both.
  git(ws, ['checkout', '-q', 'c']);
  const rebased = gitRun(ws, ['rebase', 'main']);
  assert.equal(rebased.code, 0, rebased.stdout + rebased.stderr);
  assert.deepEqual(readFileSync(join(ws, 'data/sub/.gitignore'), 'utf8').split('\n').filter(Boolean).sort(), ['/a.csv', '/b.csv', '/c.csv']);

  const data = ['a.csv', 'b.csv', 'c.csv', 'data/sub/a.csv', 'data/sub/b.csv', 'data/sub/c.csv'];
  assert.deepEqual(git(ws, ['check-ignore', ...data]).trim().split('\n'), data, 'every data path stays ignored');
  assert.equal(git(ws, ['status', '--porcelain']), '');
  for (const p of data) assert.equal(readFileSync(join(ws, p), 'utf8'), `${p.slice(-5, -4)}\n`);
  assert.deepEqual((await dvxJson(ws, ['status'])).paths.map((p: any) => [p.path, p.state]), data.map((p) => [p, 'clean']));

  // Checked out from a commit without them, every dataset comes back.
  git(ws, ['checkout', '-q', '--detach', 'base']);
  for (const p of data) assert.ok(!existsSync(join(ws, p)), `${p} went with its pointer`);
  gitOk(ws, ['checkout', '-q', 'c']);
  for (const p of data) assert.equal(readFileSync(join(ws, p), 'utf8'), `${p.slice(-5, -4)}\n`);
});

/** main and other both changed data/x from "base"; other also added data/y. */
async function divergedDataset(t: Parameters<typeof workspace>[0]): Promise<{ ws: string; ours: string; theirs: string }> {
  const ws = await workspace(t);
  await dvxOk(ws, ['install']);
  mkdirSync(join(ws, 'data'));
  const version = async (text: string, message: string, more: string[] = []) => {
    writeFileSync(join(ws, 'data/x'), text);
    await dvxOk(ws, ['add', 'data/x', ...more]);
    git(ws, ['commit', '-qm', message]);
  };
  await version('base\n', 'base');
  git(ws, ['checkout', '-qb', 'other']);
  writeFileSync(join(ws, 'data/y'), 'y from other\n');
  await version('theirs\n', 'theirs', ['data/y']);
  const theirs = git(ws, ['show', 'HEAD:data/x.dvx']);
  git(ws, ['checkout', '-q', 'main']);
  await version('ours\n', 'ours');
  return { ws, ours: git(ws, ['show', 'HEAD:data/x.dvx']), theirs };
}

/** Merges other into main, which stops on data/x.dvx with ours whole in the working tree; checks what dvx says of it. */
async function conflictedMerge(ws: string, ours: string): Promise<void> {
  const m = gitRun(ws, ['merge', 'other']);
  assert.notEqual(m.code, 0, 'git stops on the pointer both branches changed');
  assert.match(m.stdout, /CONFLICT \(content\): Merge conflict in data\/x\.dvx/);
  assert.equal(readFileSync(join(ws, 'data/x.dvx'), 'utf8'), ours, 'no conflict markers: the pointer stays ours, and valid');
  assert.equal(readFileSync(join(ws, 'data/x'), 'utf8'), 'ours\n');

  const st = await dvxJson(ws, ['status']);
  const x = st.paths.find((p: any) => p.path === 'data/x');
  assert.equal(x.state, 'conflicted');
  assert.match(x.error, /data\/x\.dvx is unmerged: both branches changed data\/x; git kept ours/);
  assert.equal(
    x.hint,
    'keep ours: `git add data/x.dvx`; take theirs: `git checkout --theirs data/x.dvx && dvx checkout data/x && git add data/x.dvx`; or record the data now in the working tree: `dvx add data/x`; then commit',
  );
  assert.match((await dvxOk(ws, ['status'])).stdout, /^ {2}conflicted: data\/x: data\/x\.dvx is unmerged[^\n]*\n {6}keep ours: `git add data\/x\.dvx`/m);
  // checkout has nothing to restore, but says that git still waits for a choice.
  const co = await dvxOk(ws, ['checkout', 'data/x']);
  assert.match(co.stderr, /warning: data\/x\.dvx is still unmerged in git \(both branches changed data\/x\); data\/x now has the data of the pointer in the working tree: `git add data\/x\.dvx` settles on it/);

  // A plain commit is refused by git; `commit -a` would resolve it silently, and the hook refuses that.
  assert.match(gitRun(ws, ['commit', '--no-edit']).stderr, /unmerged files/);
  const all = gitRun(ws, ['commit', '-a', '--no-edit']);
  assert.notEqual(all.code, 0);
  assert.match(all.stderr, /refusing to commit: data\/x\.dvx is unmerged: both branches changed data\/x.*`git commit -a` would take/);
  assert.match(all.stderr, /keep ours: `git add data\/x\.dvx`; take theirs: /);
  assert.match(git(ws, ['ls-files', '-u']), /\tdata\/x\.dvx\n/, 'still unmerged');
}

test('a dataset both branches changed: git keeps ours without markers, dvx names the conflict, and each way out commits a pointer naming the data in the working tree', async (t) => {
  const { ws, ours, theirs } = await divergedDataset(t);
  const mainTip = git(ws, ['rev-parse', 'HEAD']).trim();
  const restart = () => {
    git(ws, ['reset', '-q', '--hard', mainTip]);
    // reset runs no hook: put the data back at main's version.
    return dvxOk(ws, ['checkout']);
  };

  // Keep ours.
  await conflictedMerge(ws, ours);
  git(ws, ['add', 'data/x.dvx']);
  const kept = gitRun(ws, ['commit', '--no-edit']);
  assert.equal(kept.code, 0, kept.stderr);
  // git runs no post-merge hook for a merge it stopped: the commit that concludes it checks out the data the merge brought in.
  assert.match(kept.stderr, /dvx: checked out 1 file/);
  assert.equal((await dvxJson(ws, ['status'])).paths.find((p: any) => p.path === 'data/y').state, 'clean');
  assert.equal(readFileSync(join(ws, 'data/y'), 'utf8'), 'y from other\n');
  assert.equal(git(ws, ['show', 'HEAD:data/x.dvx']), ours);
  assertMatchesHead(ws, 'data/x', 'ours\n');

  // Take theirs.
  await restart();
  await conflictedMerge(ws, ours);
  git(ws, ['checkout', '--theirs', 'data/x.dvx']);
  await dvxOk(ws, ['checkout', 'data/x']);
  git(ws, ['add', 'data/x.dvx']);
  assert.equal(gitRun(ws, ['commit', '--no-edit']).code, 0);
  assert.equal(git(ws, ['show', 'HEAD:data/x.dvx']), theirs);
  assertMatchesHead(ws, 'data/x', 'theirs\n');

  // Record new data.
  await restart();
  await conflictedMerge(ws, ours);
  writeFileSync(join(ws, 'data/x'), 'both, combined\n');
  await dvxOk(ws, ['add', 'data/x']);
  assert.equal(git(ws, ['ls-files', '-u']), '', 'dvx add staged the pointer, which resolves it');
  assert.equal(gitRun(ws, ['commit', '--no-edit']).code, 0);
  assertMatchesHead(ws, 'data/x', 'both, combined\n');

  await dvxOk(ws, ['checkout']);
  assert.deepEqual((await dvxJson(ws, ['status'])).paths.map((p: any) => [p.path, p.state]), [['data/x', 'clean'], ['data/y', 'clean']]);
  assert.equal(readFileSync(join(ws, 'data/y'), 'utf8'), 'y from other\n');
});

test('a rebase that stops on a dataset both sides changed is resolved the same way', async (t) => {
  const { ws, theirs } = await divergedDataset(t);
  git(ws, ['checkout', '-q', 'other']);
  const r = gitRun(ws, ['rebase', 'main']);
  assert.notEqual(r.code, 0);
  // In a rebase, ours is the branch rebased onto (main) and theirs the commit replayed.
  assert.equal((await dvxJson(ws, ['status'])).paths.find((p: any) => p.path === 'data/x').state, 'conflicted');
  git(ws, ['checkout', '--theirs', 'data/x.dvx']);
  await dvxOk(ws, ['checkout', 'data/x']);
  git(ws, ['add', 'data/x.dvx']);
  const c = gitRun(ws, ['rebase', '--continue'], { GIT_EDITOR: 'true' });
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.equal(git(ws, ['show', 'HEAD:data/x.dvx']), theirs);
  assertMatchesHead(ws, 'data/x', 'theirs\n');
  assert.equal(readFileSync(join(ws, 'data/y'), 'utf8'), 'y from other\n');
});
