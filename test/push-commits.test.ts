import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, gitOk, tempDir, workspace } from './support/cli.ts';
import { request } from './support/http.ts';
import { seededBytes } from './support/prng.ts';
import { hookedServerWorkspace, type TestServer } from './support/server.ts';

/**
 * `dvx push --commits`: commits that reached the git remote without the
 * pre-push hook (`git push --no-verify`) are recorded afterwards, as the hook
 * would have: real git, real hooks, the compiled dvx and dvx-server.
 */
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const api = (repo: string, rest: string) => `/api/v1/repos/${repo}/${rest}`;

async function fileAt(s: TestServer, token: string, repo: string, ref: string, path: string): Promise<{ status: number; sha256: string }> {
  const a = await request(s.url, api(repo, `files/${encodeURIComponent(ref)}/${path}`), { token });
  return { status: a.status, sha256: sha256(a.body) };
}

async function getJson(s: TestServer, token: string, path: string): Promise<any> {
  const a = await request(s.url, path, { token });
  assert.equal(a.status, 200, `${path}: ${a.status} ${a.text().slice(0, 400)}`);
  return a.json();
}

test('commits pushed with --no-verify are recorded by dvx push --commits: a remote-tracking branch, a tag, the current branch; again sends nothing; a ref is not moved back', async (t) => {
  const repo = 'unhooked';
  const { server, read, env, ws, bare } = await hookedServerWorkspace(t, repo);
  mkdirSync(join(ws, 'data'));

  const v1 = seededBytes(1, 300_000);
  const v2 = Buffer.concat([v1.subarray(0, 150_000), seededBytes(2, 20_000), v1.subarray(150_000)]);
  writeFileSync(join(ws, 'data/a.csv'), v1);
  await dvxOk(ws, ['add', 'data/a.csv']);
  gitOk(ws, ['commit', '-qm', 'v1'], env);
  gitOk(ws, ['tag', '-a', 'v1', '-m', 'release 1']);
  const c1 = git(ws, ['rev-parse', 'HEAD']).trim();
  writeFileSync(join(ws, 'data/a.csv'), v2);
  await dvxOk(ws, ['add', 'data/a.csv']);
  gitOk(ws, ['commit', '-qm', 'v2'], env);
  const c2 = git(ws, ['rev-parse', 'HEAD']).trim();
  gitOk(ws, ['push', '-q', '--no-verify', 'origin', 'main', 'v1'], env);
  gitOk(ws, ['fetch', '-q', 'origin'], env);

  // Nothing recorded them: the server cannot resolve the branch.
  assert.equal((await fileAt(server, read, repo, 'main', 'data/a.csv')).status, 404);

  // A remote-tracking branch is recorded under the remote's name for it.
  const first = await dvxJson(ws, ['push', '--commits', 'origin/main'], env);
  assert.deepEqual(first.refs, [{ local: 'refs/remotes/origin/main', name: 'refs/heads/main', sha: c2, updated: true }]);
  assert.equal(first.commits, 2);
  assert.ok(first.uploadedBytes > v1.length, `uploaded ${first.uploadedBytes}`);
  assert.deepEqual(await fileAt(server, read, repo, 'main', 'data/a.csv'), { status: 200, sha256: sha256(v2) });
  assert.deepEqual(await fileAt(server, read, repo, c1, 'data/a.csv'), { status: 200, sha256: sha256(v1) });
  const h = await getJson(server, read, api(repo, 'history?path=data/a.csv'));
  assert.deepEqual(h.versions.map((v: any) => [v.commit, v.sha256]), [[c2, sha256(v2)], [c1, sha256(v1)]]);

  // Again: the server has everything, so nothing is sent.
  const again = await dvxJson(ws, ['push', '--commits', 'origin/main'], env);
  assert.deepEqual([again.commits, again.uploadedBlobs, again.packs, again.refs[0].updated], [0, 0, 0, false]);
  const text = await dvxOk(ws, ['push', '--commits', 'origin/main'], env);
  assert.match(text.stdout, /already has refs\/heads\/main \([0-9a-f]{10}\) and its commits/);

  // An annotated tag is recorded as the commit it names.
  assert.equal((await fileAt(server, read, repo, 'v1', 'data/a.csv')).status, 404);
  const tagged = await dvxJson(ws, ['push', '--commits', 'v1'], env);
  assert.deepEqual(tagged.refs, [{ local: 'refs/tags/v1', name: 'refs/tags/v1', sha: c1, updated: true }]);
  assert.equal(tagged.commits, 0, 'the tag names a commit already recorded');
  assert.deepEqual(await fileAt(server, read, repo, 'v1', 'data/a.csv'), { status: 200, sha256: sha256(v1) });

  // A stale clone cannot move the server's branch back; the current branch is the default.
  const stale = tempDir(t, 'dvx-stale-');
  gitOk(stale, ['clone', '-q', bare, '.']);
  const v3 = seededBytes(3, 50_000);
  writeFileSync(join(ws, 'data/a.csv'), v3);
  await dvxOk(ws, ['add', 'data/a.csv']);
  gitOk(ws, ['commit', '-qm', 'v3'], env);
  const c3 = git(ws, ['rev-parse', 'HEAD']).trim();
  gitOk(ws, ['push', '-q', '--no-verify', 'origin', 'main'], env);
  const current = await dvxOk(ws, ['push', '--commits'], env);
  assert.match(current.stdout, new RegExp(`recorded 1 commit on .*; set refs/heads/main to ${c3.slice(0, 10)}`));
  assert.deepEqual(await fileAt(server, read, repo, 'main', 'data/a.csv'), { status: 200, sha256: sha256(v3) });
  const back = await dvx(stale, ['push', '--commits', 'origin/main'], env);
  assert.equal(back.code, 1, back.stderr);
  assert.match(back.stderr, new RegExp(`refs/heads/main is at ${c3.slice(0, 10)} on the server, which refs/remotes/origin/main \\(${c2.slice(0, 10)}\\) does not contain[^]*git fetch`));
  assert.deepEqual(await fileAt(server, read, repo, 'main', 'data/a.csv'), { status: 200, sha256: sha256(v3) });

  // --force moves it anyway (as `git push --force` would have).
  const forced = await dvxJson(stale, ['push', '--commits', 'origin/main', '--force'], env);
  assert.deepEqual([forced.commits, forced.refs[0].sha], [0, c2]);
  assert.deepEqual(await fileAt(server, read, repo, 'main', 'data/a.csv'), { status: 200, sha256: sha256(v2) });

  // Not a ref: a usage error.
  for (const [arg, message] of [[c1, /is a commit, not a ref/], ['nope', /no branch, tag or remote-tracking branch named nope/]] as const) {
    const bad = await dvx(ws, ['push', '--commits', arg], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, message);
  }
});

