import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxOk, git, gitRun, tempDir, workspace } from './support/cli.ts';
import { seededBytes } from './support/prng.ts';

/**
 * What `dvx gc` keeps beyond local branches, tags, HEAD, stashes and the
 * working tree: data that git can still bring back through a remote-tracking
 * branch, ORIG_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD, REVERT_HEAD or the index.
 * Each version below is reachable through one of those only: a gc that
 * forgot that root would delete it, and `dvx checkout` could not restore it.
 */

let seed = 100;
/** Writes a new version of `path` and records it (the pointer changes and is staged, unless `--no-git-add`; nothing is committed). */
async function version(ws: string, path: string, ...flags: string[]): Promise<Buffer> {
  const bytes = seededBytes(seed++, 60_000);
  writeFileSync(join(ws, path), bytes);
  await dvxOk(ws, ['add', '-q', ...flags, path]);
  return bytes;
}

async function gc(ws: string): Promise<number> {
  const r = await dvx(ws, ['gc', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).deletedBlobs;
}

/** `dvx checkout` brings back `bytes` from the cache for the pointer `rev:path.dvx` (rev '' is the index, as in git). */
async function restores(ws: string, rev: string, path: string, bytes: Buffer, what: string): Promise<void> {
  writeFileSync(join(ws, `${path}.dvx`), git(ws, ['show', `${rev}:${path}.dvx`]));
  rmSync(join(ws, path), { force: true });
  const r = await dvx(ws, ['checkout', path]);
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  assert.deepEqual(readFileSync(join(ws, path)), bytes, what);
  git(ws, ['checkout', '-q', 'HEAD', '--', `${path}.dvx`]);
}

function conflictOnCode(ws: string, args: string[]): void {
  const r = gitRun(ws, args);
  assert.notEqual(r.code, 0, `git ${args.join(' ')} stops`);
  assert.match(git(ws, ['status', '--porcelain', '--untracked-files=no']), /^UU code\.txt$/m, `git ${args.join(' ')} stops on code.txt`);
}

test('gc keeps data named only by a remote-tracking branch, ORIG_HEAD, the index, MERGE_HEAD, CHERRY_PICK_HEAD or REVERT_HEAD', async (t) => {
  const ws = await workspace(t);
  const bare = tempDir(t, 'dvx-bare-');
  git(bare, ['init', '-q', '--bare', '-b', 'main']);
  git(ws, ['remote', 'add', 'origin', bare]);
  writeFileSync(join(ws, 'code.txt'), 'base\n');
  git(ws, ['add', 'code.txt']);
  mkdirSync(join(ws, 'sub'));
  for (const p of ['r', 'o', 'sub/s', 'm', 'c', 'v']) await version(ws, p);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'base']);
  const commit = async (path: string, message: string) => {
    const bytes = await version(ws, path);
    git(ws, ['commit', '-qam', message]);
    return bytes;
  };
  const code = (text: string, message: string) => {
    writeFileSync(join(ws, 'code.txt'), text);
    git(ws, ['commit', '-qam', message]);
  };

  // A teammate's branch, fetched (here: pushed, which sets the same remote-tracking ref) and then deleted locally.
  git(ws, ['checkout', '-qb', 'team']);
  const r1 = await commit('r', 'r on team');
  git(ws, ['push', '-q', 'origin', 'team']);
  git(ws, ['checkout', '-q', 'main']);
  git(ws, ['branch', '-qD', 'team']);
  // A commit undone by a reset: ORIG_HEAD is the way back.
  const o1 = await commit('o', 'o, then reset away');
  git(ws, ['reset', '-q', '--hard', 'HEAD~1']);
  // A pointer staged, then changed again in the working tree only.
  const s1 = await version(ws, 'sub/s');
  await version(ws, 'sub/s', '--no-git-add');
  assert.match(git(ws, ['status', '--porcelain', 'sub/s.dvx']), /^MM sub\/s\.dvx$/m);
  // Garbage: a version recorded and then dropped.
  await version(ws, 'v');
  git(ws, ['checkout', '-q', 'HEAD', '--', 'v.dvx']);

  assert.ok((await gc(ws)) > 0, 'the dropped version is collected');
  await restores(ws, 'origin/team', 'r', r1, 'a remote-tracking branch');
  await restores(ws, 'ORIG_HEAD', 'o', o1, 'ORIG_HEAD');
  await restores(ws, '', 'sub/s', s1, 'the index');
  git(ws, ['reset', '-q', '--hard']);

  // A merge stopped on a conflict in code.txt, its branch deleted since: m1 is only in the history MERGE_HEAD brings in.
  git(ws, ['checkout', '-qb', 'topic']);
  const m1 = await commit('m', 'm1');
  await commit('m', 'm2');
  code('topic\n', 'code on topic');
  git(ws, ['checkout', '-q', 'main']);
  code('main\n', 'code on main');
  conflictOnCode(ws, ['merge', '-q', 'topic']);
  git(ws, ['branch', '-qD', 'topic']);
  await gc(ws);
  await restores(ws, 'MERGE_HEAD~2', 'm', m1, 'MERGE_HEAD');
  git(ws, ['merge', '--abort']);

  // A cherry-pick stopped on a conflict, its branch deleted since: c1 is in the picked commit's history only.
  git(ws, ['checkout', '-qb', 'pick']);
  const c1 = await commit('c', 'c1');
  code('pick\n', 'code on pick');
  git(ws, ['checkout', '-q', 'main']);
  code('main 2\n', 'code on main 2');
  conflictOnCode(ws, ['cherry-pick', 'pick']);
  git(ws, ['branch', '-qD', 'pick']);
  await gc(ws);
  await restores(ws, 'CHERRY_PICK_HEAD~1', 'c', c1, 'CHERRY_PICK_HEAD');
  git(ws, ['cherry-pick', '--abort']);

  // A revert stopped on a conflict, its branch deleted since: v1 is in the reverted commit's history only.
  git(ws, ['checkout', '-qb', 'rev']);
  const v1 = await commit('v', 'v1');
  code('to revert\n', 'code to revert');
  git(ws, ['checkout', '-q', 'main']);
  code('main 3\n', 'code on main 3');
  conflictOnCode(ws, ['revert', '--no-edit', 'rev']);
  git(ws, ['branch', '-qD', 'rev']);
  await gc(ws);
  await restores(ws, 'REVERT_HEAD~1', 'v', v1, 'REVERT_HEAD');
  git(ws, ['revert', '--abort']);
});

test('gc on a cache that cache.dir shares between clones stops: it sees only its own clone, and would delete what the others committed and never pushed', async (t) => {
  const shared = join(tempDir(t, 'dvx-shared-cache-'), 'cache');
  const [one, two] = [await workspace(t), await workspace(t)];
  for (const ws of [one, two]) await dvxOk(ws, ['config', '--local', 'cache.dir', shared]);
  const bytes = await version(one, 'only-one.bin');
  git(one, ['commit', '-qm', 'only in clone one']);

  const r = await dvx(two, ['gc']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /cache\.dir.*shared|shared.*cache\.dir/);
  assert.match(r.stderr, /hint: .*dvx push.*dvx gc --shared-cache/);
  await restores(one, 'HEAD', 'only-one.bin', bytes, 'clone one after gc in clone two');

  // Once told, it collects as the clone it runs in sees it.
  const forced = await dvx(two, ['gc', '--shared-cache', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(JSON.parse(forced.stdout).deletedBlobs > 0);
  // A cache.dir naming the clone's own cache is not shared.
  await dvxOk(one, ['config', '--local', 'cache.dir', '.dvx/cache']);
  assert.equal((await dvx(one, ['gc'])).code, 0);
});
