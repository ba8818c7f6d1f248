import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { encodePendingPush } from '../cli/remote/pending-pushes.ts';
import { trackingRef } from '../cli/remote/push-settle.ts';
import { dvxOk, git, gitOk, gitRun, hookedWorkspace } from './support/cli.ts';
import { request } from './support/http.ts';
import { deadPid } from './support/pids.ts';
import { seededBytes } from './support/prng.ts';
import { hookedServerWorkspace, serverRefs } from './support/server.ts';

/**
 * pre-push records the refs before git sends anything; when git then does not
 * move the remote's refs (a dry run, a remote that rejects the push), the
 * settler it leaves behind puts the dvx server's refs back to what the remote
 * has. Real git, real hooks, a real bare remote with a pre-receive hook, the
 * compiled dvx and dvx-server.
 */
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const api = (repo: string, rest: string) => `/api/v1/repos/${repo}/${rest}`;

function pendingDir(ws: string): string {
  const p = git(ws, ['rev-parse', '--git-path', 'dvx-pending-pushes']).trim();
  return isAbsolute(p) ? p : join(ws, p);
}

function notes(ws: string): string[] {
  const dir = pendingDir(ws);
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : [];
}

/** Waits until every push's note is settled (the settler runs detached, after git exits). */
async function settled(ws: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (notes(ws).length > 0 || existsSync(join(pendingDir(ws), 'lock'))) {
    if (Date.now() > deadline) throw new Error(`pushes not settled after 30 s: ${notes(ws).join(', ')}\n${settleLog(ws)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function settleLog(ws: string): string {
  const p = join(ws, '.dvx', 'logs', 'push-settle.log');
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

/** A pre-receive hook that refuses every push while `reject` exists in the bare repository. */
function rejectingRemote(bare: string): { on(): void; off(): void } {
  const hook = join(bare, 'hooks', 'pre-receive');
  mkdirSync(join(bare, 'hooks'), { recursive: true });
  writeFileSync(hook, '#!/bin/sh\nif [ -f reject ]; then echo "protected branch: push refused" >&2; exit 1; fi\nexit 0\n');
  chmodSync(hook, 0o755);
  return { on: () => writeFileSync(join(bare, 'reject'), ''), off: () => rmSync(join(bare, 'reject'), { force: true }) };
}

test('refs of a push git did not complete go back to what the remote has: --dry-run, a rejected branch, new branch and tag; the retry records them', async (t) => {
  const repo = 'settle';
  const { server, read, env, ws, bare } = await hookedServerWorkspace(t, repo);
  const remote = rejectingRemote(bare);
  mkdirSync(join(ws, 'data'));

  const v1 = seededBytes(11, 200_000);
  const v2 = seededBytes(12, 200_000);
  writeFileSync(join(ws, 'data/a.bin'), v1);
  await dvxOk(ws, ['add', 'data/a.bin']);
  gitOk(ws, ['commit', '-qm', 'v1'], env);
  const c1 = git(ws, ['rev-parse', 'HEAD']).trim();
  gitOk(ws, ['tag', 'v1']);
  gitOk(ws, ['push', '-q', 'origin', 'main', 'v1'], env);
  await settled(ws);
  assert.deepEqual(await serverRefs(server, read, repo), { 'refs/heads/main': c1, 'refs/tags/v1': c1 });

  writeFileSync(join(ws, 'data/a.bin'), v2);
  await dvxOk(ws, ['add', 'data/a.bin']);
  gitOk(ws, ['commit', '-qm', 'v2'], env);
  const c2 = git(ws, ['rev-parse', 'HEAD']).trim();

  // A dry run runs pre-push, which records main at c2; git sends nothing, so main goes back to c1.
  gitOk(ws, ['push', '-q', '--dry-run', 'origin', 'main'], env);
  await settled(ws);
  assert.equal((await serverRefs(server, read, repo))['refs/heads/main'], c1, settleLog(ws));
  assert.match(settleLog(ws), /git did not push refs\/heads\/main .*back to/);

  // The remote refuses: an existing branch, a new branch and a new tag are all set back or deleted.
  remote.on();
  gitOk(ws, ['tag', 'v2']);
  const refused = gitRun(ws, ['push', 'origin', 'main', 'HEAD:refs/heads/feature', 'v2'], env);
  assert.notEqual(refused.code, 0, refused.stderr);
  assert.match(refused.stderr, /protected branch/);
  await settled(ws);
  assert.deepEqual(await serverRefs(server, read, repo), { 'refs/heads/main': c1, 'refs/tags/v1': c1 }, settleLog(ws));
  const atMain = await request(server.url, api(repo, 'files/main/data/a.bin'), { token: read });
  assert.equal(sha256(atMain.body), sha256(v1));
  assert.equal((await request(server.url, api(repo, 'files/feature/data/a.bin'), { token: read })).status, 404);

  // The same push, once the remote takes it: recorded, and the settler leaves it.
  remote.off();
  gitOk(ws, ['push', '-q', 'origin', 'main', 'HEAD:refs/heads/feature', 'v2'], env);
  await settled(ws);
  assert.deepEqual(await serverRefs(server, read, repo), { 'refs/heads/feature': c2, 'refs/heads/main': c2, 'refs/tags/v1': c1, 'refs/tags/v2': c2 }, settleLog(ws));
  assert.equal(sha256((await request(server.url, api(repo, 'files/main/data/a.bin'), { token: read })).body), sha256(v2));

  // A branch deletion the remote refuses: the server's branch comes back.
  remote.on();
  assert.notEqual(gitRun(ws, ['push', 'origin', ':feature'], env).code, 0);
  await settled(ws);
  assert.equal((await serverRefs(server, read, repo))['refs/heads/feature'], c2, settleLog(ws));
  remote.off();
  gitOk(ws, ['push', '-q', 'origin', ':feature'], env);
  await settled(ws);
  assert.equal((await serverRefs(server, read, repo))['refs/heads/feature'], undefined, settleLog(ws));
});

test('a note no settler acted on (the settler killed) is settled by the next push, before it records; a damaged note is moved aside', async (t) => {
  const repo = 'settle-crash';
  const { server, read, env, ws, bare } = await hookedServerWorkspace(t, repo);
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'data/a.bin'), seededBytes(21, 100_000));
  await dvxOk(ws, ['add', 'data/a.bin']);
  gitOk(ws, ['commit', '-qm', 'v1'], env);
  const c1 = git(ws, ['rev-parse', 'HEAD']).trim();
  gitOk(ws, ['push', '-q', 'origin', 'main'], env);
  await settled(ws);

  // c2 recorded with main at it, as a push the remote refused would leave it if its settler never ran.
  writeFileSync(join(ws, 'data/a.bin'), seededBytes(22, 100_000));
  await dvxOk(ws, ['add', 'data/a.bin']);
  gitOk(ws, ['commit', '-qm', 'v2'], env);
  const c2 = git(ws, ['rev-parse', 'HEAD']).trim();
  await dvxOk(ws, ['push', '--commits', '--force', 'main'], env);
  assert.equal((await serverRefs(server, read, repo))['refs/heads/main'], c2);
  const dir = pendingDir(ws);
  mkdirSync(dir, { recursive: true });
  const note = { version: 1 as const, gitPid: deadPid(), remote: 'origin', url: bare, dvxRemote: 'origin', created: new Date().toISOString(), refs: [{ name: 'refs/heads/main', pushed: c2, sha: c2, old: c1 }] };
  writeFileSync(join(dir, '1-1-aaaaaa.json'), encodePendingPush(note));
  writeFileSync(join(dir, '2-1-bbbbbb.json'), '{"version": 1, "gitPid": "no"}');
  // One naming a dvx remote since removed cannot be settled, ever: given up, not retried on every push.
  writeFileSync(join(dir, '3-1-cccccc.json'), encodePendingPush({ ...note, dvxRemote: 'gone' }));

  // The next push (of another branch) settles the note first, and says so.
  gitOk(ws, ['branch', 'other', c1]);
  const out = gitOk(ws, ['push', 'origin', 'other'], env);
  assert.match(out, /git did not push refs\/heads\/main \(.{8}\) to .*: the dvx server's refs\/heads\/main is back to .{8}, as on the remote/);
  assert.match(out, /note .*2-1-bbbbbb\.json is damaged .*moved aside/);
  assert.ok(existsSync(join(dir, '2-1-bbbbbb.json.bad')));
  assert.match(out, /could not settle the refs of an earlier push \(refs\/heads\/main\): .*gone.*given up/);
  assert.ok(!existsSync(join(dir, '3-1-cccccc.json')));
  await settled(ws);
  assert.deepEqual(await serverRefs(server, read, repo), { 'refs/heads/main': c1, 'refs/heads/other': c1 }, settleLog(ws));
});

test("a remote's refspecs say where git keeps its copy of a ref", async (t) => {
  const { ws } = await hookedWorkspace(t, 'http://127.0.0.1:9/unused');
  git(ws, ['config', '--add', 'remote.origin.fetch', '^refs/heads/skip/*']);
  git(ws, ['config', '--add', 'remote.origin.fetch', 'refs/tags/v1:refs/tags/v1']);
  git(ws, ['config', '--add', 'remote.origin.fetch', '+refs/heads/team/*/wip:refs/remotes/origin/wip/*']);
  assert.equal(trackingRef(ws, 'origin', 'refs/heads/main'), 'refs/remotes/origin/main');
  assert.equal(trackingRef(ws, 'origin', 'refs/heads/a/b'), 'refs/remotes/origin/a/b');
  assert.equal(trackingRef(ws, 'origin', 'refs/tags/v1'), 'refs/tags/v1');
  assert.equal(trackingRef(ws, 'origin', 'refs/tags/v2'), undefined);
  // The first refspec that matches is the one git updates after a push.
  assert.equal(trackingRef(ws, 'origin', 'refs/heads/team/x/wip'), 'refs/remotes/origin/team/x/wip');
  assert.equal(trackingRef(ws, 'nowhere', 'refs/heads/main'), undefined);
});