test('dvx push --commits from a clone without the data names the paths and records nothing; the clone that has it records them; without a remote it says so', async (t) => {
  const repo = 'nodata';
  const { server, read, env, ws, bare } = await hookedServerWorkspace(t, repo);
  mkdirSync(join(ws, 'data'));

  writeFileSync(join(ws, 'data/a.csv'), seededBytes(5, 100_000));
  writeFileSync(join(ws, 'data/b.csv'), seededBytes(6, 100_000));
  await dvxOk(ws, ['add', 'data/a.csv', 'data/b.csv']);
  gitOk(ws, ['commit', '-qm', 'data'], env);
  gitOk(ws, ['push', '-q', '--no-verify', 'origin', 'main'], env);

  // A clone where `dvx install` was not run: it has the pointers, not the data.
  const clone = tempDir(t, 'dvx-clone-');
  gitOk(clone, ['clone', '-q', bare, '.']);
  git(clone, ['config', 'user.email', 'ci@example.com']);
  git(clone, ['config', 'user.name', 'ci']);
  const r = await dvx(clone, ['push', '--commits', 'origin/main'], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the remote lacks the data of these 2 paths, and the local cache does not have it either: data\/(a|b)\.csv, data\/(b|a)\.csv/);
  assert.match(r.stderr, /hint: pull it into this clone .*or run `dvx push --commits` in a clone that has it; nothing was recorded/);
  const refs = await request(server.url, api(repo, 'refs'), { token: read });
  assert.ok(refs.status === 404 || refs.json().refs.length === 0, `no ref recorded: ${refs.text()}`);

  // The clone that has the data records them.
  await dvxOk(ws, ['push', '--commits'], env);
  assert.deepEqual(await fileAt(server, read, repo, 'main', 'data/b.csv'), { status: 200, sha256: sha256(seededBytes(6, 100_000)) });

  // Nothing configured: the same error as every command that needs a remote.
  const none = await workspace(t);
  const n = await dvx(none, ['push', '--commits'], env);
  assert.equal(n.code, 1, n.stderr);
  assert.match(n.stderr, /no dvx remote is configured[^]*dvx remote add/);
});
