import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DVX_BIN, dvx, dvxJson, dvxOk, git, gitRun, tempDir, workspace } from './support/cli.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A workspace with a remote for `repo` on the server, and a bare git remote. */
async function project(t: Parameters<typeof workspace>[0], server: TestServer, repo: string) {
  const ws = await workspace(t);
  const bare = tempDir(t, 'dvx-bare-');
  git(bare, ['init', '-q', '--bare', '-b', 'main']);
  git(ws, ['remote', 'add', 'origin', bare]);
  await dvxOk(ws, ['remote', 'add', 'origin', `${server.url}/${repo}`]);
  return { ws, bare };
}

for (const backend of BACKENDS) {
  test(`push, clone elsewhere, pull: byte-identical data; a second version sends only what is new (${backend})`, async (t) => {
    const server = await startServer(t, { backend });
    const token = await server.token('churn', 'write');
    const env = { DVX_TOKEN: token };
    const { ws, bare } = await project(t, server, 'churn');
    const v1 = seededBytes(1, 6_000_000);
    mkdirSync(join(ws, 'data'));
    writeFileSync(join(ws, 'data/events.csv'), v1);
    mkdirSync(join(ws, 'images/a'), { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(ws, `images/a/${i}.png`), seededBytes(100 + i, 3000 + i));
    await dvxOk(ws, ['add', 'data/events.csv', 'images']);
    git(ws, ['commit', '-qm', 'v1']);
    git(ws, ['push', '-q', 'origin', 'main']);
    const first = await dvxJson(ws, ['push'], env);
    assert.equal(first.missing, first.uploadedBlobs);
    assert.ok(first.uploadedBytes > v1.length);
    assert.equal(first.packs, 1, 'what fits in one pack goes as one: chunks, file manifests and the tree together');

    // Version 2: 2 KiB rewritten, 50 kB appended.
    const v2 = Buffer.concat([v1, seededBytes(2, 50_000)]);
    seededBytes(3, 2048).copy(v2, 3_000_000);
    writeFileSync(join(ws, 'data/events.csv'), v2);
    const added = await dvxJson(ws, ['add', 'data/events.csv']);
    git(ws, ['commit', '-qam', 'v2']);
    git(ws, ['push', '-q', 'origin', 'main']);
    const second = await dvxJson(ws, ['push'], env);
    // The wire carries the new chunks, the manifest and the negotiation: a few percent of the file, not the file.
    assert.ok(second.bytesSent <= 1.1 * added.newBytes + 0.02 * v2.length, `sent ${second.bytesSent} for ${added.newBytes} new bytes`);
    assert.equal((await dvxJson(ws, ['push'], env)).missing, 0, 'pushing again sends nothing');

    const clone = tempDir(t, 'dvx-clone-');
    git(clone, ['clone', '-q', bare, '.']);
    const pulled = await dvxJson(clone, ['pull'], env);
    assert.ok(pulled.fetch.fetchedBlobs > 0);
    assert.equal(sha(readFileSync(join(clone, 'data/events.csv'))), sha(v2));
    assert.deepEqual(readFileSync(join(clone, 'images/a/7.png')), seededBytes(107, 3007));
    // The old version comes back from the server too.
    git(clone, ['checkout', '-q', 'HEAD~1']);
    await dvxOk(clone, ['pull'], env);
    assert.equal(sha(readFileSync(join(clone, 'data/events.csv'))), sha(v1));
    const fsck = await server.admin(['fsck', '--json']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  });

  test(`a push larger than one pack goes in stages, chunk packs before the manifests; a clone gets it byte-identical (${backend})`, async (t) => {
    const server = await startServer(t, { backend });
    const env = { DVX_TOKEN: await server.token('big', 'write') };
    const { ws, bare } = await project(t, server, 'big');
    const big = seededBytes(7, 36 << 20);
    mkdirSync(join(ws, 'd'));
    writeFileSync(join(ws, 'd/big.bin'), big);
    writeFileSync(join(ws, 'd/small.bin'), seededBytes(8, 5000));
    await dvxOk(ws, ['add', 'd']);
    git(ws, ['commit', '-qm', 'big']);
    git(ws, ['push', '-q', 'origin', 'main']);
    const pushed = await dvxJson(ws, ['push'], env);
    assert.ok(pushed.packs >= 3, `${pushed.packs} packs: two of chunks at least, then the manifests`);
    assert.equal(pushed.missing, pushed.uploadedBlobs);
    const clone = tempDir(t, 'dvx-clone-');
    git(clone, ['clone', '-q', bare, '.']);
    await dvxOk(clone, ['pull'], env);
    assert.equal(sha(readFileSync(join(clone, 'd/big.bin'))), sha(big));
  });

  test(`credentials: none, read-only, dvx login, DVX_TOKEN; a server that is down fails clearly (${backend})`, async (t) => {
    const server = await startServer(t, { backend });
    const { ws } = await project(t, server, 'secure');
    writeFileSync(join(ws, 'a.bin'), seededBytes(4, 100_000));
    await dvxOk(ws, ['add', 'a.bin']);
    const home = tempDir(t, 'dvx-home-');
    const env = { XDG_CONFIG_HOME: home, DVX_TOKEN: '' };

    const none = await dvx(ws, ['push'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /rejected the credentials/);
    assert.match(none.stderr, /dvx login origin/);

    const read = await server.token('secure', 'read');
    const denied = await dvx(ws, ['push'], { ...env, DVX_TOKEN: read });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /not allowed/);

    const write = await server.token('secure', 'write');
    const bad = await dvx(ws, ['login', 'origin', '--token', 'dvx_wrong'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /rejected the credentials/);
    const login = await dvxOk(ws, ['login', 'origin', '--token', write], env);
    assert.match(login.stdout, /token saved in/);
    assert.equal(readFileSync(join(home, 'dvx/credentials.json'), 'utf8').includes(write), true);
    assert.doesNotMatch(readFileSync(join(ws, '.dvx/config.yaml'), 'utf8'), /dvx_/);
    await dvxOk(ws, ['push'], env);
    // DVX_TOKEN wins over the stored token.
    assert.match((await dvx(ws, ['push'], { ...env, DVX_TOKEN: read })).stderr, /not allowed|already has/);
    // logout forgets it: pushing is refused again, and a second logout has nothing to forget.
    assert.match((await dvxOk(ws, ['logout', 'origin'], env)).stdout, /forgot the token for /);
    assert.equal(readFileSync(join(home, 'dvx/credentials.json'), 'utf8').includes(write), false);
    assert.match((await dvx(ws, ['push'], env)).stderr, /rejected the credentials/);
    assert.match((await dvxOk(ws, ['logout'], env)).stdout, /no token stored for /);
    await dvxOk(ws, ['login', 'origin', '--token', write], env);

    await server.stop();
    const down = await dvx(ws, ['push'], { ...env, DVX_HTTP_ATTEMPTS: '2' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /failed after 2 attempts/);
    assert.match(down.stderr, /check that the server is running/);
  });

  test(`two clients pushing overlapping data at once both succeed; fsck is clean (${backend})`, async (t) => {
    const server = await startServer(t, { backend });
    const token = await server.token('shared', 'write');
    const common = seededBytes(5, 3_000_000);
    const make = async (extra: number) => {
      const { ws } = await project(t, server, 'shared');
      writeFileSync(join(ws, 'd.bin'), Buffer.concat([common, seededBytes(extra, 500_000)]));
      await dvxOk(ws, ['add', 'd.bin']);
      return ws;
    };
    const [a, b] = [await make(6), await make(7)];
    const [ra, rb] = await Promise.all([dvx(a, ['push', '--json'], { DVX_TOKEN: token }), dvx(b, ['push', '--json'], { DVX_TOKEN: token })]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    const fsck = await server.admin(['fsck', '--json']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    for (const ws of [a, b]) {
      rmSync(join(ws, '.dvx/cache'), { recursive: true });
      rmSync(join(ws, 'd.bin'));
      await dvxOk(ws, ['pull'], { DVX_TOKEN: token });
    }
    assert.deepEqual(readFileSync(join(a, 'd.bin')).subarray(0, common.length), common);
  });

  test(`the server killed with SIGKILL at 20 random points during a push: each time, the next push completes and fsck is clean (${backend})`, async (t) => {
    const server = await startServer(t, { backend });
    const token = await server.token('crashy', 'write');
    const { ws } = await project(t, server, 'crashy');
    for (let round = 0; round < 20; round++) {
      // New data every round, so every push has work in flight when the server dies.
      writeFileSync(join(ws, `round-${round}.bin`), seededBytes(1000 + round, 4_000_000));
      await dvxOk(ws, ['add', `round-${round}.bin`]);
      const push = spawn(process.execPath, [DVX_BIN, 'push', '-j', '4', '-r', `${server.url}/crashy`], { cwd: ws, env: { ...process.env, DVX_TOKEN: token, DVX_HTTP_ATTEMPTS: '1' }, stdio: 'ignore' });
      const exited = new Promise<number>((r) => push.on('exit', (code) => r(code ?? 1)));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      await server.kill('SIGKILL');
      await exited;
      await server.restart();
      // A restarted server listens on a new port: name the remote by URL.
      const again = await dvx(ws, ['push', '-r', `${server.url}/crashy`], { DVX_TOKEN: token });
      assert.equal(again.code, 0, `round ${round}: ${again.stderr}`);
      const fsck = await server.admin(['fsck', '--json']);
      assert.equal(fsck.code, 0, `round ${round}: ${fsck.stdout}${fsck.stderr}`);
    }
    rmSync(join(ws, '.dvx/cache'), { recursive: true });
    for (let round = 0; round < 20; round++) rmSync(join(ws, `round-${round}.bin`));
    await dvxOk(ws, ['pull', '-r', `${server.url}/crashy`], { DVX_TOKEN: token });
    assert.deepEqual(readFileSync(join(ws, 'round-13.bin')), seededBytes(1013, 4_000_000));
  });
}

test('many small files are pushed in few requests (at most one per 200 files)', async (t) => {
  const server = await startServer(t, { backend: 'fs' });
  const token = await server.token('small', 'write');
  const { ws } = await project(t, server, 'small');
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(ws, `files/${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(ws, `files/${d}/${i}.txt`), seededBytes(d * 1000 + i, 1024 + ((d * 100 + i) % 15) * 1024));
  }
  await dvxOk(ws, ['add', 'files']);
  const r = await dvxJson(ws, ['push'], { DVX_TOKEN: token });
  assert.ok(r.requests <= 2000 / 200, `${r.requests} requests for 2,000 files`);
  const f = await dvxJson(ws, ['fetch'], { DVX_TOKEN: token });
  assert.equal(f.fetchedBlobs, 0);
});

test('pull when the server lacks some paths\' data: everything it has is fetched and checked out; the rest is named by path, with what to do, and nothing half-written', async (t) => {
  const server = await startServer(t, { backend: 'fs' });
  const write = { DVX_TOKEN: await server.token('partial', 'write') };
  const read = { DVX_TOKEN: await server.token('partial', 'read') };
  const { ws, bare } = await project(t, server, 'partial');
  mkdirSync(join(ws, 'images'));
  mkdirSync(join(ws, 'more'));
  for (let i = 0; i < 4; i++) writeFileSync(join(ws, `images/${i}.png`), seededBytes(10 + i, 3000 + i));
  for (let i = 0; i < 3; i++) writeFileSync(join(ws, `more/${i}.png`), seededBytes(20 + i, 4000 + i));
  writeFileSync(join(ws, 'a.csv'), seededBytes(1, 300_000));
  writeFileSync(join(ws, 'b.csv'), seededBytes(2, 200_000));
  await dvxOk(ws, ['add', 'images', 'more', 'a.csv', 'b.csv']);
  git(ws, ['commit', '-qm', 'data']);
  git(ws, ['push', '-q', 'origin', 'main']);
  // Only some of it reaches the server (as after a `git push --no-verify`).
  await dvxOk(ws, ['push', 'images', 'a.csv'], write);

  const clone = tempDir(t, 'dvx-clone-');
  git(clone, ['clone', '-q', bare, '.']);
  const pulled = await dvx(clone, ['pull'], read);
  assert.equal(pulled.code, 1, pulled.stdout + pulled.stderr);
  assert.deepEqual(readFileSync(join(clone, 'a.csv')), seededBytes(1, 300_000));
  for (let i = 0; i < 4; i++) assert.deepEqual(readFileSync(join(clone, `images/${i}.png`)), seededBytes(10 + i, 3000 + i));
  assert.match(pulled.stderr, /does not have the data of 2 tracked paths: b\.csv, more; everything else was fetched/);
  assert.match(pulled.stderr, /dvx push b\.csv more/);
  assert.doesNotMatch(pulled.stderr, /[0-9a-f]{64}/, 'paths, not blob ids');
  assert.ok(!existsSync(join(clone, 'b.csv')) && !existsSync(join(clone, 'more')), 'nothing half-written in the working tree');
  assert.deepEqual(readdirSync(join(clone, '.dvx/cache/tmp')), [], 'nothing half-written in the cache');
  const fetched = await dvx(clone, ['fetch', 'b.csv'], read);
  assert.equal(fetched.code, 1);
  assert.match(fetched.stderr, /does not have the data of 1 tracked path: b\.csv;/);

  // post-checkout fetches the same way: a clone with dvx's hooks gets what the server has and is told what it lacks.
  const hooked = tempDir(t, 'dvx-hooked-');
  git(hooked, ['clone', '-q', '--no-checkout', bare, '.']);
  await dvxOk(hooked, ['install']);
  const checkout = gitRun(hooked, ['checkout', '-q', 'main'], read);
  assert.equal(checkout.code, 0, checkout.stderr);
  assert.deepEqual(readFileSync(join(hooked, 'a.csv')), seededBytes(1, 300_000));
  assert.match(checkout.stderr, /dvx: warning: \S+ does not have the data of 2 tracked paths: b\.csv, more; [^\n]*`dvx push b\.csv more`/);
  assert.doesNotMatch(checkout.stderr, /was not updated/, 'the paths the remote lacks are named once, without a hint to pull');

  // Pushed from the clone that has it, the rest comes.
  await dvxOk(ws, ['push', 'b.csv', 'more'], write);
  await dvxOk(clone, ['pull'], read);
  assert.deepEqual(readFileSync(join(clone, 'b.csv')), seededBytes(2, 200_000));
  assert.deepEqual(readFileSync(join(clone, 'more/2.png')), seededBytes(22, 4002));
});
