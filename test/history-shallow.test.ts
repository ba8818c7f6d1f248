import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dvx, dvxJson, dvxOk, git, gitOk, hookedWorkspace, tempDir, workspace } from './support/cli.ts';
import { request } from './support/http.ts';
import { seededBytes } from './support/prng.ts';
import { startServer } from './support/server.ts';

/**
 * Shallow clones (`git clone --depth N`): the commits past the boundary are
 * not there, and git treats the boundary commits as roots. dvx reads history
 * the same way: log lists what it can see and says where history stops, gc
 * keeps what the visible commits need, and a push of new commits on top works.
 */

/** A repository with f at v1..v4, one commit each; returns its path and the versions. */
async function fourVersions(t: Parameters<typeof workspace>[0]) {
  const ws = await workspace(t);
  const versions: Buffer[] = [];
  for (let i = 1; i <= 4; i++) {
    versions.push(seededBytes(40 + i, 100_000));
    writeFileSync(join(ws, 'f'), versions.at(-1)!);
    await dvxOk(ws, ['add', '-q', 'f']);
    git(ws, ['commit', '-qm', `v${i}`]);
  }
  return { ws, versions };
}

/** A `--depth` clone through a file:// URL (a plain path would be a local clone, never shallow). */
function shallowClone(t: Parameters<typeof workspace>[0], from: string, depth: number): string {
  const dir = join(tempDir(t, 'dvx-shallow-'), 'clone');
  git(from, ['clone', '-q', `--depth=${depth}`, `file://${from}`, dir]);
  git(dir, ['config', 'user.email', 'test@example.com']);
  git(dir, ['config', 'user.name', 'dvx test']);
  assert.equal(git(dir, ['rev-parse', '--is-shallow-repository']).trim(), 'true');
  return dir;
}

