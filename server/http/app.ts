import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Authenticator } from '../auth/auth.ts';
import type { Logger } from '../logger.ts';
import { StorageUnavailable } from '../storage/errors.ts';
import { ClientAborted } from '../store/pack-upload.ts';
import type { Store } from '../store/store.ts';
import { answerFor, HttpError } from './http-error.ts';
import type { Metrics } from './metrics.ts';
import { requestLog } from './request-log.ts';
import { resolveCommit } from './commit-refs.ts';
import { blobRoutes } from './routes/blobs.ts';
import { commitRoutes } from './routes/commits.ts';
import { fileRoutes } from './routes/files.ts';
import { historyRoutes } from './routes/history.ts';
import { lfsLockRoutes } from './routes/lfs-locks.ts';
import { lfsRoutes } from './routes/lfs.ts';
import { opsRoutes } from './routes/ops.ts';
import { packRoutes } from './routes/packs.ts';
import { repoRoutes } from './routes/repos.ts';
import { trackingRoutes } from './routes/tracking.ts';
import { uploadRoutes } from './routes/uploads.ts';
import { linkRoutes } from './routes/links.ts';
import { webRoutes } from './routes/web.ts';
import { signedLinks, UrlSigner } from '../auth/signed-url.ts';

/**
 * The HTTP API (docs/protocol.md), every route registered directly on the app
 * so that the OpenAPI test can walk them. Order: request log, the routes that
 * need no token, authentication, the API, then the JSON 404 and error answers.
 */
export function createApp(store: Store, logger: Logger, metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLog(logger, metrics));

  opsRoutes(app, store, metrics);
  webRoutes(app);
  const signer = new UrlSigner();
  const auth = new Authenticator(store.tokens, store.config.adminToken);
  // Git LFS authenticates on its own: its 401 must carry LFS-Authenticate and an LFS error body.
  lfsRoutes(app, store, logger, auth);
  lfsLockRoutes(app, store, logger, auth);
  app.use(signedLinks(signer));
  app.use(auth.middleware());
  repoRoutes(app, store);
  blobRoutes(app, store, logger);
  packRoutes(app, store, metrics);
  fileRoutes(app, store, logger);
  uploadRoutes(app, store);
  commitRoutes(app, store);
  historyRoutes(app, store);
  trackingRoutes(app, store, {
    // Raw data in a lineage graph names the commit that brought it in, at that path if it was recorded there.
    introducedBy: ({ rid, path, sha256 }) => {
      const c = store.commits.introducedBy({ rid, sha256, path }) ?? store.commits.introducedBy({ rid, sha256 });
      return c && { commit: c.sha, time: c.time, message: c.message };
    },
    resolveRef: ({ rid, ref, path }) => {
      const d = store.commits.datasetAt(rid, resolveCommit(store, rid, ref).cid, path);
      return d && { sha256: d.sha256 };
    },
  });
  linkRoutes(app, signer);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path.slice(0, 200)}`));
  });
  app.use(errorHandler(logger, metrics, store.backend.kind));
  return app;
}

function errorHandler(logger: Logger, metrics: Metrics, backend: string) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ClientAborted) {
      logger.info({ reqId: req.id }, err.message);
      res.destroy();
      return;
    }
    const a = answerFor(err, req.id);
    if (a.unexpected) logger.error({ reqId: req.id, err }, 'unexpected error');
    else if (a.status >= 500) logger.warn({ reqId: req.id, code: a.code, message: (err as Error).message }, 'request failed');
    if (err instanceof StorageUnavailable) metrics.storageErrors.inc({ backend, code: err.op });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Headers set for a success that did not happen (ETag, Content-Length...) must not go out with the error.
    for (const h of res.getHeaderNames()) if (h !== 'x-request-id') res.removeHeader(h);
    // An unread request body would otherwise be drained, possibly gigabytes: close instead.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.status(a.status).set(a.headers).json({ error: { code: a.code, message: a.message } });
  };
}
