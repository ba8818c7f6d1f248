import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { encodeIdList, MediaType } from '../core/protocol.ts';
import { startAzurite } from './support/azurite.ts';
import { errorCode, request, type Answer } from './support/http.ts';
import { makeFile, makePack, pushFile } from './support/packs.ts';
import { seededBytes } from './support/prng.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * The auth matrix: every route of the OpenAPI document that needs a token x
 * (no token, read, write, admin, another repository's token, a revoked token).
 * Nothing is readable or writable without the right scope; 401 for no or a bad
 * token, 404 for a repository the token cannot see, 403 for a missing scope.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());
type Who = 'none' | 'revoked' | 'other' | 'read' | 'write' | 'admin';
const RANK = { read: 1, write: 2, admin: 3 } as const;

interface Case {
  method: string;
  /** OpenAPI path */
  path: string;
  scope: 'read' | 'write' | 'admin' | 'any';
  send: (s: TestServer, token: string | undefined) => Promise<Answer>;
  ok: number[];
}

for (const backend of BACKENDS) {
  test(`auth matrix: every route x every kind of token (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const admin = s.adminToken;
    const f = makeFile(seededBytes(1, 50_000));
    await pushFile(s.url, 'mat', admin, f);
    const extra = makeFile(seededBytes(2, 20_000));
    const tokens: Record<Who, string | undefined> = {
      none: undefined,
      read: await s.token('mat', 'read'),
      write: await s.token('mat', 'write'),
      admin: await s.token('mat', 'admin'),
      other: await s.token('other', 'admin'),
      revoked: await s.token('mat', 'admin'),
    };
    const list = await s.admin(['token', 'list', '--json']);
    const revokedId = JSON.parse(list.stdout).tokens.at(-1).id;
    assert.equal((await s.admin(['token', 'revoke', String(revokedId)])).code, 0);

    // A recorded run (tracking routes), and a fresh one for each POST.
    const runBody = (id = randomUUID()) =>
      JSON.stringify({
        runs: [{ id, pipelineRun: '00000000-0000-4000-8000-000000000000', stage: 's', attempt: 1, status: 'succeeded', startedAt: 1, finishedAt: 2, exitCode: 0, signal: null, cmd: 'c', commit: null, params: {}, error: null,
          metrics: [{ key: 'loss', value: 1, step: 1, time: 1 }], inputs: [], outputs: [{ path: 'out.bin', type: 'file', sha256: f.sha256, manifest: f.manifest.id, size: 50_000 }], log: null }],
      });
    const runId = randomUUID();
    assert.equal((await request(s.url, '/api/v1/repos/mat/runs', { method: 'POST', token: admin, body: runBody(runId), headers: { 'content-type': 'application/json' } })).status, 200);

    const form = Buffer.from(`--b\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\nhello\r\n--b--\r\n`);
    const P = '/api/v1/repos';
    const SHA = 'c0ffee'.padEnd(40, '0');
    const person = { name: 'A', email: 'a@example.com', time: 1732400000, tz: '+0000' };
    const record = {
      commits: [{ sha: SHA, parents: [], author: person, committer: person, message: 'data', pointers: [{ path: 'a.csv', type: 'file', size: f.data.length, sha256: f.sha256, manifest: f.manifest.id }] }],
      refs: [{ name: 'refs/heads/main', sha: SHA }],
    };
    assert.equal((await request(s.url, `${P}/mat/commits`, { method: 'POST', token: admin, body: JSON.stringify(record), headers: { 'content-type': 'application/json' } })).status, 200);
    const cases: Case[] = [
      { method: 'get', path: `${P}`, scope: 'any', ok: [200], send: (srv, tok) => request(srv.url, P, { token: tok }) },
      { method: 'get', path: `${P}/{repo}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat`, { token: tok }) },
      { method: 'put', path: `${P}/{repo}`, scope: 'write', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat`, { method: 'PUT', token: tok }) },
      { method: 'post', path: `${P}/{repo}/blobs/missing`, scope: 'write', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/blobs/missing`, { method: 'POST', token: tok, body: encodeIdList([f.chunks[0]!.id]), headers: { 'content-type': MediaType.ids } }) },
      { method: 'post', path: `${P}/{repo}/blobs/fetch`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/blobs/fetch`, { method: 'POST', token: tok, body: encodeIdList([f.chunks[0]!.id]), headers: { 'content-type': MediaType.ids } }) },
      { method: 'put', path: `${P}/{repo}/packs/{pack}`, scope: 'write', ok: [200, 201], send: (srv, tok) => { const p = makePack(extra.chunks); return request(srv.url, `${P}/mat/packs/${p.id}`, { method: 'PUT', token: tok, body: p.bytes, headers: { 'content-type': MediaType.pack } }); } },
      { method: 'get', path: `${P}/{repo}/files/{ref}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/files/${f.sha256}`, { token: tok }) },
      { method: 'head', path: `${P}/{repo}/files/{ref}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/files/${f.manifest.id}`, { method: 'HEAD', token: tok }) },
      { method: 'get', path: `${P}/{repo}/files/{ref}/{path}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/files/${f.sha256}/a.csv`, { token: tok }) },
      { method: 'head', path: `${P}/{repo}/files/{ref}/{path}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/files/${f.sha256}/a.csv`, { method: 'HEAD', token: tok }) },
      { method: 'post', path: `${P}/{repo}/links`, scope: 'read', ok: [201], send: (srv, tok) => request(srv.url, `${P}/mat/links`, { method: 'POST', token: tok, body: JSON.stringify({ ref: f.sha256, path: 'a.csv' }), headers: { 'content-type': 'application/json' } }) },
      { method: 'post', path: `${P}/{repo}/uploads`, scope: 'write', ok: [201], send: (srv, tok) => request(srv.url, `${P}/mat/uploads`, { method: 'POST', token: tok, body: form, headers: { 'content-type': 'multipart/form-data; boundary=b' } }) },
      // Commit records and dataset history (the record is the same every time: recording it again is a no-op).
      { method: 'post', path: `${P}/{repo}/commits/known`, scope: 'write', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/commits/known`, { method: 'POST', token: tok, body: JSON.stringify({ shas: [SHA] }), headers: { 'content-type': 'application/json' } }) },
      { method: 'post', path: `${P}/{repo}/commits`, scope: 'write', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/commits`, { method: 'POST', token: tok, body: JSON.stringify(record), headers: { 'content-type': 'application/json' } }) },
      { method: 'get', path: `${P}/{repo}/refs`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/refs`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/commits/{ref}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/commits/main`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/datasets`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/datasets?ref=main`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/history`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/history?path=a.csv`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/diff`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/diff?from=main&to=${SHA}`, { token: tok }) },
      { method: 'post', path: `${P}/{repo}/runs`, scope: 'write', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/runs`, { method: 'POST', token: tok, body: runBody(), headers: { 'content-type': 'application/json' } }) },
      { method: 'get', path: `${P}/{repo}/runs`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/runs?stage=s`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/runs/{id}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/runs/${runId}`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/runs/{id}/metrics/{key}`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/runs/${runId}/metrics/loss`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/lineage`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/lineage?path=out.bin&sha256=${f.sha256}`, { token: tok }) },
      { method: 'get', path: `${P}/{repo}/models`, scope: 'read', ok: [200], send: (srv, tok) => request(srv.url, `${P}/mat/models`, { token: tok }) },
      // Last: it deletes the repository.
      { method: 'delete', path: `${P}/{repo}`, scope: 'admin', ok: [204], send: (srv, tok) => request(srv.url, `${P}/mat`, { method: 'DELETE', token: tok }) },
    ];

    // Every operation of the document that needs a token is in the matrix, and nothing else.
    const doc = (await request(s.url, '/api/v1/openapi.json')).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
      Object.entries(ops).filter(([, op]) => op.security).map(([method, op]) => `${method} ${path} ${op['x-dvx-scope'] ?? 'any'}`),
    // The Git LFS routes answer in the LFS shape (Basic challenge, LFS error body): their matrix is in test/lfs.test.ts.
    ).filter((op) => !op.includes(' /{repo}.git/'));
    assert.deepEqual(cases.map((c) => `${c.method} ${c.path} ${c.scope}`).sort(), documented.sort());

    const order: Who[] = ['none', 'revoked', 'other', 'read', 'write', 'admin'];
    for (const c of cases) {
      for (const who of order) {
        const a = await c.send(s, tokens[who]);
        const label = `${c.method.toUpperCase()} ${c.path} as ${who}: ${a.status} ${a.text().slice(0, 200)}`;
        if (who === 'none' || who === 'revoked') {
          assert.equal(a.status, 401, label);
          assert.match(String(a.headers['www-authenticate']), /^Bearer/, label);
        } else if (c.scope === 'any') {
          assert.ok(c.ok.includes(a.status), label);
          if (who === 'other') assert.deepEqual(a.json().repos.map((r: any) => r.name), [], 'another repository\'s token lists none of mat');
          else assert.deepEqual(a.json().repos.map((r: any) => r.name), ['mat']);
        } else if (who === 'other') {
          assert.equal(a.status, 404, label);
        } else if (RANK[who] >= RANK[c.scope]) {
          assert.ok(c.ok.includes(a.status), label);
        } else {
          assert.equal(a.status, 403, label);
        }
        if (a.status >= 400 && c.method !== 'head') errorCode(a);
      }
    }
    // The admin token deleted the repository: it is gone for everyone.
    assert.equal((await request(s.url, `${P}/mat`, { token: admin })).status, 404);
  });
}