test('in a shallow clone, log lists the versions it can see and says once where history stops; gc and diff work', async (t) => {
  const { ws, versions } = await fourVersions(t);
  const clone = shallowClone(t, ws, 2);
  const boundary = git(clone, ['rev-parse', 'HEAD~1']).trim();
  // The clone's cache gets the data of the two versions in sight (as `dvx fetch` would).
  for (const v of [versions[2]!, versions[3]!]) {
    writeFileSync(join(clone, 'f'), v);
    await dvxOk(clone, ['add', '-q', 'f']);
  }
  assert.equal(git(clone, ['status', '--porcelain']), '');

  const r = await dvx(clone, ['log', 'f']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trimEnd().split('\n');
  assert.equal(rows.length, 2, r.stdout);
  assert.match(rows[0]!, /dvx test: v4$/);
  // Whether the boundary commit changed f is unknown: its parent is not here.
  assert.match(rows[1]!, new RegExp(`^${boundary.slice(0, 10)} .* {7}\\? new  dvx test: v3$`));
  const message = `history before ${boundary.slice(0, 10)} is not in this shallow clone: \`git fetch --unshallow\` gets it`;
  assert.equal(r.stderr, `dvx: warning: ${message}\n`);

  const j = await dvxJson(clone, ['log', 'f']);
  assert.deepEqual(j.versions.map((v: any) => [v.message, v.newBytes === null]), [['v4', false], ['v3', true]]);
  assert.deepEqual(j.shallow, { boundary: [boundary], message });
  // Cut by -n before the boundary: nothing to say about it.
  assert.equal((await dvxJson(clone, ['log', 'f', '-n', '1'])).shallow, null);
  const limited = await dvx(clone, ['log', 'f', '-n', '1']);
  assert.doesNotMatch(limited.stderr, /shallow/);
  // In the full repository, no note.
  assert.equal((await dvxJson(ws, ['log', 'f'])).shallow, null);

  // diff between two commits of the clone works; one past the boundary is not there, and dvx says why.
  assert.deepEqual((await dvxJson(clone, ['diff', 'HEAD~1', 'HEAD'])).changed.map((x: any) => x.path), ['f']);
  const past = await dvx(clone, ['diff', git(ws, ['rev-parse', 'HEAD~3']).trim(), 'HEAD']);
  assert.equal(past.code, 1);
  assert.match(past.stderr, /does not name a commit\n.*if it is older than this shallow clone's history, `git fetch --unshallow` gets that history/);

  // gc keeps what the visible commits and the working tree name, and drops the rest.
  writeFileSync(join(clone, 'g'), seededBytes(49, 50_000));
  await dvxOk(clone, ['add', '-q', '--no-git-add', 'g']);
  rmSync(join(clone, 'g.dvx'));
  const gc = await dvx(clone, ['gc', '--json']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.ok(JSON.parse(gc.stdout).deletedBlobs > 0, gc.stdout);
  for (const [rev, v] of [['HEAD', versions[3]!], ['HEAD~1', versions[2]!]] as const) {
    git(clone, ['checkout', '-q', rev, '--', 'f.dvx']);
    rmSync(join(clone, 'f'));
    await dvxOk(clone, ['checkout', 'f']);
    assert.deepEqual(readFileSync(join(clone, 'f')), v, rev);
  }
});

/** Commits f at a new version. */
async function commitVersion(ws: string, seed: number, message: string, env: Record<string, string>): Promise<void> {
  writeFileSync(join(ws, 'f'), seededBytes(seed, 100_000));
  await dvxOk(ws, ['add', '-q', 'f']);
  gitOk(ws, ['commit', '-qm', message], env);
}

test('a push from a shallow clone records the new commits, whether the server knows the boundary commit or not', async (t) => {
  const server = await startServer(t, { backend: 'fs' });
  const repo = 'shallow';
  const token = await server.token(repo, 'write');
  const env = { DVX_TOKEN: token };
  const { ws, bare } = await hookedWorkspace(t, `${server.url}/${repo}`);
  const serverCommit = async (sha: string) => {
    const c = await request(server.url, `/api/v1/repos/${repo}/commits/${sha}`, { token });
    return c.status === 404 ? undefined : (assert.equal(c.status, 200, c.text()), c.json());
  };
  await commitVersion(ws, 60, 'v1', env);
  await commitVersion(ws, 61, 'v2', env);
  gitOk(ws, ['push', '-q', 'origin', 'main'], env);

  // The server knows the boundary commit: the new commit goes as changes against it.
  const clone = shallowClone(t, bare, 1);
  await dvxOk(clone, ['install']);
  gitOk(clone, ['checkout', '-q', '-f', 'main'], env);
  await commitVersion(clone, 62, 'v3 from the shallow clone', env);
  assert.match(gitOk(clone, ['push', '-q', 'origin', 'main'], env), /dvx: pushed data for 1 commit/);
  const head = git(clone, ['rev-parse', 'HEAD']).trim();
  assert.deepEqual((await serverCommit(head))?.parents, [git(ws, ['rev-parse', 'HEAD']).trim()]);

  // The server knows the boundary's parent but not the boundary (pushed to git without the hook, its data with
  // `dvx push`): the boundary goes with its full pointer list (its parent is not in the clone to diff against) and
  // with the parents its object names, as a full clone would send them.
  gitOk(ws, ['pull', '-q', 'origin', 'main'], env);
  await commitVersion(ws, 63, 'v4', env);
  gitOk(ws, ['push', '-q', 'origin', 'main'], env);
  await commitVersion(ws, 64, 'v5', env);
  await dvxOk(ws, ['push'], env);
  gitOk(ws, ['push', '-q', '--no-verify', 'origin', 'main'], env);
  const [v4, v5] = [git(ws, ['rev-parse', 'HEAD~1']).trim(), git(ws, ['rev-parse', 'HEAD']).trim()];
  assert.ok(await serverCommit(v4));
  assert.equal(await serverCommit(v5), undefined);
  const clone2 = shallowClone(t, bare, 1);
  await dvxOk(clone2, ['install']);
  gitOk(clone2, ['checkout', '-q', '-f', 'main'], env);
  await commitVersion(clone2, 65, 'v6 from the shallow clone', env);
  const r = gitOk(clone2, ['push', '-q', 'origin', 'main'], env);
  assert.match(r, /dvx: pushed data for 2 commits/);
  assert.deepEqual((await serverCommit(v5))?.parents, [v4], 'the parents the commit names, as a full clone would record them');
  assert.equal((await serverCommit(git(clone2, ['rev-parse', 'HEAD']).trim()))?.pointers, 1);
});
