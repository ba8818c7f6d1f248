import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Limits, MediaType } from '../core/protocol.ts';
import { startAzurite } from './support/azurite.ts';
import { errorCode, request, type Answer } from './support/http.ts';
import { makeFile, makeTree, push } from './support/packs.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, startServer } from './support/server.ts';

/**
 * Bad input: traversal in repository names, refs and paths (plain and
 * percent-encoded), malformed ids, JSON and multipart, oversized bodies and
 * batches, wrong content types. Each is answered 4xx with a JSON error that
 * carries no stack trace or server path, and the server keeps serving.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());

function assertClean(a: Answer, label: string): void {
  assert.ok(a.status >= 400 && a.status < 500, `${label}: ${a.status} ${a.text().slice(0, 200)}`);
  errorCode(a);
  assert.doesNotMatch(a.text(), /\/tmp\/|\/work\/|node_modules|\bat [\w.<>]+ \(|\.ts:\d|\.js:\d/, label);
}

for (const backend of BACKENDS) {
  test(`bad input is answered 4xx JSON and the server keeps serving (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const tok = s.adminToken;
    const files = { 'a.csv': makeFile(seededBytes(1, 30_000)), 'd/b.csv': makeFile(seededBytes(2, 100)) };
    const tree = makeTree(files);
    await push(s.url, 'ok', tok, Object.values(files).flatMap((f) => f.chunks), [...Object.values(files).map((f) => f.manifest), tree.blob]);
    const T = tree.blob.id;
    const id = files['a.csv'].manifest.id;
    const ids = (n: number) => Buffer.alloc(32 * n, 1);
    const cases: [string, string, Parameters<typeof request>[2]?][] = [
      // repository names
      ['repo ..%2f', '/api/v1/repos/..%2f..%2fetc', { token: tok }],
      ['repo %2e%2e', `/api/v1/repos/%2e%2e/files/${T}`, { token: tok }],
      ['repo a%2fb', '/api/v1/repos/a%2fb', { token: tok }],
      ['repo leading dot', '/api/v1/repos/.hidden', { token: tok }],
      ['repo .git', '/api/v1/repos/x.git', { token: tok, method: 'PUT' }],
      ['repo too long', `/api/v1/repos/${'a'.repeat(101)}`, { token: tok }],
      ['repo NUL', '/api/v1/repos/a%00b', { token: tok }],
      ['repo literal ..', '/api/v1/repos/../../etc/passwd', { token: tok }],
      // refs
      ['ref %2e%2e', '/api/v1/repos/ok/files/%2e%2e/etc/passwd', { token: tok }],
      ['ref ..%2f', '/api/v1/repos/ok/files/..%2f..%2fetc%2fpasswd', { token: tok }],
      ['ref unknown name', '/api/v1/repos/ok/files/main', { token: tok }],
      ['ref uppercase hex', `/api/v1/repos/ok/files/${T.toUpperCase()}`, { token: tok }],
      // paths
      ['path ..', `/api/v1/repos/ok/files/${T}/../../etc/passwd`, { token: tok }],
      ['path %2e%2e', `/api/v1/repos/ok/files/${T}/d/%2e%2e/%2e%2e/etc`, { token: tok }],
      ['path encoded slash', `/api/v1/repos/ok/files/${T}/d%2fb.csv`, { token: tok }],
      ['path ..%2f', `/api/v1/repos/ok/files/${T}/..%2f..%2fetc%2fpasswd`, { token: tok }],
      ['path NUL', `/api/v1/repos/ok/files/${T}/a.csv%00.txt`, { token: tok }],
      ['path backslash', `/api/v1/repos/ok/files/${T}/d%5cb.csv`, { token: tok }],
      ['path bad utf-8', `/api/v1/repos/ok/files/${T}/%ff%fe`, { token: tok }],
      // ids
      ['pack id short', '/api/v1/repos/ok/packs/abc', { token: tok, method: 'PUT', body: 'x', headers: { 'content-type': MediaType.pack } }],
      ['pack id uppercase', `/api/v1/repos/ok/packs/${id.toUpperCase()}`, { token: tok, method: 'PUT', body: 'x', headers: { 'content-type': MediaType.pack } }],
      ['ragged id list', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: Buffer.alloc(33), headers: { 'content-type': MediaType.ids } }],
      // JSON
      ['malformed JSON', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: '{"ids": [', headers: { 'content-type': 'application/json' } }],
      ['JSON bad id', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: '{"ids": ["../../etc"]}', headers: { 'content-type': 'application/json' } }],
      ['JSON extra key', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: `{"ids": [], "x": 1}`, headers: { 'content-type': 'application/json' } }],
      ['JSON not an object', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: '"ids"', headers: { 'content-type': 'application/json' } }],
      // sizes
      ['too many ids', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: ids(Limits.maxIdsPerRequest + 1), headers: { 'content-type': MediaType.ids } }],
      ['too many ids in JSON', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: JSON.stringify({ ids: Array(Limits.maxIdsPerRequest + 1).fill(id) }), headers: { 'content-type': 'application/json' } }],
      ['too many ids to fetch', '/api/v1/repos/ok/blobs/fetch', { token: tok, method: 'POST', body: ids(Limits.maxIdsPerRequest + 1), headers: { 'content-type': MediaType.ids } }],
      ['huge JSON body', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: Buffer.alloc(8 << 20, 0x20), headers: { 'content-type': 'application/json' } }],
      ['pack over the limit', `/api/v1/repos/ok/packs/${id}`, { token: tok, method: 'PUT', body: 'x', headers: { 'content-type': MediaType.pack, 'content-length': 129 * 1024 * 1024 } }],
      // content types
      ['ids as text', '/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } }],
      ['no content type', '/api/v1/repos/ok/blobs/fetch', { token: tok, method: 'POST', body: ids(1) }],
      ['upload as JSON', '/api/v1/repos/ok/uploads', { token: tok, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }],
      ['malformed multipart', '/api/v1/repos/ok/uploads', { token: tok, method: 'POST', body: '--zz\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc', headers: { 'content-type': 'multipart/form-data; boundary=zz' } }],
      ['bad format', `/api/v1/repos/ok/files/${T}?format=../../x`, { token: tok }],
      // routes and tokens
      ['unknown route', '/api/v1/nope', { token: tok }],
      ['unknown method', '/api/v1/repos/ok', { token: tok, method: 'PATCH' }],
      ['garbage authorization', '/api/v1/repos', { headers: { authorization: 'Bearer \u00ff\u00fe' } }],
      ['basic without password', '/api/v1/repos', { headers: { authorization: `Basic ${Buffer.from('user').toString('base64')}` } }],
    ];
    for (const [label, path, opts] of cases) {
      const a = await request(s.url, path, opts);
      assertClean(a, label);
      assert.equal((await request(s.url, '/healthz')).status, 200, `healthz after ${label}`);
    }
    const codes = async (path: string, opts?: Parameters<typeof request>[2]) => (await request(s.url, path, opts)).status;
    assert.equal(await codes('/api/v1/repos/..%2f..%2fetc', { token: tok }), 400);
    assert.equal(await codes(`/api/v1/repos/ok/files/${T}/..%2f..%2fetc%2fpasswd`, { token: tok }), 400);
    assert.equal(await codes('/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: ids(Limits.maxIdsPerRequest + 1), headers: { 'content-type': MediaType.ids } }), 413);
    assert.equal(await codes('/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: '{"ids": [', headers: { 'content-type': 'application/json' } }), 400);
    assert.equal(await codes('/api/v1/repos/ok/blobs/missing', { token: tok, method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } }), 415);
    // Basic auth with the token as password works (for git-lfs).
    assert.equal(await codes('/api/v1/repos/ok', { headers: { authorization: `Basic ${Buffer.from(`x:${tok}`).toString('base64')}` } }), 200);
    // And the data is intact.
    const g = await request(s.url, `/api/v1/repos/ok/files/${T}/a.csv`, { token: tok });
    assert.ok(g.body.equals(files['a.csv'].data));
  });
}
