import { timingSafeEqual, createHash } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { API_PREFIX } from '../../../core/protocol.ts';
import { bearerOf } from '../../auth/auth.ts';
import { openApiDocument } from '../../openapi.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import type { Metrics } from '../metrics.ts';

/** Unauthenticated operations routes: health, metrics (optionally token-protected), the OpenAPI document. */
const PING_TIMEOUT_MS = 3000;

export function opsRoutes(app: Express, store: Store, metrics: Metrics): void {
  let last: { at: number; ok: boolean; detail?: string } | undefined;

  app.get('/healthz', async (_req: Request, res: Response) => {
    const now = Date.now();
    // A burst of probes asks storage once a second at most.
    if (!last || now - last.at > 1000) {
      try {
        store.db.prepare('SELECT 1').get();
        await Promise.race([
          store.backend.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS).unref()),
        ]);
        last = { at: now, ok: true };
      } catch (err) {
        last = { at: now, ok: false, detail: (err as { code?: string }).code === 'storage_unavailable' ? 'storage is unavailable' : 'storage or index does not answer' };
      }
    }
    if (last.ok) res.json({ status: 'ok' });
    else res.status(503).set('Retry-After', '5').json({ status: 'unavailable', error: { code: 'storage_unavailable', message: last.detail! } });
  });

  const metricsHash = store.config.metricsToken ? createHash('sha256').update(store.config.metricsToken).digest() : undefined;
  app.get('/metrics', async (req: Request, res: Response) => {
    if (metricsHash) {
      const token = bearerOf(req.headers.authorization);
      const ok = token !== undefined && timingSafeEqual(createHash('sha256').update(token).digest(), metricsHash);
      if (!ok) throw new HttpError(401, 'unauthorized', '/metrics needs the DVX_METRICS_TOKEN as a bearer token', { 'WWW-Authenticate': 'Bearer realm="dvx-metrics"' });
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get(`${API_PREFIX}/openapi.json`, (_req: Request, res: Response) => {
    res.json(openApiDocument());
  });
}
