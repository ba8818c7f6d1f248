import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startAzurite } from './support/azurite.ts';
import { dvxJson, dvxOk, git, run, tempDir, workspace } from './support/cli.ts';
import { bareRemote, lfsRepo, lfsUser } from './support/git-lfs.ts';
import { request } from './support/http.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, SERVER_BIN, startServer, type TestServer } from './support/server.ts';

/**
 * dvx-server as a Git LFS server, driven by the real git-lfs client (Debian's
 * git-lfs) against a real dvx-server on both backends: push, clone, partial
 * pull, fsck, resumed downloads, credentials and scopes, size limits, locks,
 * and the chunk sharing that makes an LFS object cost only its new chunks.
 */
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const LFS = 'application/vnd.git-lfs+json';
const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;
const lfsUrl = (s: TestServer | string, repo: string) => `${typeof s === 'string' ? s : s.url}/${repo}.git/info/lfs`;

async function batch(s: TestServer, repo: string, password: string, body: unknown) {
  return request(s.url, `/${repo}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { authorization: basic(password), 'content-type': LFS, accept: LFS },
    body: JSON.stringify(body),
  });
}

/** Asserts the LFS error body ({message, request_id, documentation_url}) and returns the message. */
function lfsError(a: { headers: Record<string, unknown>; json(): any }): string {
  assert.match(String(a.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
  const j = a.json();
  assert.equal(typeof j.message, 'string');
  assert.equal(typeof j.request_id, 'string');
  assert.match(j.documentation_url, /^https:\/\//);
  return j.message;
}

async function repoBytes(s: TestServer, repo: string): Promise<number> {
  const r = await request(s.url, `/api/v1/repos/${repo}`, { token: s.adminToken });
  assert.equal(r.status, 200, r.text());
  return r.json().bytes as number;
}

const azurite = await startAzurite();
after(() => azurite.dispose());

for (const backend of BACKENDS) {
  test(`git lfs push, clone (smudge), pull --include of a subset, fsck (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const token = await s.token('media', 'write');
    const alice = await lfsUser(t, { lfsUrl: lfsUrl(s, 'media'), password: token, name: 'alice' });
    const bare = await bareRemote(t, alice);
    const ws = await lfsRepo(t, alice, bare, ['*.bin']);
    const files: Record<string, Buffer> = {
      'big.bin': seededBytes(1, 3_000_000),
      'models/m.bin': seededBytes(2, 500_000),
      'models/n.bin': seededBytes(3, 200_001),
      'empty.bin': Buffer.alloc(0),
    };
    mkdirSync(join(ws, 'models'));
    for (const [p, b] of Object.entries(files)) writeFileSync(join(ws, p), b);
    writeFileSync(join(ws, 'README.md'), '# plain git\n');
    await alice.gitOk(ws, ['add', '-A']);
    await alice.gitOk(ws, ['commit', '-qm', 'lfs files']);
    assert.match(git(ws, ['show', 'HEAD:big.bin']), /^version https:\/\/git-lfs/);
    await alice.gitOk(ws, ['push', '-q', 'origin', 'main']);

    // A clone smudges every object from dvx-server: byte-identical.
    const top = tempDir(t);
    await alice.gitOk(top, ['clone', '-q', bare, 'full']);
    for (const [p, b] of Object.entries(files)) assert.ok(readFileSync(join(top, 'full', p)).equals(b), `${p} is byte-identical`);
    const fsck = await alice.gitOk(join(top, 'full'), ['lfs', 'fsck']);
    assert.match(fsck.stdout, /Git LFS fsck OK/);

    // Without smudge, then only models/ pulled.
    await alice.gitOk(top, ['clone', '-q', bare, 'partial'], { GIT_LFS_SKIP_SMUDGE: '1' });
    const partial = join(top, 'partial');
    assert.match(readFileSync(join(partial, 'big.bin'), 'utf8'), /^version https:\/\/git-lfs/);
    await alice.gitOk(partial, ['lfs', 'pull', '--include', 'models/*']);
    assert.ok(readFileSync(join(partial, 'models/m.bin')).equals(files['models/m.bin']!));
    assert.ok(readFileSync(join(partial, 'models/n.bin')).equals(files['models/n.bin']!));
    assert.match(readFileSync(join(partial, 'big.bin'), 'utf8'), /^version https:\/\/git-lfs/, 'big.bin was not pulled');

    // An LFS object is a dvx file: the plain files route serves it by sha256.
    const plain = await request(s.url, `/api/v1/repos/media/files/${sha(files['models/n.bin']!)}`, { token });
    assert.equal(plain.status, 200);
    assert.ok(plain.body.equals(files['models/n.bin']!));
    // Pushing again uploads nothing: the batch answers "already stored" (no actions).
    const again = await batch(s, 'media', token, { operation: 'upload', transfers: ['basic'], objects: [{ oid: sha(files['big.bin']!), size: 3_000_000 }] });
    assert.equal(again.status, 200);
    assert.equal(again.json().objects[0].actions, undefined);
  });

  test(`an LFS object shares chunks with the same dvx-pushed file; a 1%-different version stores ~1% more (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const token = await s.token('shared', 'write');
    const size = 16 << 20;
    const v1 = seededBytes(10, size);

    // The dvx side: `dvx add` + `dvx push` of v1.
    const ws = await workspace(t);
    const dvxBare = tempDir(t, 'dvx-bare-');
    git(dvxBare, ['init', '-q', '--bare', '-b', 'main']);
    git(ws, ['remote', 'add', 'origin', dvxBare]);
    await dvxOk(ws, ['remote', 'add', 'origin', `${s.url}/shared`]);
    mkdirSync(join(ws, 'data'));
    writeFileSync(join(ws, 'data/events.bin'), v1);
    await dvxOk(ws, ['add', 'data/events.bin']);
    git(ws, ['commit', '-qm', 'v1']);
    git(ws, ['push', '-q', 'origin', 'main']);
    await dvxJson(ws, ['push'], { DVX_TOKEN: token });
    const afterDvx = await repoBytes(s, 'shared');
    assert.ok(afterDvx >= size);

    // The same content through git-lfs: nothing new to store.
    const bob = await lfsUser(t, { lfsUrl: lfsUrl(s, 'shared'), password: token, name: 'bob' });
    const bare = await bareRemote(t, bob);
    const repo = await lfsRepo(t, bob, bare, ['*.bin']);
    writeFileSync(join(repo, 'events.bin'), v1);
    await bob.gitOk(repo, ['add', '-A']);
    await bob.gitOk(repo, ['commit', '-qm', 'v1']);
    await bob.gitOk(repo, ['push', '-q', 'origin', 'main']);
    const afterLfs1 = await repoBytes(s, 'shared');
    t.diagnostic(`dvx push of ${size} bytes: repository holds ${afterDvx} bytes; the same file through git-lfs added ${afterLfs1 - afterDvx}`);
    assert.ok(afterLfs1 - afterDvx <= 64 << 10, `the same content through LFS added ${afterLfs1 - afterDvx} bytes`);

    // Version 2: 1% of the file rewritten in the middle.
    const v2 = Buffer.from(v1);
    seededBytes(11, Math.floor(size / 100)).copy(v2, size / 2);
    writeFileSync(join(repo, 'events.bin'), v2);
    await bob.gitOk(repo, ['commit', '-qam', 'v2']);
    await bob.gitOk(repo, ['push', '-q', 'origin', 'main']);
    const afterLfs2 = await repoBytes(s, 'shared');
    const grew = afterLfs2 - afterLfs1;
    t.diagnostic(`a 1%-different version (${Math.floor(size / 100)} bytes rewritten) added ${grew} bytes (${((100 * grew) / size).toFixed(2)}% of the file)`);
    assert.ok(grew >= size / 100, 'the rewritten bytes are stored');
    assert.ok(grew <= 0.02 * size, `a 1% change stored ${grew} bytes, more than 2% of the file`);

    // Both versions come back byte-identical through git-lfs.
    const top = tempDir(t);
    await bob.gitOk(top, ['clone', '-q', bare, 'c']);
    assert.ok(readFileSync(join(top, 'c', 'events.bin')).equals(v2));
    await bob.gitOk(join(top, 'c'), ['checkout', '-q', 'HEAD~1']);
    assert.ok(readFileSync(join(top, 'c', 'events.bin')).equals(v1));
  });

  test(`an object of several packs streams in and back byte-identical; fsck is clean (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    // More than two 32 MiB packs and several 16 MiB ingest blocks: batches of chunks overlap in the chunker's pipeline.
    const data = seededBytes(60, 75_000_000);
    const oid = sha(data);
    const put = await request(s.url, `/big.git/info/lfs/objects/${oid}`, { method: 'PUT', headers: { authorization: basic(s.adminToken) }, body: data });
    assert.equal(put.status, 200, put.text());
    const got = await request(s.url, `/big.git/info/lfs/objects/${oid}`, { headers: { authorization: basic(s.adminToken) } });
    assert.equal(got.status, 200);
    assert.equal(sha(got.body), oid);
    const fsck = await s.admin(['fsck']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  });

  test(`an interrupted download resumes with a Range request (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const token = await s.token('resume', 'write');
    const data = seededBytes(20, 4_000_000);
    const oid = sha(data);

    // Upload through the API (PUT + verify), as git-lfs does.
    const put = await request(s.url, `/resume.git/info/lfs/objects/${oid}`, { method: 'PUT', headers: { authorization: basic(token), 'content-type': 'application/octet-stream' }, body: data });
    assert.equal(put.status, 200, put.text());

    // A proxy between git-lfs and dvx-server that cuts the first full download after 1 MB.
    const cutAfter = 1_000_000;
    const seen: { method: string; url: string; range?: string; status?: number }[] = [];
    let cut = false;
    const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
      const entry: (typeof seen)[number] = { method: req.method!, url: req.url!, range: req.headers.range };
      seen.push(entry);
      const target = new URL(s.url);
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode!, ur.headers);
        const cutThis = !cut && req.method === 'GET' && req.url!.endsWith(`/objects/${oid}`) && !req.headers.range;
        if (!cutThis) return void ur.pipe(res);
        cut = true;
        let sent = 0;
        ur.on('data', (d: Buffer) => {
          if (sent >= cutAfter) return;
          const part = d.subarray(0, cutAfter - sent);
          sent += part.length;
          res.write(part);
          if (sent >= cutAfter) {
            ur.destroy();
            // Let the bytes leave, then drop the connection mid-body.
            setTimeout(() => res.socket?.destroy(), 50);
          }
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => proxy.close(() => r())));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const carol = await lfsUser(t, { lfsUrl: lfsUrl(proxyUrl, 'resume'), password: token, name: 'carol' });
    const ws = tempDir(t);
    await carol.gitOk(ws, ['init', '-q', '-b', 'main']);
    await carol.gitOk(ws, ['lfs', 'install', '--local']);
    await carol.gitOk(ws, ['lfs', 'track', '*.bin']);
    // The pointer committed by hand: the object is on the server only.
    writeFileSync(join(ws, 'obj.bin'), `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${data.length}\n`);
    await carol.gitOk(ws, ['add', '.gitattributes']);
    await carol.gitOk(ws, ['-c', 'filter.lfs.clean=cat', 'add', 'obj.bin']);
    await carol.gitOk(ws, ['commit', '-qm', 'pointer']);
    const fetched = await carol.gitOk(ws, ['lfs', 'pull'], { GIT_TRACE: '1' });
    assert.ok(readFileSync(join(ws, 'obj.bin')).equals(data), 'the resumed download is byte-identical');
    const gets = seen.filter((e) => e.method === 'GET' && e.url.endsWith(`/objects/${oid}`));
    t.diagnostic(`object requests: ${JSON.stringify(gets)}`);
    assert.ok(cut, 'the first download was cut');
    assert.ok(gets.length >= 2, `git-lfs retried: ${fetched.stderr.slice(-2000)}`);
    const resumed = gets.find((e) => e.range !== undefined);
    assert.ok(resumed, `git-lfs resumed with a Range request: ${JSON.stringify(gets)}`);
    assert.match(resumed.range!, /^bytes=[1-9]\d*-(\d+)?$/);
    assert.equal(resumed.status, 206);

    // The same Range answer directly: 206 with Content-Range, the tail of the object.
    const direct = await request(s.url, `/resume.git/info/lfs/objects/${oid}`, { headers: { authorization: basic(token), range: 'bytes=3000000-' } });
    assert.equal(direct.status, 206);
    assert.equal(direct.headers['content-range'], `bytes 3000000-3999999/4000000`);
    assert.ok(direct.body.equals(data.subarray(3_000_000)));
  });

  test(`credentials, scopes and limits: wrong password 401, read-only push 403, oversized 413, bad content 422 (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite, env: { DVX_LFS_MAX_OBJECT_BYTES: '1MiB' } });
    const write = await s.token('guarded', 'write');
    const read = await s.token('guarded', 'read');

    // Whole-request errors, as the LFS API wants them.
    const none = await request(s.url, '/guarded.git/info/lfs/objects/batch', { method: 'POST', headers: { 'content-type': LFS }, body: '{"operation":"download","objects":[]}' });
    assert.equal(none.status, 401);
    assert.equal(none.headers['lfs-authenticate'], 'Basic realm="dvx"');
    lfsError(none);
    const wrong = await batch(s, 'guarded', 'dvx_wrongwrongwrongwrongwrongwrongwrongwrongwro', { operation: 'download', objects: [] });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['lfs-authenticate'], 'Basic realm="dvx"');
    const small = seededBytes(30, 100_000);
    const readUp = await batch(s, 'guarded', read, { operation: 'upload', objects: [{ oid: sha(small), size: small.length }] });
    assert.equal(readUp.status, 403);
    assert.match(lfsError(readUp), /read scope/);
    const big = await batch(s, 'guarded', write, { operation: 'upload', objects: [{ oid: 'a'.repeat(64), size: 2 << 20 }] });
    assert.equal(big.status, 413);
    assert.match(lfsError(big), /DVX_LFS_MAX_OBJECT_BYTES/);
    const bad = await batch(s, 'guarded', write, { operation: 'sideways', objects: [] });
    assert.equal(bad.status, 422);
    lfsError(bad);
    const bearer = await request(s.url, '/guarded.git/info/lfs/objects/batch', { method: 'POST', token: write, headers: { 'content-type': LFS }, body: JSON.stringify({ operation: 'upload', objects: [{ oid: sha(small), size: small.length }] }) });
    assert.equal(bearer.status, 200, 'a bearer token works too');

    // Per-object errors: invalid oid or size 422, missing 404.
    const per = await batch(s, 'guarded', write, { operation: 'download', objects: [{ oid: 'nothex', size: 1 }, { oid: 'b'.repeat(64), size: -1 }, { oid: 'c'.repeat(64), size: 5 }] });
    // The repository does not exist yet: a download batch is a whole-request 404.
    assert.equal(per.status, 404);
    // Content that does not hash to its oid: 422, nothing recorded.
    const lie = await request(s.url, `/guarded.git/info/lfs/objects/${'d'.repeat(64)}`, { method: 'PUT', headers: { authorization: basic(write) }, body: small });
    assert.equal(lie.status, 422);
    assert.match(lfsError(lie), /hashes to sha256/);
    const stored = await request(s.url, `/guarded.git/info/lfs/objects/${sha(small)}`, { method: 'PUT', headers: { authorization: basic(write) }, body: small });
    assert.equal(stored.status, 200, stored.text());
    const per2 = await batch(s, 'guarded', read, { operation: 'download', objects: [{ oid: 'nothex', size: 1 }, { oid: 'b'.repeat(64), size: -1 }, { oid: 'd'.repeat(64), size: small.length }, { oid: sha(small), size: small.length }] });
    assert.equal(per2.status, 200);
    const objs = per2.json().objects;
    assert.equal(objs[0].error.code, 422);
    assert.equal(objs[1].error.code, 422);
    assert.equal(objs[2].error.code, 404, 'the refused upload left nothing behind');
    assert.match(objs[3].actions.download.href, new RegExp(`/guarded\\.git/info/lfs/objects/${sha(small)}$`));
    const verify = await request(s.url, '/guarded.git/info/lfs/objects/verify', { method: 'POST', headers: { authorization: basic(write), 'content-type': LFS }, body: JSON.stringify({ oid: sha(small), size: small.length + 1 }) });
    assert.equal(verify.status, 422);
    const tooBig = await request(s.url, `/guarded.git/info/lfs/objects/${'e'.repeat(64)}`, { method: 'PUT', headers: { authorization: basic(write) }, body: Buffer.alloc((1 << 20) + 1) });
    assert.equal(tooBig.status, 413);

    // The real client: a wrong password, a read-only token, an oversized object.
    const mallory = await lfsUser(t, { lfsUrl: lfsUrl(s, 'guarded'), password: 'dvx_wrongwrongwrongwrongwrongwrongwrongwrongwro', name: 'mallory', locksVerify: false });
    const bare = await bareRemote(t, mallory);
    const ws = await lfsRepo(t, mallory, bare, ['*.bin']);
    writeFileSync(join(ws, 'a.bin'), seededBytes(31, 50_000));
    await mallory.gitOk(ws, ['add', '-A']);
    await mallory.gitOk(ws, ['commit', '-qm', 'a']);
    const denied = await mallory.git(ws, ['push', 'origin', 'main']);
    assert.notEqual(denied.code, 0, 'a wrong password fails the push');
    assert.match(denied.stderr, /401|[Aa]uthoriz|[Aa]uthenticat|credentials/);

    const reader = await lfsUser(t, { lfsUrl: lfsUrl(s, 'guarded'), password: read, name: 'reader', locksVerify: false });
    const ro = await reader.git(ws, ['push', 'origin', 'main']);
    assert.notEqual(ro.code, 0, 'a read-only token cannot push');
    assert.match(ro.stderr, /403|read scope|[Ff]orbidden/);

    const writer = await lfsUser(t, { lfsUrl: lfsUrl(s, 'guarded'), password: write, name: 'writer', locksVerify: false });
    writeFileSync(join(ws, 'huge.bin'), seededBytes(32, 2 << 20));
    await writer.gitOk(ws, ['add', '-A']);
    await writer.gitOk(ws, ['commit', '-qm', 'huge']);
    const huge = await writer.git(ws, ['push', 'origin', 'main']);
    assert.notEqual(huge.code, 0, 'an object over the limit fails the push');
    assert.match(huge.stderr, /413|DVX_LFS_MAX_OBJECT_BYTES|larger than/);
  });

  test(`locks: git lfs lock, locks, unlock; another user's lock is theirs (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const aliceToken = (await s.admin(['token', 'create', '--repo', 'art', '--scope', 'write', '--description', 'alice', '--json'])).stdout;
    const bobToken = (await s.admin(['token', 'create', '--repo', 'art', '--scope', 'write', '--description', 'bob', '--json'])).stdout;
    const alice = await lfsUser(t, { lfsUrl: lfsUrl(s, 'art'), password: JSON.parse(aliceToken).token, name: 'alice' });
    const bob = await lfsUser(t, { lfsUrl: lfsUrl(s, 'art'), password: JSON.parse(bobToken).token, name: 'bob' });
    const admin = await lfsUser(t, { lfsUrl: lfsUrl(s, 'art'), password: s.adminToken, name: 'root' });
    const bare = await bareRemote(t, alice);
    const ws = await lfsRepo(t, alice, bare, ['*.psd']);
    writeFileSync(join(ws, 'cover.psd'), seededBytes(40, 20_000));
    writeFileSync(join(ws, 'back.psd'), seededBytes(41, 20_000));
    await alice.gitOk(ws, ['add', '-A']);
    await alice.gitOk(ws, ['commit', '-qm', 'art']);
    await alice.gitOk(ws, ['push', '-q', 'origin', 'main']);

    await alice.gitOk(ws, ['lfs', 'lock', 'cover.psd']);
    const twice = await bob.git(ws, ['lfs', 'lock', 'cover.psd']);
    assert.notEqual(twice.code, 0, 'a locked path cannot be locked again');
    assert.match(twice.stderr + twice.stdout, /already locked|alice/);
    await bob.gitOk(ws, ['lfs', 'lock', 'back.psd']);

    const list = await alice.gitOk(ws, ['lfs', 'locks']);
    assert.match(list.stdout, /cover\.psd\s+alice\s+ID:\d+/);
    assert.match(list.stdout, /back\.psd\s+bob\s+ID:\d+/);
    const onePath = await alice.gitOk(ws, ['lfs', 'locks', '--path', 'cover.psd']);
    assert.doesNotMatch(onePath.stdout, /back\.psd/);
    // --verify asks the server whose locks are whose: alice's are marked O for her only.
    const mine = await alice.gitOk(ws, ['lfs', 'locks', '--verify']);
    assert.match(mine.stdout, /O cover\.psd/);
    assert.doesNotMatch(mine.stdout, /O back\.psd/);
    const v = await request(s.url, '/art.git/info/lfs/locks/verify', { method: 'POST', headers: { authorization: basic(JSON.parse(bobToken).token), 'content-type': LFS }, body: '{}' });
    assert.equal(v.status, 200);
    assert.deepEqual(v.json().ours.map((l: any) => l.path), ['back.psd']);
    assert.deepEqual(v.json().theirs.map((l: any) => [l.path, l.owner.name]), [['cover.psd', 'alice']]);

    // git-lfs verifies locks before a push: bob cannot push a change to alice's locked file.
    writeFileSync(join(ws, 'cover.psd'), seededBytes(42, 20_000));
    await bob.gitOk(ws, ['commit', '-qam', 'bob edits the cover']);
    const blocked = await bob.git(ws, ['push', 'origin', 'main']);
    assert.notEqual(blocked.code, 0, 'a push touching someone else\'s lock is refused');
    assert.match(blocked.stderr, /locked/i);
    await bob.gitOk(ws, ['reset', '-q', '--hard', 'HEAD~1']);

    // Bob may not unlock alice's lock, even with --force (not an admin); alice and an admin may.
    const steal = await bob.git(ws, ['lfs', 'unlock', 'cover.psd', '--force']);
    assert.notEqual(steal.code, 0);
    await alice.gitOk(ws, ['lfs', 'unlock', 'cover.psd']);
    await admin.gitOk(ws, ['lfs', 'unlock', 'back.psd', '--force']);
    const empty = await alice.gitOk(ws, ['lfs', 'locks']);
    assert.equal(empty.stdout.trim(), '');

    // Listing pages with cursors.
    for (const p of ['a', 'b', 'c']) await alice.gitOk(ws, ['lfs', 'lock', `${p}.psd`]);
    const page1 = await request(s.url, '/art.git/info/lfs/locks?limit=2', { headers: { authorization: basic(JSON.parse(aliceToken).token) } });
    assert.equal(page1.json().locks.length, 2);
    const page2 = await request(s.url, `/art.git/info/lfs/locks?limit=2&cursor=${page1.json().next_cursor}`, { headers: { authorization: basic(JSON.parse(aliceToken).token) } });
    assert.deepEqual(page2.json().locks.map((l: any) => l.path), ['c.psd']);
    assert.equal(page2.json().next_cursor, undefined);
  });

  test(`LFS auth matrix: every LFS route x every kind of token (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const obj = seededBytes(50, 30_000);
    const oid = sha(obj);
    const seed = await request(s.url, `/mat.git/info/lfs/objects/${oid}`, { method: 'PUT', headers: { authorization: basic(s.adminToken) }, body: obj });
    assert.equal(seed.status, 200);
    type Who = 'none' | 'revoked' | 'other' | 'read' | 'write' | 'admin';
    const tokens: Record<Who, string | undefined> = {
      none: undefined,
      read: await s.token('mat', 'read'),
      write: await s.token('mat', 'write'),
      admin: await s.token('mat', 'admin'),
      other: await s.token('other', 'admin'),
      revoked: await s.token('mat', 'admin'),
    };
    const list = await s.admin(['token', 'list', '--json']);
    assert.equal((await s.admin(['token', 'revoke', String(JSON.parse(list.stdout).tokens.at(-1).id)])).code, 0);
    const RANK = { read: 1, write: 2, admin: 3 } as const;
    let n = 0;
    const call = (method: string, path: string, tok: string | undefined, body?: unknown) =>
      request(s.url, `/mat.git/info/lfs${path}`, {
        method,
        headers: { ...(tok ? { authorization: basic(tok) } : {}), ...(body !== undefined ? { 'content-type': LFS } : {}), accept: LFS },
        body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
    const cases: { method: string; path: string; scope: 'read' | 'write' | 'admin'; ok: number[]; send: (tok: string | undefined) => Promise<Awaited<ReturnType<typeof request>>> }[] = [
      { method: 'post', path: '/objects/batch', scope: 'read', ok: [200], send: (tok) => call('POST', '/objects/batch', tok, { operation: 'download', objects: [{ oid, size: obj.length }] }) },
      { method: 'put', path: '/objects/{oid}', scope: 'write', ok: [200], send: (tok) => call('PUT', `/objects/${oid}`, tok, obj) },
      { method: 'get', path: '/objects/{oid}', scope: 'read', ok: [200], send: (tok) => call('GET', `/objects/${oid}`, tok) },
      { method: 'head', path: '/objects/{oid}', scope: 'read', ok: [200], send: (tok) => call('HEAD', `/objects/${oid}`, tok) },
      { method: 'post', path: '/objects/verify', scope: 'write', ok: [200], send: (tok) => call('POST', '/objects/verify', tok, { oid, size: obj.length }) },
      { method: 'post', path: '/locks', scope: 'write', ok: [201], send: (tok) => call('POST', '/locks', tok, { path: `p${n++}.bin` }) },
      { method: 'get', path: '/locks', scope: 'read', ok: [200], send: (tok) => call('GET', '/locks', tok) },
      { method: 'post', path: '/locks/verify', scope: 'write', ok: [200], send: (tok) => call('POST', '/locks/verify', tok, {}) },
      {
        method: 'post',
        path: '/locks/{id}/unlock',
        scope: 'write',
        ok: [200],
        send: async (tok) => {
          // The caller's own lock, when it may take one.
          const l = await call('POST', '/locks', tok, { path: `u${n++}.bin` });
          return call('POST', `/locks/${l.status === 201 ? l.json().lock.id : '1'}/unlock`, tok, {});
        },
      },
      {
        // Last, and the object stored again first: each removal finds it there.
        method: 'delete',
        path: '/objects/{oid}',
        scope: 'admin',
        ok: [204],
        send: async (tok) => {
          assert.equal((await call('PUT', `/objects/${oid}`, s.adminToken, obj)).status, 200);
          return call('DELETE', `/objects/${oid}`, tok);
        },
      },
    ];
    const doc = (await request(s.url, '/api/v1/openapi.json')).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, any>>)
      .filter(([path]) => path.startsWith('/{repo}.git/info/lfs'))
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => `${method} ${path} ${op['x-dvx-scope']}`));
    assert.deepEqual(cases.map((c) => `${c.method} /{repo}.git/info/lfs${c.path} ${c.scope}`).sort(), documented.sort());

    for (const c of cases) {
      for (const who of ['none', 'revoked', 'other', 'read', 'write', 'admin'] as Who[]) {
        const a = await c.send(tokens[who]);
        const label = `${c.method.toUpperCase()} ${c.path} as ${who}: ${a.status} ${a.text().slice(0, 200)}`;
        if (who === 'none' || who === 'revoked') {
          assert.equal(a.status, 401, label);
          assert.equal(a.headers['lfs-authenticate'], 'Basic realm="dvx"', label);
        } else if (who === 'other') assert.equal(a.status, 404, label);
        else if (RANK[who] >= RANK[c.scope]) assert.ok(c.ok.includes(a.status), label);
        else assert.equal(a.status, 403, label);
        if (a.status >= 400 && c.method !== 'head') lfsError(a);
      }
    }
  });

  test(`an admin removes an object: clones fail with 410 naming who and when; pushing it again restores it (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const write = JSON.parse((await s.admin(['token', 'create', '--repo', 'rm', '--scope', 'write', '--description', 'alice', '--json'])).stdout).token as string;
    const admin = JSON.parse((await s.admin(['token', 'create', '--repo', 'rm', '--scope', 'admin', '--description', 'carol-admin', '--json'])).stdout).token as string;
    const alice = await lfsUser(t, { lfsUrl: lfsUrl(s, 'rm'), password: write, name: 'alice' });
    const bare = await bareRemote(t, alice);
    const ws = await lfsRepo(t, alice, bare, ['*.bin']);
    const secret = seededBytes(60, 400_000);
    const kept = seededBytes(61, 100_000);
    const oid = sha(secret);
    writeFileSync(join(ws, 'secret.bin'), secret);
    writeFileSync(join(ws, 'kept.bin'), kept);
    await alice.gitOk(ws, ['add', '-A']);
    await alice.gitOk(ws, ['commit', '-qm', 'two objects']);
    await alice.gitOk(ws, ['push', '-q', 'origin', 'main']);
    const objectUrl = `/rm.git/info/lfs/objects/${oid}`;
    assert.equal((await request(s.url, objectUrl, { headers: { authorization: basic(write) } })).status, 200);

    // Write scope may not remove; an unknown object is 404; admin removes it (204, and again 204).
    const denied = await request(s.url, objectUrl, { method: 'DELETE', headers: { authorization: basic(write) } });
    assert.equal(denied.status, 403);
    assert.match(lfsError(denied), /admin scope/);
    const unknown = await request(s.url, `/rm.git/info/lfs/objects/${'0'.repeat(64)}`, { method: 'DELETE', headers: { authorization: basic(admin) } });
    assert.equal(unknown.status, 404);
    lfsError(unknown);
    const before = Date.now();
    const removed = await request(s.url, objectUrl, { method: 'DELETE', headers: { authorization: basic(admin) } });
    assert.equal(removed.status, 204, removed.text());
    assert.equal((await request(s.url, objectUrl, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status, 204, 'removing again is not an error');

    // Batch download: a per-object 410 naming who and when; the other object is still there.
    const b = await batch(s, 'rm', write, { operation: 'download', transfers: ['basic'], objects: [{ oid, size: secret.length }, { oid: sha(kept), size: kept.length }] });
    assert.equal(b.status, 200);
    const [gone, still] = b.json().objects;
    assert.equal(gone.error.code, 410);
    assert.equal(gone.actions, undefined);
    assert.match(gone.error.message, /removed by carol-admin at (\S+);/);
    const when = Date.parse(/ at (\S+);/.exec(gone.error.message)![1]!);
    assert.ok(when >= before - 1000 && when <= Date.now(), `removal time ${when} is the removal's`);
    assert.ok(still.actions.download.href);
    // GET and HEAD of the object: 410 with the LFS error body; the files route by sha256: 410 too.
    const get = await request(s.url, objectUrl, { headers: { authorization: basic(write) } });
    assert.equal(get.status, 410);
    assert.match(lfsError(get), /removed by carol-admin/);
    assert.equal((await request(s.url, objectUrl, { method: 'HEAD', headers: { authorization: basic(write) } })).status, 410);
    const plain = await request(s.url, `/api/v1/repos/rm/files/${oid}`, { token: write });
    assert.equal(plain.status, 410);
    assert.match(plain.json().error.message, /removed .* by carol-admin/);

    // A fresh clone cannot get it: git lfs pull fails and says why.
    const top = tempDir(t);
    await alice.gitOk(top, ['clone', '-q', bare, 'c1'], { GIT_LFS_SKIP_SMUDGE: '1' });
    const pull = await alice.git(join(top, 'c1'), ['lfs', 'pull']);
    t.diagnostic(`git lfs pull of a removed object: exit ${pull.code}; ${(pull.stderr + pull.stdout).trim().split('\n').slice(0, 4).join(' | ')}`);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr + pull.stdout, /\[410\] object [0-9a-f]{64} was removed by carol-admin at /);
    assert.ok(readFileSync(join(top, 'c1', 'kept.bin')).equals(kept), 'the other object was pulled');
    assert.match(readFileSync(join(top, 'c1', 'secret.bin'), 'utf8'), /^version https:\/\/git-lfs/);

    // Pushing it again (from the workspace that has it) uploads it and restores it.
    const up = await batch(s, 'rm', write, { operation: 'upload', transfers: ['basic'], objects: [{ oid, size: secret.length }] });
    assert.ok(up.json().objects[0].actions.upload.href, 'a removed object gets upload actions');
    await alice.gitOk(ws, ['lfs', 'push', '--object-id', 'origin', oid]);
    const back = await request(s.url, objectUrl, { headers: { authorization: basic(write) } });
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(secret));
    await alice.gitOk(top, ['clone', '-q', bare, 'c2']);
    assert.ok(readFileSync(join(top, 'c2', 'secret.bin')).equals(secret), 'a clone works again');
    await alice.gitOk(join(top, 'c2'), ['lfs', 'fsck']);
  });

  test(`a full disk answers 507 and records nothing (${backend})`, async (t) => {
    // A private mount namespace with a 24 MiB tmpfs as the data folder: a real ENOSPC while the object's pack is written.
    const dir = tempDir(t);
    const data = seededBytes(70, 40_000_000);
    writeFileSync(join(dir, 'obj.bin'), data);
    const oid = sha(data);
    const token = `admin-${randomBytes(24).toString('hex')}`;
    const env: Record<string, string> = { DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_DATA_DIR: join(dir, 'data'), DVX_STORAGE: backend, DVX_ADMIN_TOKEN: token, DVX_LOG_LEVEL: 'info', SERVER: SERVER_BIN, OID: oid };
    if (backend === 'azure') Object.assign(env, { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, DVX_AZURE_CONTAINER: `dvx-${randomBytes(6).toString('hex')}` });
    const script = `
      set -u
      mkdir -p data && mount -t tmpfs -o size=24m tmpfs data || exit 99
      node "$SERVER" serve > server.log 2>&1 &
      pid=$!
      for i in $(seq 1 300); do grep -q '"msg":"listening"' server.log && break; sleep 0.1; done
      url=$(grep -o '"url":"[^"]*"' server.log | head -1 | cut -d'"' -f4)
      echo "put=$(curl -s -o put.json -w '%{http_code}' -u "x:$DVX_ADMIN_TOKEN" -X PUT -T obj.bin "$url/full.git/info/lfs/objects/$OID")"
      echo "batch=$(curl -s -o batch.json -w '%{http_code}' -u "x:$DVX_ADMIN_TOKEN" -H 'Content-Type: application/vnd.git-lfs+json' -d '{"operation":"download","objects":[{"oid":"'$OID'","size":40000000}]}' "$url/full.git/info/lfs/objects/batch")"
      kill $pid; wait $pid
    `;
    const r = await run('unshare', [...(process.getuid?.() === 0 ? ['-m'] : ['-rm']), 'sh', '-c', script], { cwd: dir, env });
    const log = () => `${r.stdout}\n${r.stderr}\n${readFileSync(join(dir, 'server.log'), 'utf8').slice(-3000)}`;
    assert.doesNotMatch(r.stdout, /exit 99/);
    assert.match(r.stdout, /put=507/, log());
    const answer = JSON.parse(readFileSync(join(dir, 'put.json'), 'utf8'));
    assert.match(answer.message, /no storage space/);
    assert.equal(typeof answer.request_id, 'string');
    // Nothing recorded: the repository does not exist (a download batch is a whole-request 404).
    assert.match(r.stdout, /batch=404/, log());
  });
}
