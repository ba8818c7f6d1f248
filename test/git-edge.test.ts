import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, gitOk, gitRun, tempDir, workspace } from './support/cli.ts';
import { request } from './support/http.ts';
import { seededBytes } from './support/prng.ts';
import { hookedServerWorkspace, serverRefs } from './support/server.ts';

/**
 * Edges of the git integration: hooks that are not plain files, git's
 * template directory, refs that name no commit, and `dvx get`'s output.
 */

/** hookedServerWorkspace with one data commit on main. */
async function pushingWorkspace(t: Parameters<typeof workspace>[0], repo: string) {
  const { server, token, env, ws } = await hookedServerWorkspace(t, repo);
  mkdirSync(join(ws, 'images'));
  writeFileSync(join(ws, 'images/a.png'), seededBytes(1, 5000));
  writeFileSync(join(ws, 'images/b.png'), seededBytes(2, 3000));
  writeFileSync(join(ws, 'events.csv'), seededBytes(3, 20_000));
  await dvxOk(ws, ['add', 'images', 'events.csv']);
  gitOk(ws, ['commit', '-qm', 'data'], env);
  return { server, token, env, ws };
}

test('pre-push: tags of trees and blobs pass without a record; tags are peeled to their commit; a tag moved off a commit is forgotten', async (t) => {
  const repo = 'tags';
  const { server, token, env, ws } = await pushingWorkspace(t, repo);
  const c1 = git(ws, ['rev-parse', 'HEAD']).trim();

  // A tree tag pushed with a branch: git accepts both, and the branch is recorded.
  git(ws, ['tag', 'treetag', 'HEAD^{tree}']);
  gitOk(ws, ['push', '-q', 'origin', 'main', 'treetag'], env);
  assert.deepEqual(await serverRefs(server, token, repo), { 'refs/heads/main': c1 });
  assert.equal(git(ws, ['ls-remote', 'origin', 'refs/tags/treetag']).split('\t')[0], git(ws, ['rev-parse', 'HEAD^{tree}']).trim());

  // An annotated tag of a blob, alone.
  git(ws, ['tag', '-a', 'blobtag', '-m', 'a blob', git(ws, ['rev-parse', 'HEAD:events.csv.dvx']).trim()]);
  gitOk(ws, ['push', '-q', 'origin', 'blobtag'], env);

  // A tag of a tag of a commit names that commit.
  git(ws, ['tag', '-a', 'inner', '-m', 'inner', 'HEAD']);
  git(ws, ['tag', '-a', 'outer', '-m', 'outer', 'inner']);
  gitOk(ws, ['push', '-q', 'origin', 'outer'], env);
  assert.equal((await serverRefs(server, token, repo))['refs/tags/outer'], c1);

  // A tag that named a commit and is forced onto a tree no longer serves that commit's data.
  git(ws, ['tag', 'moving', 'HEAD']);
  gitOk(ws, ['push', '-q', 'origin', 'moving'], env);
  assert.equal((await serverRefs(server, token, repo))['refs/tags/moving'], c1);
  git(ws, ['tag', '-f', 'moving', 'HEAD^{tree}']);
  gitOk(ws, ['push', '-q', '-f', 'origin', 'moving'], env);
  assert.deepEqual(await serverRefs(server, token, repo), { 'refs/heads/main': c1, 'refs/tags/outer': c1 });
});

/** A pointer file as a merge commits it when its conflict is left unresolved. */
function withConflictMarkers(pointer: string): string {
  return `<<<<<<< HEAD\n${pointer}=======\n${pointer}>>>>>>> other\n`;
}

