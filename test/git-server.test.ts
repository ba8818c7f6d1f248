import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { decodeFileManifest } from '../core/file-manifest.ts';
import { decodePointer } from '../core/pointer.ts';
import { decodePack } from '../core/pack.ts';
import { encodeIdList, MediaType, type CommitRecord, type RecordPointer } from '../core/protocol.ts';
import { startAzurite } from './support/azurite.ts';
import { dvx, DVX_BIN, dvxOk, git, gitOk, gitRun, hookedWorkspace, tempDir } from './support/cli.ts';
import { request, errorCode, type Answer } from './support/http.ts';
import { chunkBlob, makeFile, makeTree, push, pushFile, type TestFile } from './support/packs.ts';
import { deadPid } from './support/pids.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * The server half of git integration (docs/protocol.md "Commit records" and
 * "Dataset history"): real git, real hooks installed by `dvx install`, the
 * compiled dvx and dvx-server, on both storage backends; then the protocol's
 * refusals over plain HTTP.
 */
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const azurite = await startAzurite();
after(() => azurite.dispose());

/** A port that is free now, so that a restarted server keeps the URL the workspace's remote names. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const api = (repo: string, rest: string) => `/api/v1/repos/${repo}/${rest}`;

async function getJson(s: TestServer, token: string, path: string): Promise<any> {
  const a = await request(s.url, path, { token });
  assert.equal(a.status, 200, `${path}: ${a.status} ${a.text().slice(0, 400)}`);
  return a.json();
}

function postJson(s: TestServer, token: string, path: string, body: unknown): Promise<Answer> {
  return request(s.url, path, { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** The chunks (id → length) of file manifests, fetched over the protocol and decoded with core/. */
async function chunksOf(s: TestServer, token: string, repo: string, manifest: string): Promise<Map<string, number>> {
  const a = await request(s.url, api(repo, 'blobs/fetch'), { method: 'POST', token, body: encodeIdList([manifest]), headers: { 'content-type': MediaType.ids } });
  assert.equal(a.status, 200, a.text().slice(0, 300));
  const e = decodePack(a.body).entries[0]!;
  const m = decodeFileManifest(a.body.subarray(e.offset, e.offset + e.length));
  return new Map(m.chunks.map((c) => [c.id, c.length]));
}

function newBytes(before: Map<string, number>, after: Map<string, number>): number {
  let n = 0;
  for (const [id, len] of after) if (!before.has(id)) n += len;
  return n;
}

