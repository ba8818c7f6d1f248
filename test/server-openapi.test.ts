import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../server/config.ts';
import { createApp } from '../server/http/app.ts';
import { Metrics } from '../server/http/metrics.ts';
import { createLogger } from '../server/logger.ts';
import { openApiDocument } from '../server/openapi.ts';
import { Store } from '../server/store/store.ts';
import { request } from './support/http.ts';
import { startAzurite } from './support/azurite.ts';
import { BACKENDS, startServer } from './support/server.ts';
import { tempDir } from './support/cli.ts';

/**
 * The OpenAPI document lists exactly the routes the app serves: the express
 * router stack is walked and compared with the document's paths, both ways.
 */
function toOpenApi(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');
}

test('every route the app serves is in the OpenAPI document, and every documented operation is served', async (t) => {
  const store = await Store.open(loadConfig({ DVX_DATA_DIR: tempDir(t) }));
  t.after(() => store.close());
  const app = createApp(store, createLogger('silent'), new Metrics());
  const served = new Set<string>();
  for (const layer of (app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router.stack) {
    if (!layer.route) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') served.add(`${method} ${toOpenApi(layer.route.path)}`);
  }
  const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(doc.openapi, '3.1.0');
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
  assert.deepEqual([...served].filter((r) => !documented.has(r)), [], 'served but not documented');
  assert.deepEqual([...documented].filter((r) => !served.has(r)), [], 'documented but not served');
  assert.ok(served.size >= 14);
});

const azurite = await startAzurite();
after(() => azurite.dispose());

for (const backend of BACKENDS) test(`the document, health and metrics are served without a token (${backend})`, async (t) => {
  const s = await startServer(t, { backend, azurite });
  const a = await request(s.url, '/api/v1/openapi.json');
  assert.equal(a.status, 200);
  const doc = a.json();
  assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument())));
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      for (const p of path.match(/\{(\w+)\}/g) ?? []) assert.ok(op.parameters?.some((x: any) => `{${x.name}}` === p && x.in === 'path'), `${method} ${path} documents ${p}`);
    }
  }
  // The metrics and health routes answer too.
  assert.equal((await request(s.url, '/healthz')).json().status, 'ok');
  const m = await request(s.url, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text(), /dvx_http_requests_total\{route="\/api\/v1\/openapi\.json",method="GET",status="200"\} 1/);
  assert.match(m.text(), /dvx_http_request_duration_seconds_bucket/);
  assert.match(m.text(), /dvx_http_response_bytes_total\{route="\/api\/v1\/openapi\.json"\} \d+/);
});

for (const backend of BACKENDS) test(`DVX_METRICS_TOKEN protects /metrics (${backend})`, async (t) => {
  const metricsToken = 'metrics-token-0123456789';
  const s = await startServer(t, { backend, azurite, env: { DVX_METRICS_TOKEN: metricsToken } });
  const none = await request(s.url, '/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.json().error.code, 'unauthorized');
  assert.equal((await request(s.url, '/metrics', { token: 'wrong-token-0123456789' })).status, 401);
  assert.equal((await request(s.url, '/metrics', { token: metricsToken })).status, 200);
  assert.equal((await request(s.url, '/healthz')).status, 200, 'health stays open');
});