test('pre-push: an invalid pointer only in an older commit is warned about and recorded as absent there; one in a pushed tip stops the push until a new commit fixes it', async (t) => {
  const repo = 'badpointers';
  const { server, token, env, ws } = await pushingWorkspace(t, repo);
  const rev = (r: string) => git(ws, ['rev-parse', r]).trim();
  const datasetsAt = async (ref: string) => {
    const a = await request(server.url, `/api/v1/repos/${repo}/datasets?ref=${ref}`, { token });
    assert.equal(a.status, 200, a.text());
    return a.json().datasets.map((d: { path: string }) => d.path);
  };
  const c1 = rev('HEAD');
  const good = readFileSync(join(ws, 'events.csv.dvx'), 'utf8');

  // c2 commits the pointer with conflict markers (-n: past dvx's pre-commit); c3 fixes it with new data.
  writeFileSync(join(ws, 'events.csv.dvx'), withConflictMarkers(good));
  gitOk(ws, ['commit', '-qnam', 'merged with markers']);
  const c2 = rev('HEAD');
  const fixed = seededBytes(4, 20_000);
  writeFileSync(join(ws, 'events.csv'), fixed);
  await dvxOk(ws, ['add', 'events.csv']);
  gitOk(ws, ['commit', '-qm', 'fixed'], env);
  const c3 = rev('HEAD');

  const pushed = gitRun(ws, ['push', '-q', 'origin', 'main'], env);
  assert.equal(pushed.code, 0, pushed.stderr);
  const warnings = pushed.stderr.match(/is not a valid pointer/g) ?? [];
  assert.equal(warnings.length, 1, pushed.stderr);
  assert.match(pushed.stderr, new RegExp(`commit ${c2.slice(0, 10)}: events\\.csv\\.dvx is not a valid pointer \\(.+\\)`));
  assert.deepEqual(await serverRefs(server, token, repo), { 'refs/heads/main': c3 });
  assert.deepEqual(await datasetsAt(c1), ['events.csv', 'images']);
  assert.deepEqual(await datasetsAt(c2), ['images'], 'the invalid pointer is absent at its commit');
  assert.deepEqual(await datasetsAt('main'), ['events.csv', 'images']);
  const file = await request(server.url, `/api/v1/repos/${repo}/files/main/events.csv`, { token });
  assert.equal(file.status, 200);
  assert.deepEqual(file.body, fixed);
  assert.equal((await request(server.url, `/api/v1/repos/${repo}/files/${c2}/events.csv`, { token })).status, 404);

  // c4 truncates the pointer, c5 changes only code: the tip still holds the invalid pointer, and a new commit can fix that.
  writeFileSync(join(ws, 'events.csv.dvx'), good.slice(0, 40));
  gitOk(ws, ['commit', '-qnam', 'truncated pointer']);
  const c4 = rev('HEAD');
  writeFileSync(join(ws, 'code.py'), 'print(1)\n');
  git(ws, ['add', 'code.py']);
  gitOk(ws, ['commit', '-qnm', 'code']);
  const c5 = rev('HEAD');
  const blocked = gitRun(ws, ['push', '-q', 'origin', 'main'], env);
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, new RegExp(`commit ${c5.slice(0, 10)}: events\\.csv\\.dvx is not a valid pointer`));
  assert.match(blocked.stderr, /fix the pointer in a new commit \(`dvx add` rewrites it\)/);
  assert.deepEqual(await serverRefs(server, token, repo), { 'refs/heads/main': c3 }, 'nothing recorded');

  await dvxOk(ws, ['add', 'events.csv']);
  gitOk(ws, ['commit', '-qm', 'pointer fixed'], env);
  const again = gitRun(ws, ['push', '-q', 'origin', 'main'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/is not a valid pointer/g) ?? []).length, 1, again.stderr);
  assert.match(again.stderr, new RegExp(`commit ${c4.slice(0, 10)}: events\\.csv\\.dvx is not a valid pointer`));
  assert.deepEqual(await datasetsAt(c4), ['images']);
  assert.deepEqual(await datasetsAt(c5), ['images']);
  assert.deepEqual(await datasetsAt('main'), ['events.csv', 'images']);
});

test('pre-push without a dvx remote: an invalid pointer in an older commit is a warning, in a pushed tip an error', async (t) => {
  const ws = await workspace(t);
  const bare = tempDir(t, 'dvx-bare-');
  git(bare, ['init', '-q', '--bare', '-b', 'main']);
  git(ws, ['remote', 'add', 'origin', bare]);
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'notes.txt'), 'n\n');
  git(ws, ['add', 'notes.txt']);
  gitOk(ws, ['commit', '-qm', 'code']);
  // A stray .dvx file that is no pointer, committed and removed again.
  writeFileSync(join(ws, 'stray.dvx'), 'not a pointer\n');
  git(ws, ['add', 'stray.dvx']);
  gitOk(ws, ['commit', '-qnm', 'stray']);
  const stray = git(ws, ['rev-parse', 'HEAD']).trim();
  const atTip = gitRun(ws, ['push', '-q', 'origin', 'main']);
  assert.notEqual(atTip.code, 0);
  assert.match(atTip.stderr, /stray\.dvx is not a valid pointer[^]*fix the pointer in a new commit/);
  git(ws, ['rm', '-q', 'stray.dvx']);
  gitOk(ws, ['commit', '-qm', 'no stray']);
  const pushed = gitRun(ws, ['push', '-q', 'origin', 'main']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stderr, new RegExp(`commit ${stray.slice(0, 10)}: stray\\.dvx is not a valid pointer`));
});

