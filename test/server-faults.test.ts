import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BlobServiceClient } from '@azure/storage-blob';
import { encodeIdList, MediaType } from '../core/protocol.ts';
import { startAzurite } from './support/azurite.ts';
import { errorCode, request } from './support/http.ts';
import { chunkBlob, makeFile, makePack, missing, push, pushFile, putPack, type TestFile } from './support/packs.ts';
import { prng, seededBytes } from './support/prng.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * Faults: the server killed mid-push, storage going away, concurrent pushes of
 * overlapping data, damaged packs in storage.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());

async function fsckJson(s: TestServer): Promise<{ code: number; report: any }> {
  const r = await s.admin(['fsck', '--json']);
  assert.ok(r.stdout.trim(), `fsck printed nothing: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

async function assertFsckClean(s: TestServer, when: string): Promise<void> {
  const { code, report } = await fsckJson(s);
  assert.deepEqual(report.problems.filter((p: any) => p.severity === 'damage'), [], when);
  assert.equal(code, 0, when);
}

for (const backend of BACKENDS) {
  test(`SIGKILL at 20 random points during pack uploads: after a restart the push completes and fsck is clean (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const tok = await s.token('crash', 'write');
    const rand = prng(backend === 'fs' ? 7 : 8);
    const pushed: TestFile[] = [];
    for (let round = 0; round < 20; round++) {
      const f = makeFile(seededBytes(1000 + round, 600_000 + (rand() % 200_000)));
      // Many small packs, so that the kill lands between, during and after uploads.
      const inFlight = push(s.url, 'crash', tok, f.chunks, [f.manifest], 48 * 1024).catch(() => undefined);
      await new Promise((r) => setTimeout(r, rand() % 400));
      await s.kill('SIGKILL');
      await inFlight;
      await s.restart();
      await push(s.url, 'crash', tok, f.chunks, [f.manifest], 48 * 1024);
      assert.deepEqual(await missing(s.url, 'crash', tok, [...f.chunks.map((c) => c.id), f.manifest.id]), [], `round ${round}`);
      pushed.push(f);
      await assertFsckClean(s, `round ${round}`);
    }
    for (const f of pushed) {
      const g = await request(s.url, `/api/v1/repos/crash/files/${f.sha256}`, { token: tok });
      assert.equal(g.status, 200);
      assert.ok(g.body.equals(f.data));
    }
  });

  test(`two clients pushing overlapping data at once both succeed; each blob is indexed once (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const tokA = await s.token('a', 'write');
    const tokB = await s.token('b', 'write');
    const shared = Array.from({ length: 60 }, (_, i) => chunkBlob(seededBytes(2000 + i, 20_000)));
    const onlyA = Array.from({ length: 10 }, (_, i) => chunkBlob(seededBytes(3000 + i, 20_000)));
    const onlyB = Array.from({ length: 10 }, (_, i) => chunkBlob(seededBytes(4000 + i, 20_000)));
    // The same blobs, packed differently by each client, sent in parallel several packs at a time.
    const packsA = [0, 1, 2, 3, 4].map((i) => makePack([...shared.slice(i * 12, i * 12 + 12), ...onlyA.slice(i * 2, i * 2 + 2)]));
    const packsB = [4, 3, 2, 1, 0].map((i) => makePack([...onlyB.slice(i * 2, i * 2 + 2), ...shared.slice(i * 12, i * 12 + 12).reverse()]));
    const results = await Promise.all([
      ...packsA.map((p) => putPack(s.url, 'same', s.adminToken, p)),
      ...packsB.map((p) => putPack(s.url, 'same', s.adminToken, p)),
      ...packsA.map((p) => putPack(s.url, 'a', tokA, p)),
      ...packsB.map((p) => putPack(s.url, 'b', tokB, p)),
    ]);
    for (const r of results) assert.ok(r.status === 201 || r.status === 200, `${r.status} ${r.text()}`);
    assert.deepEqual(await missing(s.url, 'a', tokA, [...shared, ...onlyA].map((b) => b.id)), []);
    assert.deepEqual(await missing(s.url, 'b', tokB, [...shared, ...onlyB].map((b) => b.id)), []);
    const db = new Database(join(s.dataDir, 'index.sqlite'), { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS d FROM blobs').get() as { n: number; d: number };
    assert.equal(rows.n, shared.length + onlyA.length + onlyB.length);
    assert.equal(rows.d, rows.n);
    await assertFsckClean(s, 'after concurrent pushes');
  });

  test(`a damaged pack in storage: reads fail with an error naming it, fsck names it (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const tok = await s.token('dmg', 'write');
    const f = makeFile(seededBytes(5000, 200_000));
    const pack = makePack(f.chunks);
    assert.equal((await putPack(s.url, 'dmg', tok, pack)).status, 201);
    assert.equal((await putPack(s.url, 'dmg', tok, makePack([f.manifest]))).status, 201);
    const damaged = Buffer.from(pack.bytes);
    damaged[50_000]! ^= 0x01;
    const key = `packs/${pack.id.slice(0, 2)}/${pack.id}`;
    if (backend === 'fs') {
      const path = join(s.dataDir, key);
      chmodSync(path, 0o644);
      const bytes = readFileSync(path);
      assert.ok(bytes.equals(pack.bytes));
      writeFileSync(path, damaged);
    } else {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(s.env.DVX_AZURE_CONTAINER!);
      await container.getBlockBlobClient(key).uploadData(damaged);
    }
    const g = await request(s.url, `/api/v1/repos/dmg/files/${f.sha256}`, { token: tok });
    assert.equal(g.status, 500);
    assert.equal(errorCode(g), 'pack_damaged');
    assert.match(g.json().error.message, new RegExp(`pack ${pack.id} is damaged`));
    assert.doesNotMatch(g.text(), /\/tmp|\/work|at .*\.js/);
    const chunk = f.chunks[Math.floor(50_000 / 16384)]!;
    const fetch = await request(s.url, '/api/v1/repos/dmg/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList([chunk.id]), headers: { 'content-type': MediaType.ids } });
    assert.equal(fetch.status, 500);
    assert.match(fetch.json().error.message, new RegExp(pack.id));
    // Undamaged blobs of the same pack still serve.
    const ok = await request(s.url, '/api/v1/repos/dmg/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList([f.chunks[0]!.id]), headers: { 'content-type': MediaType.ids } });
    assert.equal(ok.status, 200);
    const { code, report } = await fsckJson(s);
    assert.equal(code, 1);
    const damage = report.problems.filter((p: any) => p.severity === 'damage');
    assert.ok(damage.some((p: any) => p.kind === 'damaged_blob' && p.object === pack.id && p.detail.includes(chunk.id)), JSON.stringify(damage));
    const text = await s.admin(['fsck']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, new RegExp(`DAMAGE\\tdamaged_blob\\t${pack.id}`));
    assert.equal((await request(s.url, '/healthz')).status, 200, 'the server keeps serving');
  });
}

test('Azurite stopped mid-operation: requests fail fast with 503 JSON, the server keeps running and recovers', async (t) => {
  const own = await startAzurite(t);
  const s = await startServer(t, { backend: 'azure', azurite: own });
  const tok = await s.token('outage', 'write');
  const f = makeFile(seededBytes(6000, 300_000));
  await pushFile(s.url, 'outage', tok, f);
  const pid = s.pid;
  // Stop storage while a large download is being served.
  const big = makeFile(seededBytes(6001, 6_000_000));
  await pushFile(s.url, 'outage', tok, big);
  const during = request(s.url, `/api/v1/repos/outage/files/${big.sha256}`, { token: tok }).catch((err: Error) => err);
  await own.stop();
  const r = await during;
  assert.ok(r instanceof Error || r.status === 200 || r.status === 503, 'an interrupted download is cut or completes');

  const g = await request(s.url, `/api/v1/repos/outage/files/${f.sha256}`, { token: tok });
  assert.equal(g.status, 503, g.text());
  assert.equal(errorCode(g), 'storage_unavailable');
  assert.equal(g.headers['retry-after'], '5');
  const next = makeFile(seededBytes(6002, 50_000));
  const up = await putPack(s.url, 'outage', tok, makePack(next.chunks));
  assert.equal(up.status, 503);
  assert.equal(errorCode(up), 'storage_unavailable');
  const h = await request(s.url, '/healthz');
  assert.equal(h.status, 503);
  // What needs only the index still answers.
  assert.deepEqual(await missing(s.url, 'outage', tok, [f.manifest.id, next.chunks[0]!.id]), [next.chunks[0]!.id]);
  assert.equal(s.pid, pid);

  await own.restart();
  let health = 0;
  for (let i = 0; i < 50 && health !== 200; i++) {
    health = (await request(s.url, '/healthz')).status;
    if (health !== 200) await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(health, 200);
  const back = await request(s.url, `/api/v1/repos/outage/files/${f.sha256}`, { token: tok });
  assert.equal(back.status, 200);
  assert.ok(back.body.equals(f.data));
  await pushFile(s.url, 'outage', tok, next);
  assert.ok((await request(s.url, `/api/v1/repos/outage/files/${next.sha256}`, { token: tok })).body.equals(next.data));
  assert.equal(s.pid, pid, 'the same server process throughout');
});
