import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startAzurite } from './support/azurite.ts';
import { errorCode, request } from './support/http.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * Signed download links (docs/protocol.md "Download links") and the web UI's
 * static files with their security headers, against a real dvx-server.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());

async function upload(s: TestServer, token: string, repo: string, name: string, bytes: Buffer) {
  const boundary = `b${randomBytes(8).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const a = await request(s.url, `/api/v1/repos/${repo}/uploads`, { method: 'POST', token, body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  assert.equal(a.status, 201, a.text());
  return a.json().files[0] as { sha256: string; manifest: string; size: number };
}

const mint = (s: TestServer, token: string | undefined, repo: string, body: unknown) =>
  request(s.url, `/api/v1/repos/${repo}/links`, { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

for (const backend of BACKENDS) test(`a signed link reads one file without a token, with Range; expired, tampered or other-path links are refused (${backend})`, async (t) => {
  const s = await startServer(t, { backend, azurite });
  const writer = await s.token('shop', 'write');
  const reader = await s.token('shop', 'read');
  const data = randomBytes(300_000);
  const other = randomBytes(1000);
  const f = await upload(s, writer, 'shop', 'a.bin', data);
  const g = await upload(s, writer, 'shop', 'b.bin', other);

  assert.equal((await mint(s, undefined, 'shop', { ref: f.sha256, path: 'a.bin' })).status, 401, 'minting needs a token');
  const outsider = await s.token('elsewhere', 'read');
  assert.equal((await mint(s, outsider, 'shop', { ref: f.sha256, path: 'a.bin' })).status, 404, 'and read scope on that repository');
  const bad = await mint(s, reader, 'shop', { ref: f.sha256, path: '../x' });
  assert.equal(bad.status, 400);
  assert.equal(errorCode(bad), 'bad_request');
  assert.equal((await mint(s, reader, 'shop', { ref: f.sha256, path: 'a.bin', expiresIn: 7200 })).status, 400, 'at most an hour');

  const m = await mint(s, reader, 'shop', { ref: f.sha256, path: 'a.bin' });
  assert.equal(m.status, 201, m.text());
  const { url, expiresAt } = m.json() as { url: string; expiresAt: number };
  assert.match(url, /^\/api\/v1\/repos\/shop\/files\/[0-9a-f]{64}\/a\.bin\?exp=\d+&sig=[A-Za-z0-9_-]{43}$/);
  assert.ok(expiresAt > Date.now() + 500_000 && expiresAt <= Date.now() + 601_000, 'ten minutes by default');

  // Valid: the whole file, a range, HEAD; no token sent.
  const whole = await request(s.url, url);
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.body, data);
  assert.equal(whole.headers.etag, `"${f.sha256}"`);
  const part = await request(s.url, url, { headers: { range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.deepEqual(part.body, data.subarray(1000, 2000));
  assert.equal((await request(s.url, url, { method: 'HEAD' })).headers['content-length'], String(data.length));

  // Tampered signature, other path, other ref, other repository, another route, a write.
  const sig = new URL(url, s.url).searchParams.get('sig')!;
  const flipped = url.replace(sig, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
  for (const [what, u] of [
    ['tampered signature', flipped],
    ['later expiry', url.replace(/exp=(\d+)/, (_m, e) => `exp=${Number(e) + 3600}`)],
    ['other path', url.replace('/a.bin?', '/b.bin?')],
    ['other ref', url.replace(f.sha256, g.sha256)],
    ['other repository', url.replace('/repos/shop/', '/repos/shop2/')],
    ['no signature', url.replace(/&sig=.*$/, '')],
  ] as const) {
    const a = await request(s.url, u);
    assert.equal(a.status, 401, `${what}: ${a.status}`);
    assert.equal(errorCode(a), 'bad_link', what);
  }
  const otherRoute = await request(s.url, `/api/v1/repos/shop?${url.split('?')[1]}`);
  assert.equal(otherRoute.status, 401, 'a link opens its file, no other route');
  assert.equal(errorCode(otherRoute), 'unauthorized');
  assert.equal((await request(s.url, url, { method: 'DELETE' })).status, 401, 'and never writes');

  // Expired.
  const short = (await mint(s, reader, 'shop', { ref: f.sha256, path: 'a.bin', expiresIn: 1 })).json() as { url: string };
  assert.equal((await request(s.url, short.url)).status, 200);
  await new Promise((r) => setTimeout(r, 2100));
  const expired = await request(s.url, short.url);
  assert.equal(expired.status, 401);
  assert.match(expired.json().error.message, /expired/);
});

test('the web UI is served at / with a strict policy; its assets are cached; /api still answers JSON 404s', async (t) => {
  const s = await startServer(t, { backend: 'fs' });
  const page = await request(s.url, '/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no eval');
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['cache-control'], 'no-cache');
  const html = page.text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script in the page');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
  const script = /src="(\/assets\/app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
  const styles = /href="(\/assets\/styles-[A-Z0-9]{8}\.css)"/.exec(html)?.[1];
  assert.ok(script && styles, html);
  const js = await request(s.url, script);
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /javascript/);
  assert.match(String(js.headers['cache-control']), /immutable/);
  assert.equal(js.headers['x-content-type-options'], 'nosniff');
  const css = await request(s.url, styles);
  assert.equal(css.status, 200);
  assert.match(css.text(), /\.uplot/, "uPlot's styles are bundled");
  const missing = await request(s.url, '/assets/nope.js');
  assert.equal(missing.status, 404);
  assert.equal(errorCode(missing), 'not_found');
  const api = await request(s.url, '/api/v1/nothing-here', { token: s.adminToken });
  assert.equal(api.status, 404);
  assert.equal(errorCode(api), 'not_found');
  assert.equal((await request(s.url, '/api/v1/repos')).status, 401, 'data still needs a token');
});