test('install keeps a hook that is a symlink to a missing file: chained as the link, skipped until its target exists, restored by uninstall', async (t) => {
  const ws = await workspace(t);
  const hooks = join(ws, '.git/hooks');
  const shared = join(tempDir(t, 'dvx-shared-hooks-'), 'pre-commit');
  const sharedPush = join(tempDir(t, 'dvx-shared-hooks-'), 'pre-push');
  symlinkSync(shared, join(hooks, 'pre-commit'));
  symlinkSync(sharedPush, join(hooks, 'pre-push'));

  const r = await dvx(ws, ['install', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.chained, ['pre-commit', 'pre-push']);
  assert.deepEqual(report.missing, [{ hook: 'pre-commit', target: shared }, { hook: 'pre-push', target: sharedPush }]);
  assert.match(r.stderr, /your pre-commit hook is a symlink to .*pre-commit, which does not exist/);
  for (const [hook, target] of [['pre-commit', shared], ['pre-push', sharedPush]] as const) {
    assert.ok(lstatSync(join(hooks, `${hook}.dvx-chained`)).isSymbolicLink(), `${hook} is kept as the link itself`);
    assert.equal(readlinkSync(join(hooks, `${hook}.dvx-chained`)), target);
  }

  // Missing, it is skipped, as git skips it without dvx; once there, it runs first.
  writeFileSync(join(ws, 'a.txt'), 'a');
  git(ws, ['add', 'a.txt']);
  const first = gitRun(ws, ['commit', '-m', 'one']);
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(shared, '#!/bin/sh\necho "shared hook ran" >&2\n');
  chmodSync(shared, 0o755);
  writeFileSync(join(ws, 'b.txt'), 'b');
  git(ws, ['add', 'b.txt']);
  const second = gitRun(ws, ['commit', '-m', 'two']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /shared hook ran/);

  // Installing again refreshes the shims and leaves the links alone.
  assert.deepEqual((await dvxJson(ws, ['install'])).chained, []);
  const un = await dvxJson(ws, ['uninstall']);
  assert.deepEqual(un.restored, ['pre-commit', 'pre-push']);
  for (const [hook, target] of [['pre-commit', shared], ['pre-push', sharedPush]] as const) {
    assert.ok(lstatSync(join(hooks, hook)).isSymbolicLink(), `${hook} is a symlink again`);
    assert.equal(readlinkSync(join(hooks, hook)), target);
    assert.ok(!existsSync(join(hooks, `${hook}.dvx-chained`)) && !lstatSafe(join(hooks, `${hook}.dvx-chained`)));
  }
});

function lstatSafe(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A private HOME and global git config: `--global` must never touch the real ~/.gitconfig. */
function privateHome(t: Parameters<typeof tempDir>[0]) {
  const home = tempDir(t, 'dvx-home-');
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_GLOBAL: join(home, '.gitconfig'), GIT_CONFIG_NOSYSTEM: '1' };
  writeFileSync(env.GIT_CONFIG_GLOBAL, '[user]\n\temail = test@example.com\n\tname = dvx test\n[commit]\n\tgpgsign = false\n');
  const config = (key: string) => {
    const r = gitRun(home, ['config', '--global', '--get', key], env);
    return r.code === 0 ? r.stdout.replace(/\n$/, '') : undefined;
  };
  /** A new repository, as `git init` makes it with this HOME: its .git listed, hooks and all. */
  const fresh = (name: string) => {
    const dir = join(home, name);
    gitOk(home, ['init', '-q', '-b', 'main', dir], env);
    return { dir, files: listTree(join(dir, '.git')).filter((p) => /^(hooks|info)\/|^description$/.test(p)) };
  };
  return { home, env, config, fresh };
}

function listTree(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTree(dir, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

const DVX_HOOKS = ['pre-commit', 'post-commit', 'pre-push', 'post-checkout', 'post-merge', 'post-rewrite'];

test('install --global keeps what git copies into new repositories; uninstall --global unsets init.templateDir it set', async (t) => {
  const h = privateHome(t);
  const before = h.fresh('before');
  assert.ok(before.files.includes('info/exclude'), `git's default template here: ${before.files.join(' ')}`);

  const r = await dvxJson(h.home, ['install', '--global'], h.env);
  const ours = join(h.home, '.config/dvx/git-template');
  assert.equal(r.templateDir, ours);
  assert.equal(r.previous, null);
  assert.equal(h.config('init.templateDir'), ours);
  const during = h.fresh('during');
  assert.deepEqual(during.files, [...before.files, ...DVX_HOOKS.map((n) => `hooks/${n}`)].sort(), 'git\'s own template files, and the hooks');
  assert.match(readFileSync(join(during.dir, '.git/hooks/pre-push'), 'utf8'), /# dvx hook shim/);
  assert.equal(readFileSync(join(during.dir, '.git/info/exclude'), 'utf8'), readFileSync(join(before.dir, '.git/info/exclude'), 'utf8'));

  const again = await dvxJson(h.home, ['install', '--global'], h.env);
  assert.deepEqual([again.previous, again.chained, again.refreshed.length], [null, [], DVX_HOOKS.length]);

  const un = await dvxJson(h.home, ['uninstall', '--global'], h.env);
  assert.equal(un.templateDir, null);
  assert.equal(h.config('init.templateDir'), undefined, 'init.templateDir is unset');
  assert.equal(h.config('dvx.previousTemplateDir'), undefined);
  assert.ok(!existsSync(ours));
  assert.deepEqual(h.fresh('after').files, before.files, 'new repositories are as git makes them without dvx');
});

test('install --global over a template of your own: copies it, chains its hooks; uninstall --global points init.templateDir back at it, untouched', async (t) => {
  const h = privateHome(t);
  const mine = join(h.home, 'my-template');
  mkdirSync(join(mine, 'hooks'), { recursive: true });
  mkdirSync(join(mine, 'info'));
  writeFileSync(join(mine, 'hooks/pre-commit'), '#!/bin/sh\necho "template hook ran" >&2\n');
  chmodSync(join(mine, 'hooks/pre-commit'), 0o755);
  writeFileSync(join(mine, 'info/exclude'), '*.log\n');
  gitOk(h.home, ['config', '--global', 'init.templateDir', '~/my-template'], h.env);
  const mineBefore = listTree(mine);

  const r = await dvxJson(h.home, ['install', '--global'], h.env);
  assert.deepEqual([r.previous, r.copiedFrom, r.chained], ['~/my-template', mine, ['pre-commit']]);
  assert.deepEqual(listTree(mine), mineBefore, 'your template is not changed');
  const repo = h.fresh('repo');
  assert.equal(readFileSync(join(repo.dir, '.git/info/exclude'), 'utf8'), '*.log\n');
  assert.match(readFileSync(join(repo.dir, '.git/hooks/pre-commit'), 'utf8'), /# dvx hook shim/);
  writeFileSync(join(repo.dir, 'a.txt'), 'a');
  gitOk(repo.dir, ['add', 'a.txt'], h.env);
  assert.match(gitOk(repo.dir, ['commit', '-m', 'a'], h.env), /template hook ran/);

  const un = await dvxJson(h.home, ['uninstall', '--global'], h.env);
  assert.equal(un.templateDir, '~/my-template');
  assert.equal(h.config('init.templateDir'), '~/my-template');
  assert.equal(h.config('dvx.previousTemplateDir'), undefined);
  assert.deepEqual(listTree(mine), mineBefore);
  assert.equal(readFileSync(join(h.fresh('later').dir, '.git/hooks/pre-commit'), 'utf8'), '#!/bin/sh\necho "template hook ran" >&2\n');
});

test("install --global over the hooks-only template folder an older dvx set up: git's defaults are added; uninstall --global unsets init.templateDir", async (t) => {
  const h = privateHome(t);
  const expected = h.fresh('plain').files;
  const ours = join(h.home, '.config/dvx/git-template');
  mkdirSync(join(ours, 'hooks'), { recursive: true });
  gitOk(h.home, ['config', '--global', 'init.templateDir', ours], h.env);
  assert.deepEqual(h.fresh('broken').files, [], 'what the older dvx left: no info/exclude');

  const r = await dvxJson(h.home, ['install', '--global'], h.env);
  assert.equal(r.previous, null);
  assert.deepEqual(h.fresh('repaired').files, [...expected, ...DVX_HOOKS.map((n) => `hooks/${n}`)].sort());
  await dvxOk(h.home, ['uninstall', '--global'], h.env);
  assert.equal(h.config('init.templateDir'), undefined);
  assert.deepEqual(h.fresh('after').files, expected);
});

/** A server holding `repo` pushed from pushingWorkspace, and `dvx get` of it run in an empty folder with a read token. */
async function pushedForGet(t: Parameters<typeof workspace>[0], repo: string) {
  const { server, token, ws } = await pushingWorkspace(t, repo);
  gitOk(ws, ['push', '-q', 'origin', 'main'], { DVX_TOKEN: token });
  const env = { DVX_TOKEN: await server.token(repo, 'read') };
  const out = tempDir(t, 'dvx-get-');
  const get = (args: string[]) => dvx(out, ['get', server.url, repo, ...args], env);
  return { server, repo, env, out, get };
}

test('get: a directory cannot go to stdout; -o an existing folder takes a file under its name; nothing is replaced without --force', async (t) => {
  const { out, get } = await pushedForGet(t, 'getting');
  const events = seededBytes(3, 20_000);

  // A directory to stdout: refused before anything is written, and nothing named '-' appears.
  const toStdout = await get(['images', '-o', '-']);
  assert.equal(toStdout.code, 1);
  assert.equal(toStdout.stdout, '');
  assert.match(toStdout.stderr, /images@HEAD is a directory: it cannot be written to standard output/);
  assert.match(toStdout.stderr, /hint: give -o the folder to unpack it into/);
  assert.deepEqual(readdirSync(out), []);

  // -o an existing folder, or a path ending in '/': the file goes in under its own name.
  mkdirSync(join(out, 'into'));
  const into = await get(['events.csv', '-o', 'into', '--json']);
  assert.equal(into.code, 0, into.stderr);
  assert.equal(JSON.parse(into.stdout).output, join(out, 'into/events.csv'));
  assert.deepEqual(readFileSync(join(out, 'into/events.csv')), events);
  assert.equal((await get(['events.csv', '-o', 'new/'])).code, 0);
  assert.deepEqual(readFileSync(join(out, 'new/events.csv')), events);

  // An existing file is kept unless --force.
  writeFileSync(join(out, 'mine.csv'), 'mine');
  for (const args of [['events.csv', '-o', 'mine.csv'], ['events.csv', '-o', 'into']]) {
    const r = await get(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /exists[^]*hint: add --force to replace it/);
  }
  assert.equal(readFileSync(join(out, 'mine.csv'), 'utf8'), 'mine');
  assert.equal((await get(['events.csv', '-o', 'mine.csv', '--force'])).code, 0);
  assert.deepEqual(readFileSync(join(out, 'mine.csv')), events);

  // A directory: into a new or empty folder; a full one only with --force, which replaces it; never over a file.
  assert.equal((await get(['images', '-o', 'imgs'])).code, 0);
  mkdirSync(join(out, 'empty'));
  assert.equal((await get(['images', '-o', 'empty'])).code, 0);
  assert.deepEqual(readFileSync(join(out, 'empty/a.png')), seededBytes(1, 5000));
  writeFileSync(join(out, 'imgs/extra.png'), 'not from the server');
  const full = await get(['images', '-o', 'imgs']);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /imgs exists[^]*--force/);
  assert.ok(existsSync(join(out, 'imgs/extra.png')));
  assert.equal((await get(['images', '-o', 'imgs', '--force'])).code, 0);
  assert.deepEqual(readdirSync(join(out, 'imgs')).sort(), ['a.png', 'b.png']);
  const overFile = await get(['images', '-o', 'mine.csv', '--force']);
  assert.equal(overFile.code, 1);
  assert.match(overFile.stderr, /mine\.csv is a file/);

  assert.deepEqual(readdirSync(out).sort(), ['empty', 'imgs', 'into', 'mine.csv', 'new'], 'failed downloads leave nothing behind');
});

test('get --rev main~1: one message saying which revisions the server takes (it resolves names, not expressions)', async (t) => {
  const { server, repo, env, out, get } = await pushedForGet(t, 'revs');

  const expr = await get(['events.csv', '--rev', 'main~1']);
  assert.equal(expr.code, 1);
  assert.match(expr.stderr, /--rev "main~1": the server takes a branch, a tag, a commit sha \(full or abbreviated\)/);
  assert.match(expr.stderr, /git rev-parse/);
  // and the server's own answer says it once too
  const a = await request(server.url, `/api/v1/repos/${repo}/files/main~1/events.csv`, { token: env.DVX_TOKEN });
  assert.equal(a.status, 400);
  assert.equal(a.text().match(/expected/g)?.length, 1, a.text());
  assert.match(a.text(), /revision expressions such as main~1 are not resolved/);
  assert.match((await get(['events.csv', '--rev', 'HEAD^'])).stderr, /--rev "HEAD\^": the server takes/);
  const h = await request(server.url, `/api/v1/repos/${repo}/history?path=events.csv&ref=main~1`, { token: env.DVX_TOKEN });
  assert.equal(h.status, 400);
  assert.equal(h.text().match(/expected/g)?.length, 1, h.text());
  assert.deepEqual(readdirSync(out), []);
});

test('HEAD on the server is the default branch (main, else master, else the only one), for files, datasets and `dvx get`, which asks for it when no --rev is given', async (t) => {
  const repo = 'heads';
  const { server, token, ws } = await pushingWorkspace(t, repo);
  const env = { DVX_TOKEN: await server.token(repo, 'read') };
  const out = tempDir(t, 'dvx-get-');
  const get = (args: string[]) => dvx(out, ['get', server.url, repo, ...args, '-o', 'got', '--force'], env);
  const got = () => readFileSync(join(out, 'got'));
  const headCommit = async () => {
    const a = await request(server.url, `/api/v1/repos/${repo}/datasets?ref=HEAD`, { token: env.DVX_TOKEN });
    return a.status === 200 ? a.json().commit : a.status;
  };
  const c1 = git(ws, ['rev-parse', 'HEAD']).trim();
  const v1 = seededBytes(3, 20_000);

  // Only one branch, and it is not main: HEAD is that branch.
  gitOk(ws, ['push', '-q', 'origin', 'main:trunk'], { DVX_TOKEN: token });
  assert.equal(await headCommit(), c1);
  const file = await request(server.url, `/api/v1/repos/${repo}/files/HEAD/events.csv`, { token: env.DVX_TOKEN });
  assert.equal(file.status, 200, file.text());
  assert.deepEqual(file.body, v1);
  for (const args of [['events.csv', '--rev', 'HEAD'], ['events.csv']]) {
    const r = await get(args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(got(), v1);
  }

  // Two branches, neither main nor master: HEAD names none, and the answer lists them.
  gitOk(ws, ['push', '-q', 'origin', 'main:dev'], { DVX_TOKEN: token });
  const none = await request(server.url, `/api/v1/repos/${repo}/files/HEAD/events.csv`, { token: env.DVX_TOKEN });
  assert.equal(none.status, 404);
  assert.match(none.text(), /HEAD is the default branch: main, else master, else the only branch; this repository has 2 branches \(dev, trunk\): name one/);
  assert.equal(await headCommit(), 404);
  const noRev = await get(['events.csv']);
  assert.equal(noRev.code, 1);
  assert.match(noRev.stderr, /dev, trunk/);
  assert.match(noRev.stderr, /hint: name the branch with --rev, e\.g\. `--rev dev`/);

  // master, then main.
  gitOk(ws, ['push', '-q', 'origin', 'main:master'], { DVX_TOKEN: token });
  assert.equal(await headCommit(), c1);
  writeFileSync(join(ws, 'events.csv'), seededBytes(4, 1000));
  await dvxOk(ws, ['add', 'events.csv']);
  gitOk(ws, ['commit', '-qm', 'v2'], { DVX_TOKEN: token });
  gitOk(ws, ['push', '-q', 'origin', 'main'], { DVX_TOKEN: token });
  const c2 = git(ws, ['rev-parse', 'HEAD']).trim();
  assert.equal(await headCommit(), c2);
  const r = await get(['events.csv']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(got(), seededBytes(4, 1000));
});
