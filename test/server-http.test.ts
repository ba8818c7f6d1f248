import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { verifyPack } from '../core/pack.ts';
import { encodeIdList, MediaType, packPutResponseSchema, repoInfoSchema, uploadResponseSchema, dirListingSchema } from '../core/protocol.ts';
import { startAzurite } from './support/azurite.ts';
import { errorCode, request } from './support/http.ts';
import { chunkBlob, makeFile, makePack, makeTree, missing, push, pushFile, putPack } from './support/packs.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * The HTTP API of a real dvx-server, on both backends: negotiation, pack
 * upload, fetch packs, files over plain HTTP and plain uploads.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());

async function server(t: Parameters<typeof startServer>[0], backend: (typeof BACKENDS)[number]): Promise<TestServer> {
  return startServer(t, { backend, azurite });
}

function multipart(parts: { field: string; name: string; data: Buffer }[], boundary = 'dvxtestboundary'): { body: Buffer; type: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"; filename="${p.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    chunks.push(p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

for (const backend of BACKENDS) {
  test(`negotiation answers what the repository lacks, in request order, binary and JSON (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('neg', 'write');
    const a = chunkBlob(seededBytes(1, 5000));
    const b = chunkBlob(seededBytes(2, 5000));
    const c = chunkBlob(seededBytes(3, 5000));
    assert.deepEqual(await missing(s.url, 'neg', tok, [a.id, b.id, c.id]), [a.id, b.id, c.id], 'unknown repository: everything is missing');
    const put = await putPack(s.url, 'neg', tok, makePack([b]));
    assert.equal(put.status, 201, put.text());
    assert.deepEqual(await missing(s.url, 'neg', tok, [c.id, b.id, a.id]), [c.id, a.id]);
    const j = await request(s.url, '/api/v1/repos/neg/blobs/missing', { method: 'POST', token: tok, body: JSON.stringify({ ids: [a.id, b.id] }), headers: { 'content-type': 'application/json' } });
    assert.equal(j.status, 200);
    assert.deepEqual(j.json(), { missing: [a.id] });
    // Another repository does not learn that the server holds b.
    const other = await s.token('other', 'write');
    assert.deepEqual(await missing(s.url, 'other', other, [b.id]), [b.id]);
  });

  test(`pack upload: 201, repeat 200, damaged or malformed packs refused with nothing indexed (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('packs', 'write');
    const blobs = [0, 1, 2, 3].map((i) => chunkBlob(seededBytes(10 + i, 20000 + i)));
    const pack = makePack(blobs);
    const first = await putPack(s.url, 'packs', tok, pack);
    assert.equal(first.status, 201, first.text());
    assert.deepEqual(packPutResponseSchema.parse(first.json()), { pack: pack.id, blobs: 4, newBlobs: 4, stored: true });
    const again = await putPack(s.url, 'packs', tok, pack);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), { pack: pack.id, blobs: 4, newBlobs: 0, stored: false });

    // One flipped bit in a blob of a new pack: 422, and none of its blobs become known.
    const fresh = [0, 1].map((i) => chunkBlob(seededBytes(20 + i, 30000)));
    const good = makePack(fresh);
    const flipped = Buffer.from(good.bytes);
    flipped[12345]! ^= 0x10;
    const bad = await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: flipped, headers: { 'content-type': MediaType.pack } });
    assert.equal(bad.status, 422);
    assert.equal(errorCode(bad), 'verification_failed');
    assert.match(bad.json().error.message, /damaged blob|hashes to/);
    assert.deepEqual(await missing(s.url, 'packs', tok, fresh.map((b) => b.id)), fresh.map((b) => b.id));
    // A flipped bit in the index: its hash no longer matches the pack id.
    const idxFlip = Buffer.from(good.bytes);
    idxFlip[idxFlip.length - 20]! ^= 1;
    assert.equal((await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: idxFlip, headers: { 'content-type': MediaType.pack } })).status, 422);
    // Truncated (a correct Content-Length for fewer bytes).
    const trunc = await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: good.bytes.subarray(0, good.bytes.length - 100), headers: { 'content-type': MediaType.pack } });
    assert.equal(trunc.status, 422);
    // Sent under another pack's id.
    assert.equal((await request(s.url, `/api/v1/repos/packs/packs/${pack.id}`, { method: 'PUT', token: tok, body: good.bytes, headers: { 'content-type': MediaType.pack } })).status, 422);
    // Wrong content type, missing length, oversized.
    const wrongType = await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: good.bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(wrongType.status, 415);
    assert.equal(errorCode(wrongType), 'unsupported_media_type');
    const chunked = await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: good.bytes, chunked: true, headers: { 'content-type': MediaType.pack } });
    assert.equal(chunked.status, 411);
    const huge = await request(s.url, `/api/v1/repos/packs/packs/${good.id}`, { method: 'PUT', token: tok, body: Buffer.alloc(10), headers: { 'content-type': MediaType.pack, 'content-length': 200 * 1024 * 1024 } });
    assert.equal(huge.status, 413);
    assert.deepEqual(await missing(s.url, 'packs', tok, fresh.map((b) => b.id)), fresh.map((b) => b.id), 'still nothing indexed');
    // The good pack is accepted afterwards.
    assert.equal((await putPack(s.url, 'packs', tok, good)).status, 201);
    assert.deepEqual(await missing(s.url, 'packs', tok, fresh.map((b) => b.id)), []);
    const info = await request(s.url, '/api/v1/repos/packs', { token: tok });
    assert.equal(repoInfoSchema.parse(info.json()).blobs, 6);
  });

  test(`a manifest pack is accepted only when every chunk it references is there (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('m', 'write');
    const f = makeFile(seededBytes(30, 100_000));
    // Manifest first: 422 naming the first missing chunk, nothing indexed.
    const early = await putPack(s.url, 'm', tok, makePack([f.manifest]));
    assert.equal(early.status, 422);
    assert.match(early.json().error.message, new RegExp(f.chunks[0]!.id));
    assert.deepEqual(await missing(s.url, 'm', tok, [f.manifest.id]), [f.manifest.id]);
    // All but the last chunk: still refused.
    assert.equal((await putPack(s.url, 'm', tok, makePack(f.chunks.slice(0, -1)))).status, 201);
    const partial = await putPack(s.url, 'm', tok, makePack([f.manifest]));
    assert.equal(partial.status, 422);
    assert.match(partial.json().error.message, new RegExp(f.chunks[f.chunks.length - 1]!.id));
    // Chunk and manifest in the same pack: accepted.
    assert.equal((await putPack(s.url, 'm', tok, makePack([f.chunks[f.chunks.length - 1]!, f.manifest]))).status, 201);
    // A manifest whose chunks are stored only for another repository is refused there.
    const tok2 = await s.token('m2', 'write');
    const other = await putPack(s.url, 'm2', tok2, makePack([f.manifest]));
    assert.equal(other.status, 422);
  });

  test(`fetch packs hold exactly the requested blobs in request order (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('f', 'write');
    const blobs = Array.from({ length: 40 }, (_, i) => chunkBlob(seededBytes(100 + i, 1000 + i * 997)));
    await putPack(s.url, 'f', tok, makePack(blobs.slice(0, 25)));
    await putPack(s.url, 'f', tok, makePack(blobs.slice(20)));
    const want = [blobs[39]!, blobs[0]!, blobs[1]!, blobs[2]!, blobs[22]!, blobs[10]!];
    const a = await request(s.url, '/api/v1/repos/f/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList(want.map((b) => b.id)), headers: { 'content-type': MediaType.ids } });
    assert.equal(a.status, 200, a.text());
    assert.equal(a.headers['content-type'], MediaType.pack);
    assert.equal(Number(a.headers['content-length']), a.body.length);
    const index = verifyPack(a.body);
    assert.deepEqual(index.entries.map((e) => e.id), want.map((b) => b.id));
    for (const [i, e] of index.entries.entries()) assert.deepEqual(a.body.subarray(e.offset, e.offset + e.length), want[i]!.data);
    // Unknown to the repository: 404 naming it. Duplicates, empty, ragged bodies: 400. Wrong type: 415.
    const unknown = chunkBlob(seededBytes(999, 10));
    const nf = await request(s.url, '/api/v1/repos/f/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList([blobs[0]!.id, unknown.id]), headers: { 'content-type': MediaType.ids } });
    assert.equal(nf.status, 404);
    assert.match(nf.json().error.message, new RegExp(unknown.id));
    for (const body of [encodeIdList([blobs[0]!.id, blobs[0]!.id]), Buffer.alloc(0), Buffer.alloc(33)]) {
      const r = await request(s.url, '/api/v1/repos/f/blobs/fetch', { method: 'POST', token: tok, body, headers: { 'content-type': MediaType.ids } });
      assert.equal(r.status, 400, r.text());
    }
    assert.equal((await request(s.url, '/api/v1/repos/f/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList([blobs[0]!.id]), headers: { 'content-type': 'application/json' } })).status, 415);
  });

  test(`files: GET/HEAD with ETag, Range 206/416, If-None-Match 304, If-Range (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('files', 'write');
    const f = makeFile(seededBytes(40, 300_000));
    await pushFile(s.url, 'files', tok, f);
    for (const ref of [f.manifest.id, f.sha256]) {
      const url = `/api/v1/repos/files/files/${ref}/data/table.csv`;
      const g = await request(s.url, url, { token: tok });
      assert.equal(g.status, 200);
      assert.deepEqual(g.body, f.data);
      assert.equal(g.headers.etag, `"${f.sha256}"`);
      assert.equal(g.headers['content-length'], String(f.data.length));
      assert.equal(g.headers['accept-ranges'], 'bytes');
      assert.match(String(g.headers['content-type']), /^text\/csv/);
      const h = await request(s.url, url, { token: tok, method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], String(f.data.length));
      assert.equal(h.body.length, 0);
    }
    const url = `/api/v1/repos/files/files/${f.sha256}`;
    // Ranges across chunk boundaries, suffix and open-ended ranges.
    for (const [range, start, end] of [
      ['bytes=0-0', 0, 0],
      ['bytes=16380-16390', 16380, 16390],
      ['bytes=100000-', 100000, f.data.length - 1],
      ['bytes=-1000', f.data.length - 1000, f.data.length - 1],
      ['bytes=5-299999999', 5, f.data.length - 1],
    ] as const) {
      const r = await request(s.url, url, { token: tok, headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${f.data.length}`);
      assert.deepEqual(r.body, f.data.subarray(start, end + 1), range);
    }
    const unsat = await request(s.url, url, { token: tok, headers: { range: `bytes=${f.data.length}-` } });
    assert.equal(unsat.status, 416);
    assert.equal(unsat.headers['content-range'], `bytes */${f.data.length}`);
    assert.equal(errorCode(unsat), 'range_not_satisfiable');
    assert.equal(unsat.headers.etag, undefined, 'no success headers on an error');
    const several = await request(s.url, url, { token: tok, headers: { range: 'bytes=0-1,10-20' } });
    assert.equal(several.status, 200, 'several ranges: the whole file');
    assert.equal(several.body.length, f.data.length);
    const nm = await request(s.url, url, { token: tok, headers: { 'if-none-match': `"${f.sha256}"` } });
    assert.equal(nm.status, 304);
    assert.equal(nm.body.length, 0);
    assert.equal((await request(s.url, url, { token: tok, headers: { 'if-none-match': '"other"' } })).status, 200);
    const ir = await request(s.url, url, { token: tok, headers: { range: 'bytes=0-9', 'if-range': `"${f.sha256}"` } });
    assert.equal(ir.status, 206);
    const stale = await request(s.url, url, { token: tok, headers: { range: 'bytes=0-9', 'if-range': '"stale"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, f.data.length);
    // An unknown ref, a ref of another repository.
    assert.equal((await request(s.url, `/api/v1/repos/files/files/${'0'.repeat(64)}`, { token: tok })).status, 404);
    const tok2 = await s.token('files2', 'write');
    await pushFile(s.url, 'files2', tok2, makeFile(seededBytes(41, 10)));
    assert.equal((await request(s.url, `/api/v1/repos/files2/files/${f.sha256}`, { token: tok2 })).status, 404);
  });

  test(`files: a tree answers its listing, files inside it, and a tar stream (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('tree', 'write');
    const files = { 'a.csv': makeFile(seededBytes(50, 40_000)), 'sub/b.bin': makeFile(seededBytes(51, 70_000)), 'sub/deeper/c.txt': makeFile(Buffer.from('hello\n')) };
    const tree = makeTree(files);
    await push(s.url, 'tree', tok, Object.values(files).flatMap((f) => f.chunks), [...Object.values(files).map((f) => f.manifest), tree.blob]);
    const root = await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}`, { token: tok });
    assert.equal(root.status, 200, root.text());
    const list = dirListingSchema.parse(root.json());
    assert.equal(list.sha256, tree.sha256);
    assert.equal(list.files, 3);
    assert.equal(list.size, 40_000 + 70_000 + 6);
    assert.deepEqual(list.entries.map((e) => [e.path, e.type]), [['a.csv', 'file'], ['sub', 'dir']]);
    const sub = dirListingSchema.parse((await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}/sub`, { token: tok })).json());
    assert.deepEqual(sub.entries.map((e) => [e.path, e.type, e.size]), [['sub/b.bin', 'file', 70_000], ['sub/deeper', 'dir', 6]]);
    const inner = await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}/sub/deeper/c.txt`, { token: tok });
    assert.equal(inner.text(), 'hello\n');
    assert.equal(inner.headers.etag, `"${files['sub/deeper/c.txt'].sha256}"`);
    assert.equal((await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}/sub/nope`, { token: tok })).status, 404);
    const t1 = await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}/sub?format=tar`, { token: tok });
    assert.equal(t1.status, 200);
    assert.equal(t1.headers['content-type'], 'application/x-tar');
    const got: Record<string, string> = {};
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const h = createHash('sha256');
      stream.on('data', (d: unknown) => void h.update(d as Buffer));
      stream.on('end', () => {
        got[header.name] = h.digest('hex');
        next();
      });
    });
    await new Promise<void>((resolve, reject) => {
      extract.on('finish', () => resolve());
      extract.on('error', reject);
      Readable.from([t1.body]).pipe(extract);
    });
    assert.deepEqual(got, { 'b.bin': files['sub/b.bin'].sha256, 'deeper/c.txt': files['sub/deeper/c.txt'].sha256 });
    assert.equal((await request(s.url, `/api/v1/repos/tree/files/${tree.blob.id}?format=zip`, { token: tok })).status, 400);
  });

  test(`plain uploads are chunked and deduplicated on the server (${backend})`, async (t) => {
    const s = await server(t, backend);
    const tok = await s.token('up', 'write');
    // Larger than two of the ingest's 16 MiB blocks and than one server pack: the
    // writer then receives a block's chunks while the last block's are being written.
    const data = seededBytes(60, 40_000_000);
    const form = multipart([{ field: 'file', name: 'big.parquet', data }, { field: 'small', name: 'x.txt', data: Buffer.from('tiny') }]);
    const a = await request(s.url, '/api/v1/repos/up/uploads', { method: 'POST', token: tok, body: form.body, headers: { 'content-type': form.type } });
    assert.equal(a.status, 201, a.text());
    const r = uploadResponseSchema.parse(a.json());
    assert.equal(r.files.length, 2);
    const sha = createHash('sha256').update(data).digest('hex');
    assert.equal(r.files[0]!.sha256, sha);
    assert.equal(r.files[0]!.size, data.length);
    assert.equal(r.files[0]!.newBytes, data.length);
    assert.equal(r.files[0]!.name, 'big.parquet');
    const g = await request(s.url, r.files[0]!.url, { token: tok });
    assert.equal(g.status, 200);
    assert.deepEqual(g.body, data);
    assert.equal(g.headers['content-type'], 'application/vnd.apache.parquet');
    const m = await request(s.url, `/api/v1/repos/up/files/${r.files[0]!.manifest}`, { token: tok });
    assert.deepEqual(m.body, data);
    const before = (await request(s.url, '/api/v1/repos/up', { token: tok })).json();
    // The same file again stores nothing new.
    const again = await request(s.url, '/api/v1/repos/up/uploads', { method: 'POST', token: tok, body: form.body, headers: { 'content-type': form.type } });
    assert.equal(again.status, 201);
    assert.deepEqual(again.json().files.map((f: any) => f.newBytes), [0, 0]);
    assert.deepEqual((await request(s.url, '/api/v1/repos/up', { token: tok })).json(), before);
    // A 1 % change stores about 1 % new bytes.
    const changed = Buffer.from(data);
    changed.fill(7, 1_500_000, 1_530_000);
    const form2 = multipart([{ field: 'file', name: 'big.parquet', data: changed }]);
    const third = await request(s.url, '/api/v1/repos/up/uploads', { method: 'POST', token: tok, body: form2.body, headers: { 'content-type': form2.type } });
    assert.equal(third.status, 201);
    assert.ok(third.json().files[0].newBytes < 200_000, `new bytes: ${third.json().files[0].newBytes}`);
    assert.ok(third.json().files[0].newBytes > 0);
    // The uploaded content can be pushed against: negotiation knows its chunks.
    assert.deepEqual(await missing(s.url, 'up', tok, [r.files[0]!.manifest]), []);
  });

  test(`uploads: oversize 413, malformed multipart 400, wrong type 415, no files 400; the server keeps serving (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite, env: { DVX_MAX_UPLOAD_BYTES: '100000' } });
    const tok = await s.token('lim', 'write');
    const big = multipart([{ field: 'f', name: 'big.bin', data: seededBytes(70, 150_000) }]);
    const a = await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: big.body, headers: { 'content-type': big.type } });
    assert.equal(a.status, 413);
    assert.equal(errorCode(a), 'too_large');
    const many = multipart(Array.from({ length: 101 }, (_, i) => ({ field: `f${i}`, name: `${i}.txt`, data: Buffer.from(String(i)) })));
    assert.equal((await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: many.body, headers: { 'content-type': many.type } })).status, 413);
    const ok = multipart([{ field: 'f', name: 'ok.bin', data: seededBytes(71, 1000) }]);
    const cut = ok.body.subarray(0, ok.body.length - 30);
    const mal = await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: cut, headers: { 'content-type': ok.type } });
    assert.equal(mal.status, 400, mal.text());
    assert.equal(errorCode(mal), 'bad_multipart');
    const noBoundary = await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: ok.body, headers: { 'content-type': 'multipart/form-data' } });
    assert.equal(noBoundary.status, 400, noBoundary.text());
    const wrong = await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: ok.body, headers: { 'content-type': 'application/json' } });
    assert.equal(wrong.status, 415);
    const fieldsOnly = Buffer.from('--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nvalue\r\n--b--\r\n');
    assert.equal((await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: fieldsOnly, headers: { 'content-type': 'multipart/form-data; boundary=b' } })).status, 400);
    assert.equal((await request(s.url, '/api/v1/repos/lim', { token: tok })).status, 404, 'nothing was created');
    assert.equal((await request(s.url, '/healthz')).status, 200);
    const good = await request(s.url, '/api/v1/repos/lim/uploads', { method: 'POST', token: tok, body: ok.body, headers: { 'content-type': ok.type } });
    assert.equal(good.status, 201);
  });
}

for (const backend of BACKENDS) {
  for (const verify of ['first', 'all'] as const) {
    test(`a file larger than one read streams whole and by ranges, blobs re-hashed: ${verify} (${backend})`, async (t) => {
      const s = await startServer(t, { backend, azurite, env: { DVX_VERIFY_READS: verify } });
      const tok = await s.token('big', 'write');
      const f = makeFile(seededBytes(80, 13_000_000 + 123));
      // Two packs, so reads cross from one pack to the next.
      await push(s.url, 'big', tok, f.chunks, [f.manifest], 7_000_000);
      const whole = await request(s.url, `/api/v1/repos/big/files/${f.sha256}`, { token: tok });
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(f.data));
      for (const [a, b] of [[5_000_000, 11_000_000], [4_194_300, 4_194_310], [12_999_000, 13_000_122]]) {
        const r = await request(s.url, `/api/v1/repos/big/files/${f.sha256}`, { token: tok, headers: { range: `bytes=${a}-${b}` } });
        assert.equal(r.status, 206);
        assert.ok(r.body.equals(f.data.subarray(a!, b! + 1)), `${a}-${b}`);
      }
      const ids = f.chunks.slice(100, 700).map((c) => c.id);
      const fetched = await request(s.url, '/api/v1/repos/big/blobs/fetch', { method: 'POST', token: tok, body: encodeIdList(ids), headers: { 'content-type': MediaType.ids } });
      assert.equal(fetched.status, 200);
      assert.deepEqual(verifyPack(fetched.body).entries.map((e) => e.id), ids);
    });
  }
}