for (const backend of BACKENDS) {
  test(`git push records commits; a clone's hooks materialize each version; files, datasets, history and diff answer at branch, tag and commit; gc keeps old commits' data (${backend})`, async (t) => {
    const server = await startServer(t, { backend, azurite, env: { DVX_PORT: String(await freePort()), DVX_GC_GRACE: '0s' } });
    const repo = 'churn';
    const token = await server.token(repo, 'write');
    const read = await server.token(repo, 'read');
    const env = { DVX_TOKEN: token, DVX_HTTP_ATTEMPTS: '2' };

    const { ws, bare } = await hookedWorkspace(t, `${server.url}/${repo}`);

    // Version 1: a file and a directory, committed through the hooks.
    const v1 = seededBytes(1, 400_000);
    mkdirSync(join(ws, 'data'));
    writeFileSync(join(ws, 'data/events.csv'), v1);
    mkdirSync(join(ws, 'images/sub'), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(ws, `images/${i}.png`), seededBytes(10 + i, 2000 + i));
    writeFileSync(join(ws, 'images/sub/x.png'), seededBytes(20, 3000));
    await dvxOk(ws, ['add', 'data/events.csv', 'images']);
    gitOk(ws, ['commit', '-qm', 'first data'], env);
    gitOk(ws, ['tag', '-a', 'v1', '-m', 'release 1']);
    const c1 = git(ws, ['rev-parse', 'HEAD']).trim();
    const pushed = gitOk(ws, ['push', '-q', 'origin', 'main', 'v1'], env);
    assert.match(pushed, /dvx: pushed data for 1 commit/);

    // Version 2: the data changes; the pre-commit hook writes and stages the pointer.
    const v2 = Buffer.concat([v1.subarray(0, 200_000), seededBytes(2, 30_000), v1.subarray(200_000)]);
    writeFileSync(join(ws, 'data/events.csv'), v2);
    writeFileSync(join(ws, 'train.py'), 'print("train")\n');
    git(ws, ['add', 'train.py']);
    const committed = gitOk(ws, ['commit', '-m', 'more events'], env);
    assert.match(committed, /dvx: recorded data\/events\.csv/);
    assert.equal(git(ws, ['status', '--porcelain']), '', 'the hook staged the pointer');
    const c2 = git(ws, ['rev-parse', 'HEAD']).trim();
    gitOk(ws, ['push', '-q', 'origin', 'main'], env);

    // The server knows both commits and the refs.
    const refs = await getJson(server, read, api(repo, 'refs'));
    assert.deepEqual(refs.refs, [{ name: 'refs/heads/main', sha: c2 }, { name: 'refs/tags/v1', sha: c1 }]);
    const info = await getJson(server, read, api(repo, `commits/${c2.slice(0, 9)}`));
    assert.equal(info.sha, c2);
    assert.deepEqual(info.parents, [c1]);
    assert.equal(info.message, 'more events\n');
    assert.equal(info.pointers, 2);
    assert.equal((await getJson(server, read, api(repo, 'commits/refs/tags/v1'))).sha, c1);

    // A clone elsewhere: the post-checkout hook brings byte-identical data, for each version.
    const clone = tempDir(t, 'dvx-clone-');
    gitOk(clone, ['clone', '-q', '--no-checkout', bare, '.']);
    await dvxOk(clone, ['install']);
    gitOk(clone, ['checkout', '-q', 'main'], env);
    assert.equal(sha256(readFileSync(join(clone, 'data/events.csv'))), sha256(v2));
    assert.deepEqual(readFileSync(join(clone, 'images/sub/x.png')), seededBytes(20, 3000));
    gitOk(clone, ['checkout', '-q', 'v1'], env);
    assert.equal(sha256(readFileSync(join(clone, 'data/events.csv'))), sha256(v1));

    // hooks.fetch: false: a checkout leaves data it lacks alone and says so; `dvx pull` brings it.
    const lazy = tempDir(t, 'dvx-lazy-');
    gitOk(lazy, ['clone', '-q', '--no-checkout', bare, '.']);
    gitOk(lazy, ['checkout', '-q', 'main', '--', '.dvx']);
    await dvxOk(lazy, ['config', 'hooks.fetch', 'false', '--local']);
    await dvxOk(lazy, ['install']);
    // (-f: the index holds only .dvx/, and the rest must come out of HEAD)
    const unfetched = gitOk(lazy, ['checkout', '-q', '-f', 'main'], env);
    assert.ok(existsSync(join(lazy, 'data/events.csv.dvx')), 'git checked out the pointers');
    assert.ok(!existsSync(join(lazy, 'data/events.csv')), 'nothing was fetched');
    assert.match(unfetched, /dvx: warning: data\/events\.csv was not updated: .*not in the local cache/);
    assert.match(readFileSync(join(lazy, 'data/events.csv.dvx'), 'utf8'), new RegExp(`sha256: ${sha256(v2)}`), 'git itself checked out');
    await dvxOk(lazy, ['pull'], env);
    assert.equal(sha256(readFileSync(join(lazy, 'data/events.csv'))), sha256(v2));

    // Plain HTTP at a tag, a branch (plain and refs/ form), an abbreviated and a full commit.
    const file = async (ref: string, path = 'data/events.csv') => {
      const a = await request(server.url, api(repo, `files/${encodeURIComponent(ref)}/${path}`), { token: read });
      assert.equal(a.status, 200, `${ref}: ${a.text().slice(0, 300)}`);
      return a;
    };
    assert.equal(sha256((await file('v1')).body), sha256(v1));
    assert.equal(sha256((await file('main')).body), sha256(v2));
    assert.equal(sha256((await file('refs/heads/main')).body), sha256(v2));
    assert.equal(sha256((await file(c1.slice(0, 7))).body), sha256(v1));
    const full = await file(c1);
    assert.equal(sha256(full.body), sha256(v1));
    assert.equal(full.headers.etag, `"${sha256(v1)}"`);
    assert.match(String(full.headers['cache-control']), /immutable/);
    assert.match(String((await file('main')).headers['cache-control']), /no-cache/, 'a branch moves: revalidate');
    assert.ok(full.headers['last-modified']);
    assert.deepEqual((await file('v1', 'images/sub/x.png')).body, seededBytes(20, 3000), 'a file inside a tracked directory');
    const listing = (await file('main', 'images')).json();
    assert.equal(listing.files, 6);
    assert.deepEqual(listing.entries.map((e: any) => e.path).sort(), ['images/0.png', 'images/1.png', 'images/2.png', 'images/3.png', 'images/4.png', 'images/sub']);
    const ranged = await request(server.url, api(repo, `files/v1/data/events.csv`), { token: read, headers: { range: 'bytes=100-199' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(ranged.body, v1.subarray(100, 200));
    assert.equal((await request(server.url, api(repo, `files/main/data/nothing.csv`), { token: read })).status, 404);
    assert.equal((await request(server.url, api(repo, `files/no-such-branch/data/events.csv`), { token: read })).status, 404);

    // dvx get: any version without a clone, verified; directories unpacked; clear failures that write nothing.
    const out = tempDir(t, 'dvx-get-');
    const readEnv = { DVX_TOKEN: read };
    const got = await dvxOk(out, ['get', server.url, repo, 'data/events.csv', '--rev', 'v1', '-o', 'v1.csv'], readEnv);
    assert.match(got.stdout + got.stderr, /downloaded data\/events\.csv@v1/);
    assert.deepEqual(readFileSync(join(out, 'v1.csv')), v1);
    const stale = `.events.csv.dvx-tmp-${deadPid()}-0123456789ab`;
    writeFileSync(join(out, stale), 'what a killed download left');
    const asJson = JSON.parse((await dvxOk(out, ['get', server.url, repo, 'data/events.csv', '--json'], readEnv)).stdout);
    assert.deepEqual([asJson.type, asJson.rev, asJson.size, asJson.sha256, asJson.output], ['file', 'HEAD', v2.length, sha256(v2), join(out, 'events.csv')]);
    assert.deepEqual(readFileSync(join(out, 'events.csv')), v2);
    assert.ok(!existsSync(join(out, stale)), 'the killed download\'s temp file is gone');
    await dvxOk(out, ['get', server.url, repo, 'data/events.csv', '--rev', c1.slice(0, 8), '-o', 'sub/by-sha.csv'], readEnv);
    assert.deepEqual(readFileSync(join(out, 'sub/by-sha.csv')), v1);
    const piped = spawnSync(process.execPath, [DVX_BIN, 'get', server.url, repo, 'data/events.csv', '--rev', 'v1', '-o', '-'], { cwd: out, env: { ...process.env, ...readEnv } });
    assert.equal(piped.status, 0, String(piped.stderr));
    assert.equal(sha256(piped.stdout), sha256(v1));
    const dir = JSON.parse((await dvxOk(out, ['get', server.url, repo, 'images', '--rev', 'v1', '-o', 'imgs', '--json'], readEnv)).stdout);
    assert.deepEqual([dir.type, dir.files], ['dir', 6]);
    assert.deepEqual(readFileSync(join(out, 'imgs/sub/x.png')), seededBytes(20, 3000));
    for (let i = 0; i < 5; i++) assert.deepEqual(readFileSync(join(out, `imgs/${i}.png`)), seededBytes(10 + i, 2000 + i));
    const before = readdirSync(out).sort();
    for (const [args, message] of [
      [['data/nothing.csv'], /data\/nothing\.csv@HEAD: .*nothing\.csv[^]*hint: check the path/],
      [['data/events.csv', '--rev', 'no-such-branch'], /data\/events\.csv@no-such-branch: .*no-such-branch/],
      [['../etc/passwd'], /\.\.\/etc\/passwd: path has a '\.\.' segment/],
    ] as const) {
      const r = await dvx(out, ['get', server.url, repo, ...args], readEnv);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, r.stderr);
    }
    const denied = await dvx(out, ['get', server.url, repo, 'data/events.csv'], { DVX_TOKEN: 'dvx_not-a-token' });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /token|auth|401|403/i, denied.stderr);
    assert.deepEqual(readdirSync(out).sort(), before, 'failed downloads leave nothing behind');

    // Datasets, history and diff: sizes, sha256 and the bytes each version cost.
    const ds = await getJson(server, read, api(repo, 'datasets?ref=v1'));
    assert.equal(ds.commit, c1);
    assert.deepEqual(ds.datasets.map((d: any) => [d.path, d.type, d.size, d.files]), [['data/events.csv', 'file', v1.length, undefined], ['images', 'dir', 5 * 2000 + 10 + 3000, 6]]);
    assert.equal(ds.datasets[0].sha256, sha256(v1));
    const atMain = await getJson(server, read, api(repo, 'datasets'));
    assert.equal(atMain.commit, c2);
    assert.equal(atMain.datasets[0].sha256, sha256(v2));

    const h = await getJson(server, read, api(repo, 'history?path=data/events.csv'));
    assert.deepEqual(h.versions.map((v: any) => [v.commit, v.size, v.sha256]), [[c2, v2.length, sha256(v2)], [c1, v1.length, sha256(v1)]]);
    assert.equal(h.versions[0].message, 'more events\n');
    assert.equal(h.versions[0].author.email, 'test@example.com');
    const [m1, m2] = [await chunksOf(server, read, repo, h.versions[1].manifest), await chunksOf(server, read, repo, h.versions[0].manifest)];
    assert.equal(h.versions[1].newBytes, v1.length, 'the first version costs its whole size');
    assert.equal(h.versions[0].newBytes, newBytes(m1, m2));
    assert.ok(h.versions[0].newBytes > 30_000 && h.versions[0].newBytes < v2.length / 2, `newBytes ${h.versions[0].newBytes}`);
    const onlyV1 = await getJson(server, read, api(repo, 'history?path=data/events.csv&ref=v1'));
    assert.deepEqual(onlyV1.versions.map((v: any) => v.commit), [c1]);
    const page = await getJson(server, read, api(repo, 'history?path=data/events.csv&limit=1'));
    assert.equal(page.versions[0].commit, c2);
    const next = await getJson(server, read, api(repo, `history?path=data/events.csv&limit=1&cursor=${encodeURIComponent(page.next)}`));
    assert.deepEqual(next.versions.map((v: any) => v.commit), [c1]);
    assert.equal(next.next, undefined);

    const d = await getJson(server, read, api(repo, `diff?from=v1&to=${c2}`));
    assert.deepEqual([d.from, d.to, d.added, d.removed], [c1, c2, [], []]);
    assert.equal(d.changed.length, 1);
    assert.equal(d.changed[0].path, 'data/events.csv');
    assert.equal(d.changed[0].sizeDelta, 30_000);
    assert.equal(d.changed[0].newBytes, h.versions[0].newBytes);

    // A push while the server is down is refused, clearly, and the git remote does not move.
    writeFileSync(join(ws, 'data/events.csv'), Buffer.concat([v2, seededBytes(3, 10_000)]));
    await dvxOk(ws, ['add', 'data/events.csv']);
    gitOk(ws, ['commit', '-qm', 'v3'], env);
    const c3 = git(ws, ['rev-parse', 'HEAD']).trim();
    await server.stop();
    const down = gitRun(ws, ['push', 'origin', 'main'], env);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /the push is stopped because dvx could not send its data/);
    assert.match(down.stderr, /check that the server is running/);
    assert.equal(git(bare, ['rev-parse', 'main']).trim(), c2);
    await server.restart();
    gitOk(ws, ['push', '-q', 'origin', 'main'], env);
    assert.equal(git(bare, ['rev-parse', 'main']).trim(), c3);
    assert.equal((await getJson(server, read, api(repo, 'refs'))).refs[0].sha, c3);

    // gc after the pushes (grace 0: everything unreferenced goes) keeps every commit's data.
    const junk = [chunkBlob(seededBytes(99, 5000)), chunkBlob(seededBytes(98, 5000))];
    await push(server.url, repo, token, junk, []);
    const gc = await server.admin(['gc', '--json']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.ok(JSON.parse(gc.stdout).swept.blobs >= 2, 'gc swept the unreferenced chunks');
    assert.equal(sha256((await file(c1.slice(0, 10))).body), sha256(v1));
    assert.equal(sha256((await file('v1', 'images/3.png')).body), sha256(seededBytes(13, 2003)));
    const fsck = await server.admin(['fsck', '--json']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  });
}

// ---- The protocol over plain HTTP ----

const person = (time: number) => ({ name: 'Ada', email: 'ada@example.com', time, tz: '+0100' });
const fakeSha = (prefix = '') => prefix + randomBytes(20).toString('hex').slice(prefix.length);

function pointer(path: string, f: TestFile): RecordPointer {
  return { path, type: 'file', size: f.data.length, sha256: f.sha256, manifest: f.manifest.id };
}

for (const backend of BACKENDS) {
  test(`a pushed range with a merge, a removed tracked path and an annotated tag: the datasets at every commit are what git shows (${backend})`, async (t) => {
    const server = await startServer(t, { backend, azurite });
    const repo = 'range';
    const token = await server.token(repo, 'write');
    const env = { DVX_TOKEN: token, DVX_HTTP_ATTEMPTS: '2' };
    const { ws } = await hookedWorkspace(t, `${server.url}/${repo}`);
    const put = (path: string, seed: number, size: number) => {
      mkdirSync(join(ws, path, '..'), { recursive: true });
      writeFileSync(join(ws, path), seededBytes(seed, size));
    };

    // The server has the first commit; everything after it goes in one push.
    put('a.bin', 1, 3000);
    put('b.bin', 2, 4000);
    put('deep/er/c.bin', 3, 5000);
    for (let i = 0; i < 3; i++) put(`set/${i}.bin`, 10 + i, 1000 + i);
    await dvxOk(ws, ['add', 'a.bin', 'b.bin', 'deep/er/c.bin', 'set']);
    gitOk(ws, ['commit', '-qm', 'base'], env);
    gitOk(ws, ['push', '-q', 'origin', 'main'], env);

    gitOk(ws, ['checkout', '-q', '-b', 'feature'], env);
    put('a.bin', 4, 3100);
    await dvxOk(ws, ['add', 'a.bin']);
    gitOk(ws, ['commit', '-qm', 'feature: a changes'], env);
    put('new/d.bin', 5, 2000);
    put('set/3.bin', 13, 1003);
    await dvxOk(ws, ['add', 'new/d.bin', 'set']);
    gitOk(ws, ['commit', '-qm', 'feature: d is new, set grows'], env);

    gitOk(ws, ['checkout', '-q', 'main'], env);
    git(ws, ['rm', '-q', 'b.bin.dvx']);
    gitOk(ws, ['commit', '-qm', 'main: b is gone'], env);
    put('deep/er/c.bin', 6, 5100);
    await dvxOk(ws, ['add', 'deep/er/c.bin']);
    gitOk(ws, ['commit', '-qm', 'main: c changes'], env);
    gitOk(ws, ['merge', '-q', '--no-ff', '-m', 'merge feature', 'feature'], env);
    put('a.bin', 7, 3200);
    await dvxOk(ws, ['add', 'a.bin']);
    gitOk(ws, ['commit', '-qm', 'after the merge'], env);
    gitOk(ws, ['tag', '-a', 'v2', '-m', 'release 2']);
    gitOk(ws, ['push', '-q', 'origin', 'main', 'v2'], env);

    const commits = git(ws, ['rev-list', 'main']).trim().split('\n');
    assert.equal(commits.length, 7);
    for (const c of commits) {
      const expected = git(ws, ['ls-tree', '-r', '--name-only', c])
        .trim()
        .split('\n')
        .filter((p) => p.endsWith('.dvx') && !p.startsWith('.dvx/'))
        .map((p) => {
          const ptr = decodePointer(execFileSync('git', ['show', `${c}:${p}`], { cwd: ws }));
          return { path: p.slice(0, -4), type: ptr.type, size: ptr.size, ...(ptr.files !== undefined ? { files: ptr.files } : {}), sha256: ptr.sha256, manifest: ptr.manifest };
        })
        .sort((x, y) => (x.path < y.path ? -1 : 1));
      const got = await getJson(server, token, api(repo, `datasets?ref=${c}`));
      assert.deepEqual([...got.datasets].sort((x: any, y: any) => (x.path < y.path ? -1 : 1)), expected, `datasets at ${c}: ${git(ws, ['log', '-1', '--format=%s', c]).trim()}`);
    }
    const tagged = await getJson(server, token, api(repo, 'commits/refs/tags/v2'));
    assert.equal(tagged.sha, commits[0]);
    const merge = await getJson(server, token, api(repo, `commits/${git(ws, ['rev-parse', 'main^']).trim()}`));
    assert.equal(merge.parents.length, 2);
  });
}

function record(sha: string, parents: string[], time: number, data: { pointers?: RecordPointer[]; set?: RecordPointer[]; removed?: string[] }, message = `commit ${sha.slice(0, 7)}`): CommitRecord {
  return {
    sha,
    parents,
    author: person(time),
    committer: person(time),
    message,
    ...(data.pointers ? { pointers: data.pointers } : { changes: { set: data.set ?? [], removed: data.removed ?? [] } }),
  };
}

for (const backend of BACKENDS) {
  test(`commit records: all or nothing, 422 for missing manifests and unrecorded parents, 409 for a different record or an ambiguous sha, idempotent, scoped (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const repo = 'proto';
    const token = await s.token(repo, 'write');
    const read = await s.token(repo, 'read');
    const a1 = makeFile(seededBytes(1, 100_000));
    const a2 = makeFile(Buffer.concat([seededBytes(1, 100_000).subarray(0, 65536), seededBytes(2, 40_000)]));
    const b = makeFile(seededBytes(3, 20_000));
    const tree = makeTree({ 'x.bin': b, 'y/z.bin': a1 });
    for (const f of [a1, a2, b]) await pushFile(s.url, repo, token, f);
    await push(s.url, repo, token, [], [tree.blob]);

    const [c1, c2, c3] = [fakeSha(), fakeSha(), fakeSha()];
    const dir: RecordPointer = { path: 'dir', type: 'dir', size: b.data.length + a1.data.length, files: 2, sha256: tree.sha256, manifest: tree.blob.id };
    const commits = [
      record(c1, [], 1000, { pointers: [pointer('a.bin', a1), dir] }),
      record(c2, [c1], 2000, { set: [pointer('a.bin', a2)] }),
      record(c3, [c2], 3000, { removed: ['dir'] }),
    ];
    const body = { commits, refs: [{ name: 'refs/heads/main', sha: c3 }, { name: 'refs/tags/v1', sha: c1 }] };

    // Scopes: read cannot record or ask; write can.
    assert.equal((await postJson(s, read, api(repo, 'commits'), body)).status, 403);
    assert.equal((await postJson(s, read, api(repo, 'commits/known'), { shas: [c1] })).status, 403);
    assert.equal((await postJson(s, token, api(repo, 'commits/known'), { shas: [c1] })).json().known.length, 0);

    // All or nothing: a bad last commit leaves nothing recorded, and the answer names the missing manifest.
    const ghost = makeFile(seededBytes(4, 1000));
    const bad = await postJson(s, token, api(repo, 'commits'), { commits: [...commits, record(fakeSha(), [c3], 4000, { set: [pointer('g.bin', ghost)] })], refs: body.refs });
    assert.equal(bad.status, 422);
    assert.equal(errorCode(bad), 'missing_manifest');
    assert.match(bad.json().error.message, new RegExp(ghost.manifest.id));
    assert.deepEqual((await postJson(s, token, api(repo, 'commits/known'), { shas: [c1, c2, c3] })).json().known, []);

    const ok = await postJson(s, token, api(repo, 'commits'), body);
    assert.equal(ok.status, 200, ok.text());
    assert.deepEqual(ok.json(), { recorded: 3, refs: 2 });
    assert.deepEqual((await postJson(s, token, api(repo, 'commits/known'), { shas: [c3, fakeSha(), c1] })).json().known, [c3, c1]);
    // Again: a no-op.
    assert.deepEqual((await postJson(s, token, api(repo, 'commits'), body)).json(), { recorded: 0, refs: 2 });
    // The same commit sent as a full list instead of changes is the same record.
    assert.equal((await postJson(s, token, api(repo, 'commits'), { commits: [record(c2, [c1], 2000, { pointers: [pointer('a.bin', a2), dir] })] })).status, 200);

    // 409: the same sha with other content (message, or datasets).
    const other = await postJson(s, token, api(repo, 'commits'), { commits: [record(c2, [c1], 2000, { set: [pointer('a.bin', a2)] }, 'rewritten')] });
    assert.equal(other.status, 409);
    assert.equal(errorCode(other), 'commit_conflict');
    assert.equal((await postJson(s, token, api(repo, 'commits'), { commits: [record(c2, [c1], 2000, { set: [pointer('a.bin', b)] })] })).status, 409);

    // 422: changes need a recorded first parent; refs need recorded commits.
    const orphan = await postJson(s, token, api(repo, 'commits'), { commits: [record(fakeSha(), [fakeSha()], 5000, { set: [pointer('a.bin', b)] })] });
    assert.equal(orphan.status, 422);
    assert.equal(errorCode(orphan), 'parent_not_recorded');
    const refBad = await postJson(s, token, api(repo, 'commits'), { commits: [], refs: [{ name: 'refs/heads/x', sha: fakeSha() }] });
    assert.equal(refBad.status, 422);
    assert.equal(errorCode(refBad), 'commit_not_recorded');
    // 400: malformed bodies say where.
    const malformed = await postJson(s, token, api(repo, 'commits'), { commits: [{ sha: 'nope' }] });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json().error.message, /commits\.0/);
    assert.equal((await postJson(s, token, api(repo, 'commits'), { commits: [{ ...record(c1, [], 1, { pointers: [] }), changes: { set: [], removed: [] } }] })).status, 400, 'pointers and changes together');

    // Reading: datasets, history with newBytes, diff, files; removed paths are gone.
    const at = async (ref: string) => (await getJson(s, read, api(repo, `datasets?ref=${ref}`))).datasets.map((d: any) => d.path);
    assert.deepEqual(await at('v1'), ['a.bin', 'dir']);
    assert.deepEqual(await at('main'), ['a.bin']);
    assert.deepEqual(await at(c2.slice(0, 8)), ['a.bin', 'dir']);
    const h = await getJson(s, read, api(repo, 'history?path=a.bin'));
    const m1 = new Map(a1.fileManifest.chunks.map((c) => [c.id, c.length]));
    const m2 = new Map(a2.fileManifest.chunks.map((c) => [c.id, c.length]));
    assert.deepEqual(h.versions.map((v: any) => [v.commit, v.time, v.size, v.sha256, v.newBytes]), [
      [c2, 2000, a2.data.length, a2.sha256, newBytes(m1, m2)],
      [c1, 1000, a1.data.length, a1.sha256, a1.data.length],
    ]);
    assert.ok(newBytes(m1, m2) < a2.data.length);
    const hd = await getJson(s, read, api(repo, 'history?path=dir'));
    assert.deepEqual(hd.versions.map((v: any) => [v.commit, v.type, v.files]), [[c1, 'dir', 2]]);
    const d = await getJson(s, read, api(repo, `diff?from=${c1}&to=main`));
    assert.deepEqual(d.removed.map((x: any) => x.path), ['dir']);
    assert.deepEqual(d.changed.map((x: any) => [x.path, x.sizeDelta, x.newBytes]), [['a.bin', a2.data.length - a1.data.length, newBytes(m1, m2)]]);
    assert.deepEqual((await request(s.url, api(repo, `files/v1/dir/y/z.bin`), { token: read })).body, a1.data);
    assert.equal((await request(s.url, api(repo, `files/main/dir/y/z.bin`), { token: read })).status, 404);

    // Ambiguous abbreviations are 409; unknown refs 404; bad refs and queries 400.
    const [p1, p2] = [fakeSha('abcdef0'), fakeSha('abcdef0')];
    await postJson(s, token, api(repo, 'commits'), { commits: [record(p1, [], 10, { pointers: [] }), record(p2, [], 11, { pointers: [] })] });
    const amb = await request(s.url, api(repo, 'commits/abcdef0'), { token: read });
    assert.equal(amb.status, 409);
    assert.equal(errorCode(amb), 'ambiguous_ref');
    assert.equal((await request(s.url, api(repo, `commits/${p1.slice(0, 12)}`), { token: read })).json().sha, p1);
    assert.equal((await request(s.url, api(repo, 'datasets?ref=nope'), { token: read })).status, 404);
    assert.equal((await request(s.url, api(repo, 'datasets?ref=a..b'), { token: read })).status, 400);
    assert.equal((await request(s.url, api(repo, 'history'), { token: read })).status, 400);
    assert.equal((await request(s.url, api(repo, 'history?path=../x'), { token: read })).status, 400);
    assert.equal((await request(s.url, api(repo, 'history?path=a.bin&limit=0'), { token: read })).status, 400);
    assert.equal((await request(s.url, api(repo, 'diff?from=v1'), { token: read })).status, 400);
    assert.equal((await request(s.url, api('nobody', 'refs'), { token: s.adminToken })).status, 404);

    // A ref deletion.
    assert.deepEqual((await postJson(s, token, api(repo, 'commits'), { commits: [], refs: [{ name: 'refs/tags/v1', sha: null }] })).json(), { recorded: 0, refs: 1 });
    assert.deepEqual((await getJson(s, read, api(repo, 'refs'))).refs.map((r: any) => r.name), ['refs/heads/main']);

    // Compare-and-swap: an update with `expect` applies only while the ref names that commit (null: absent).
    const cas = (refs: object[]) => postJson(s, token, api(repo, 'commits'), { commits: [], refs }).then((r) => r.json());
    assert.deepEqual(await cas([{ name: 'refs/heads/main', sha: c1, expect: c2 }]), { recorded: 0, refs: 0, skipped: ['refs/heads/main'] });
    assert.deepEqual(await cas([{ name: 'refs/heads/main', sha: c1, expect: c3 }, { name: 'refs/tags/v1', sha: c2, expect: c1 }, { name: 'refs/tags/v2', sha: c2, expect: null }]), {
      recorded: 0,
      refs: 2,
      skipped: ['refs/tags/v1'],
    });
    assert.deepEqual((await getJson(s, read, api(repo, 'refs'))).refs, [{ name: 'refs/heads/main', sha: c1 }, { name: 'refs/tags/v2', sha: c2 }]);
    assert.deepEqual(await cas([{ name: 'refs/tags/v2', sha: null, expect: c1 }, { name: 'refs/heads/main', sha: null, expect: c1 }]), { recorded: 0, refs: 1, skipped: ['refs/tags/v2'] });
    assert.deepEqual((await getJson(s, read, api(repo, 'refs'))).refs.map((r: any) => r.name), ['refs/tags/v2']);
  });

  test(`a path with 1,000 versions: one request of 1,000 commits, history newest first in pages, datasets at any commit (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const repo = 'many';
    const token = await s.token(repo, 'write');
    const files = Array.from({ length: 1000 }, (_, i) => makeFile(seededBytes(1000 + i, 100 + i)));
    const others = Array.from({ length: 300 }, (_, i) => makeFile(seededBytes(5000 + i, 50)));
    const all = [...files, ...others];
    await push(s.url, repo, token, all.flatMap((f) => f.chunks), all.map((f) => f.manifest));
    const shas: string[] = [];
    const commits: CommitRecord[] = [];
    for (let i = 0; i < 1000; i++) {
      const sha = fakeSha();
      const data = i === 0 ? { pointers: [pointer('p.bin', files[0]!), ...others.map((f, j) => pointer(`o/${j}.bin`, f))] } : { set: [pointer('p.bin', files[i]!)], removed: i % 10 === 0 ? [`o/${i / 10}.bin`] : [] };
      commits.push(record(sha, i === 0 ? [] : [shas[i - 1]!], 100_000 + i, data));
      shas.push(sha);
    }
    const r = await postJson(s, token, api(repo, 'commits'), { commits, refs: [{ name: 'refs/heads/main', sha: shas[999]! }] });
    assert.equal(r.status, 200, r.text());
    const h = await getJson(s, token, api(repo, 'history?path=p.bin'));
    assert.equal(h.versions.length, 1000);
    assert.deepEqual(h.versions.map((v: any) => v.commit), [...shas].reverse());
    assert.deepEqual(h.versions.slice(0, 3).map((v: any) => v.size), [1099, 1098, 1097]);
    assert.ok(h.versions.every((v: any) => v.newBytes === v.size), 'no chunk in common with the previous version');
    const p = await getJson(s, token, api(repo, 'history?path=p.bin&limit=400'));
    const p2 = await getJson(s, token, api(repo, `history?path=p.bin&limit=400&cursor=${p.next}`));
    const p3 = await getJson(s, token, api(repo, `history?path=p.bin&limit=400&cursor=${p2.next}`));
    assert.deepEqual([...p.versions, ...p2.versions, ...p3.versions].map((v: any) => v.commit), h.versions.map((v: any) => v.commit));
    assert.equal(p3.next, undefined);
    // The datasets at any commit: one snapshot plus the changes since (the index stores no full list per commit).
    for (const i of [0, 1, 199, 200, 201, 499, 500, 501, 555, 999]) {
      const ds = await getJson(s, token, api(repo, `datasets?ref=${shas[i]}`));
      assert.equal(ds.datasets.length, 1 + 300 - Math.floor(i / 10), `at commit ${i}`);
      assert.equal(ds.datasets.find((d: any) => d.path === 'p.bin').sha256, files[i]!.sha256);
      assert.equal((await request(s.url, api(repo, `files/${shas[i]}/p.bin`), { token })).body.length, 100 + i);
    }
    assert.equal((await getJson(s, token, api(repo, `commits/main`))).pointers, 1 + 300 - 99);
  });
}
