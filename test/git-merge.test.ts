import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvxJson, dvxOk, git, gitOk, gitRun, workspace } from './support/cli.ts';

/**
 * Merges and rebases of branches that both used dvx, with the real git CLI
 * and dvx's hooks: what `dvx init` tells git about merging pointers and
 * .gitignore files, and how a dataset both branches changed is resolved.
 */

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
