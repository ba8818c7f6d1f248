import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import * as fs from 'node:fs';
import { encodePointer } from '../../core/pointer.ts';
import { parseCommit } from './git-batch.ts';
import { GitHistory } from './git-history.ts';

/**
 * The bulk readers (git plumbing) must give exactly what the object-by-object
 * readers (isomorphic-git) give: the same pointer changes, the same commit
 * fields, the same walk.
 */
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'Ann', GIT_AUTHOR_EMAIL: 'ann@example.invalid', GIT_COMMITTER_NAME: 'Ann', GIT_COMMITTER_EMAIL: 'ann@example.invalid', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir() };

function repo(t: TestContext): { dir: string; g: (args: string[], input?: string) => string; commit: (msg: string, files: Record<string, string | null>) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-git-batch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const g = (args: string[], input?: string) => execFileSync('git', args, { cwd: dir, env: ENV, input, encoding: 'utf8' });
  g(['init', '-q', '-b', 'main']);
  let n = 0;
  const commit = (msg: string, files: Record<string, string | null>) => {
    for (const [path, content] of Object.entries(files)) {
      if (content === null) rmSync(join(dir, path), { recursive: true, force: true });
      else {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
    }
    g(['add', '-A']);
    n++;
    execFileSync('git', ['commit', '-q', '--allow-empty', '-m', msg], { cwd: dir, env: { ...ENV, GIT_AUTHOR_DATE: `${1700000000 + n} +0130`, GIT_COMMITTER_DATE: `${1700000000 + n} -0700` } });
    return g(['rev-parse', 'HEAD']).trim();
  };
  return { dir, g, commit };
}

function pointer(name: string, seed: number, type: 'file' | 'dir' = 'file'): string {
  const hex = (k: number) => k.toString(16).padStart(2, '0').repeat(32);
  return encodePointer({ path: name, type, size: seed * 100, ...(type === 'dir' ? { files: seed } : {}), sha256: hex(seed), manifest: hex(seed + 100) });
}

test('changesMany and pointersAt list the same pointer changes as the tree walk', async (t) => {
  const { dir, commit } = repo(t);
  const shas = [
    commit('first', { 'a.bin.dvx': pointer('a.bin', 1), 'code.py': 'print(1)\n', 'd/x.csv.dvx': pointer('x.csv', 2), '.dvx/config.dvx': 'not a pointer\n', 'ünï cödé/ñ.bin.dvx': pointer('ñ.bin', 3) }),
    commit('change one, add one, remove one', { 'a.bin.dvx': pointer('a.bin', 4), 'd/y.csv.dvx': pointer('y.csv', 5), 'd/x.csv.dvx': null, 'code.py': 'print(2)\n' }),
    commit('a directory of pointers becomes a pointer file', { d: null, 'd.dvx': pointer('d', 6, 'dir') }),
    commit('code only', { 'code.py': 'print(3)\n' }),
    commit('and back', { 'd.dvx': null, 'd/z.csv.dvx': pointer('z.csv', 7) }),
  ];
  const walk = GitHistory.open(dir);
  const batch = GitHistory.open(dir);
  const pairs = shas.map((to, i) => ({ from: i === 0 ? undefined : shas[i - 1], to }));
  pairs.push({ from: shas[0], to: shas[4]! }, { from: shas[4], to: shas[0]! });
  const many = await batch.changesMany(pairs);
  for (let i = 0; i < pairs.length; i++) {
    const one = await walk.changes(pairs[i]!.from, pairs[i]!.to);
    assert.deepEqual([...many[i]!.set].sort(), [...one.set].sort(), `pair ${i}`);
    assert.deepEqual([...many[i]!.removed].sort(), [...one.removed].sort(), `pair ${i}`);
  }
  assert.deepEqual([...many[1]!.set.keys()].sort(), ['a.bin', 'd/y.csv']);
  assert.deepEqual(many[1]!.removed, ['d/x.csv']);
  assert.deepEqual([...many[2]!.set.keys()], ['d']);
  assert.equal(many[3]!.set.size + many[3]!.removed.length, 0);
  for (const sha of shas) assert.deepEqual([...(await batch.pointersAt(sha))].sort(), [...(await walk.changes(undefined, sha)).set].sort());
  assert.deepEqual([...(await batch.pointersAt(shas[0]!)).keys()].sort(), ['a.bin', 'd/x.csv', 'ünï cödé/ñ.bin']);
});

test('a broken pointer file is reported with its commit and path', async (t) => {
  const { dir, commit } = repo(t);
  const a = commit('ok', { 'a.bin.dvx': pointer('a.bin', 1) });
  const b = commit('broken', { 'a.bin.dvx': 'size: nonsense\n' });
  await assert.rejects(GitHistory.open(dir).changesMany([{ from: a, to: b }]), (err: Error) => /a\.bin\.dvx is not a valid pointer/.test(err.message) && err.message.includes(b.slice(0, 10)));
  // A commit git does not have fails cleanly, whichever of the two commands notices.
  await assert.rejects(GitHistory.open(dir).changesMany([{ from: a, to: 'f'.repeat(40) }]), (err: Error & { code?: string }) => err.code === 'git_failed');
});

test('parseCommit reads commit objects exactly as isomorphic-git does', async (t) => {
  const { dir, g } = repo(t);
  const tree = g(['mktree'], '').trim();
  const p1 = '1'.repeat(40);
  const p2 = '2'.repeat(40);
  const objects = [
    `tree ${tree}\nauthor A U Thor <a@example.invalid> 1700000000 +0130\ncommitter C O Mitter <c@example.invalid> 1700000001 -0700\n\nsubject\n\nbody line\n`,
    `tree ${tree}\nparent ${p1}\nparent ${p2}\nauthor  Spaces  <a@x> 1 +0000\ncommitter N <c@x> 2 -0000\nencoding ISO-8859-1\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\n\n\nmessage with\r\nCRLF and leading blank lines\n\n\n`,
    `tree ${tree}\nauthor A <a@x> 5 +1400\ncommitter A <a@x> 5 -1200\nauthor Second <s@x> 9 +0100\nparent ${p1}\n\n`,
    `tree ${tree}\nauthor Ünïcödé <ü@x> 7 +0545\ncommitter Ünïcödé <ü@x> 7 +0545\n\nno final newline`,
  ];
  for (const text of objects) {
    const sha = g(['hash-object', '-t', 'commit', '-w', '--literally', '--stdin'], text).trim();
    const bytes = Buffer.from(text, 'utf8');
    const { commit: iso } = await git.readCommit({ fs, dir, oid: sha });
    const mine = parseCommit(sha, bytes);
    assert.deepEqual({ tree: mine.tree, parent: mine.parents, message: mine.message, author: mine.author, committer: mine.committer }, { tree: iso.tree, parent: iso.parent, message: iso.message, author: iso.author, committer: iso.committer });
  }
  assert.throws(() => parseCommit('x', Buffer.from(`tree ${tree}\nauthor nobody\n\nm\n`)), /author line is missing or malformed/);
});

test('newCommits walks with git, stops at known commits, and reads the same commits as commit()', async (t) => {
  const { dir, g, commit } = repo(t);
  const root = commit('root', { 'a.bin.dvx': pointer('a.bin', 1) });
  const known = commit('known', { 'a.bin.dvx': pointer('a.bin', 2) });
  const side = commit('side', { 'b.bin.dvx': pointer('b.bin', 3) });
  g(['checkout', '-q', '-b', 'other', known]);
  const other = commit('other', { 'c.bin.dvx': pointer('c.bin', 4) });
  g(['checkout', '-q', 'main']);
  g(['merge', '-q', '--no-edit', 'other']);
  const merge = g(['rev-parse', 'HEAD']).trim();
  const tip = commit('tip', { 'a.bin.dvx': pointer('a.bin', 5) });

  const h = GitHistory.open(dir);
  const asked: string[][] = [];
  const found = await h.newCommits([tip], async (shas) => {
    asked.push(shas);
    return new Set(shas.filter((s) => s === known));
  }, 2);
  assert.deepEqual(new Set(found.map((c) => c.sha)), new Set([side, other, merge, tip]));
  assert.ok(asked.every((b) => b.length <= 2), 'asked in batches');
  // Parents before children.
  const at = new Map(found.map((c, i) => [c.sha, i]));
  for (const c of found) for (const p of c.parents) if (at.has(p)) assert.ok(at.get(p)! < at.get(c.sha)!);
  const fresh = GitHistory.open(dir);
  for (const c of found) assert.deepEqual(c, await fresh.commit(c.sha));

  const all = await GitHistory.open(dir).newCommits([tip, other, '0'.repeat(40)], async () => new Set());
  assert.equal(all.length, 6);
  assert.equal(all[0]!.sha, root);
  assert.deepEqual(await GitHistory.open(dir).newCommits([tip], async (shas) => new Set(shas.filter((s) => s === tip))), []);
});
