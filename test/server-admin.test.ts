import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startAzurite } from './support/azurite.ts';
import { run, tempDir } from './support/cli.ts';
import { request } from './support/http.ts';
import { chunkBlob, makeFile, makePack, missing, pushFile, putPack } from './support/packs.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, SERVER_BIN, startServer } from './support/server.ts';

/** The admin commands (token, reindex, gc) and start-up behaviour of the real dvx-server. */
const azurite = await startAzurite();
after(() => azurite.dispose());

test('invalid configuration fails at start with exit code 2, naming the setting', async (t) => {
  const dir = tempDir(t);
  const r = await run(process.execPath, [SERVER_BIN, 'serve'], { cwd: dir, env: { DVX_STORAGE: 's3', DVX_PORT: '0' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /DVX_STORAGE: must be fs or azure, got "s3"/);
  const r2 = await run(process.execPath, [SERVER_BIN, 'serve', '--port', 'eighty'], { cwd: dir, env: {} });
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /DVX_PORT: must be a whole number/);
  const help = await run(process.execPath, [SERVER_BIN, '--help'], { cwd: dir });
  assert.equal(help.code, 0);
  for (const cmd of ['serve', 'token', 'fsck', 'reindex', 'gc']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});

test('started on the embedded defaults without an admin token, the server creates one, prints it once and says how to use it', async (t) => {
  const dir = tempDir(t);
  const env = { ...process.env, DVX_PORT: '0', DVX_HOST: '127.0.0.1' } as Record<string, string>;
  delete env.DVX_ADMIN_TOKEN;
  delete env.DVX_DATA_DIR;
  const start = () =>
    new Promise<{ url: string; stderr: string; kill: () => Promise<void> }>((resolve, reject) => {
      const child = spawn(process.execPath, [SERVER_BIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.on('data', (d) => {
        out += d;
        const m = /"url":"([^"]+)".*"msg":"listening"/.exec(out);
        if (m) setTimeout(() => resolve({ url: m[1]!.replace('localhost', '127.0.0.1'), stderr: err, kill: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) }), 200);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      t.after(() => child.kill('SIGKILL'));
    });
  const first = await start();
  assert.ok(existsSync(join(dir, 'dvx-data', 'index.sqlite')), 'fs + SQLite in ./dvx-data');
  const token = /\b(dvx_[A-Za-z0-9_-]{43})\b/.exec(first.stderr)?.[1];
  assert.ok(token, first.stderr);
  assert.match(first.stderr, /dvx remote add origin http:\/\/[\w.]+:\d+\/<repo>/);
  assert.match(first.stderr, /dvx login origin/);
  assert.match(first.stderr, /dvx push/);
  assert.equal((await request(first.url, '/api/v1/repos', { token })).status, 200);
  await first.kill();
  const second = await start();
  assert.doesNotMatch(second.stderr, /dvx_[A-Za-z0-9_-]{43}/, 'the token is printed only once');
  assert.equal((await request(second.url, '/api/v1/repos', { token })).status, 200);
  await second.kill();
});

for (const backend of BACKENDS) {
  test(`tokens: created while the server runs, listed without their value, revoked; never logged (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const created = await s.admin(['token', 'create', '--repo', 'tk', '--scope', 'write', '--description', 'ci', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { token, id } = JSON.parse(created.stdout);
    assert.match(token, /^dvx_[A-Za-z0-9_-]{43}$/);
    assert.equal((await request(s.url, '/api/v1/repos/tk', { method: 'PUT', token })).status, 201);
    const list = await s.admin(['token', 'list']);
    assert.match(list.stdout, new RegExp(`^${id}\\twrite\\ttk\\tactive`, 'm'));
    assert.ok(!list.stdout.includes(token), 'values are never listed');
    const db = new Database(join(s.dataDir, 'index.sqlite'), { readonly: true });
    const raw = JSON.stringify(db.prepare('SELECT * FROM tokens').all());
    db.close();
    assert.ok(!raw.includes(token.slice(4)), 'stored hashed');
    assert.equal((await s.admin(['token', 'create', '--repo', '../x', '--scope', 'write'])).code, 1);
    assert.match((await s.admin(['token', 'create', '--repo', 'x', '--scope', 'root'])).stderr, /--scope must be read, write or admin/);
    assert.equal((await s.admin(['token', 'revoke', String(id)])).code, 0);
    assert.equal((await request(s.url, '/api/v1/repos/tk', { token })).status, 401);
    assert.ok(!s.logs().includes(token) && !s.logs().includes(s.adminToken), 'no token in the logs');
    assert.match(s.logs(), /"msg":"request"/);
  });

  test(`reindex rebuilds the pack and blob index from storage alone, keeping repositories, membership and tokens (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const tok = await s.token('ri', 'read');
    const f = makeFile(seededBytes(1, 400_000));
    await pushFile(s.url, 'ri', s.adminToken, f);
    await s.stop();
    const db = new Database(join(s.dataDir, 'index.sqlite'));
    db.exec('DELETE FROM blobs; DELETE FROM packs;');
    db.close();
    const r = await s.admin(['reindex', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.blobs, f.chunks.length + 1);
    assert.equal(report.prunedMembers, 0);
    assert.equal((await s.admin(['fsck'])).code, 0);
    await s.restart();
    const g = await request(s.url, `/api/v1/repos/ri/files/${f.sha256}`, { token: tok });
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(f.data));
  });

  test(`gc sweeps what no manifest references, repacks mostly-garbage packs, and respects the grace period (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite, env: { DVX_GC_GRACE: '1s' } });
    const ageBeyondGrace = () => new Promise((r) => setTimeout(r, 1100));
    const tok = s.adminToken;
    const keep = makeFile(seededBytes(10, 200_000));
    const garbage = Array.from({ length: 30 }, (_, i) => chunkBlob(seededBytes(100 + i, 16_000)));
    // One pack: one live chunk among many unreferenced ones.
    assert.equal((await putPack(s.url, 'g', tok, makePack([keep.chunks[0]!, ...garbage]))).status, 201);
    await pushFile(s.url, 'g', tok, keep);
    // A repository deleted: its data becomes garbage.
    const gone = makeFile(seededBytes(11, 100_000));
    await pushFile(s.url, 'gone', tok, gone);
    assert.equal((await request(s.url, '/api/v1/repos/gone', { method: 'DELETE', token: tok })).status, 204);

    // With the default grace period, everything is too young to touch.
    const young = JSON.parse((await run(process.execPath, [SERVER_BIN, 'gc', '--json'], { cwd: s.dataDir, env: { ...s.env, DVX_GC_GRACE: '1h' } })).stdout);
    assert.deepEqual([young.swept.blobs, young.repacked.length, young.retired.length], [0, 0, 0]);

    await ageBeyondGrace();
    const dry = JSON.parse((await s.admin(['gc', '--dry-run', '--json'])).stdout);
    assert.equal(dry.dryRun, true);
    assert.equal(dry.swept.blobs, garbage.length + gone.chunks.length + 1);
    assert.deepEqual(await missing(s.url, 'g', tok, garbage.map((b) => b.id)), [], 'a dry run changes nothing');

    const r = await s.admin(['gc', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.swept.blobs, garbage.length + gone.chunks.length + 1);
    assert.equal(report.repacked.length, 1, 'the mostly-garbage pack is repacked');
    assert.ok(report.retired.length >= 2, 'it and the deleted repository\'s packs are retired');
    assert.deepEqual(report.deleted, [], 'retired packs stay for a grace period, for readers in flight');
    assert.deepEqual(await missing(s.url, 'g', tok, garbage.map((b) => b.id)), garbage.map((b) => b.id));
    const g = await request(s.url, `/api/v1/repos/g/files/${keep.sha256}`, { token: tok });
    assert.ok(g.body.equals(keep.data), 'live data is intact after the repack');
    const mid = await s.admin(['fsck']);
    assert.equal(mid.code, 0, mid.stdout);

    // Once the grace period has passed, the retired packs are deleted; data still reads.
    await ageBeyondGrace();
    const second = JSON.parse((await s.admin(['gc', '--json'])).stdout);
    assert.equal(second.deleted.length, report.retired.length);
    const fsck = JSON.parse((await s.admin(['fsck', '--json'])).stdout);
    assert.deepEqual(fsck.problems, []);
    assert.ok((await request(s.url, `/api/v1/repos/g/files/${keep.sha256}`, { token: tok })).body.equals(keep.data));
  });
}
