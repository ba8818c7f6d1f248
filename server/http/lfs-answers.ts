import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { scopeAllows, type Scope } from '../../core/protocol.ts';
import type { Authenticator, Principal } from '../auth/auth.ts';
import type { Logger } from '../logger.ts';
import { StorageUnavailable } from '../storage/errors.ts';
import { ClientAborted } from '../store/pack-upload.ts';
import { answerFor, HttpError } from './http-error.ts';

/**
 * What the Git LFS routes share: their media type, their own authentication
 * (HTTP Basic with the token as password, or bearer; a 401 carries
 * `LFS-Authenticate` so that git-lfs asks its credential helper), and their
 * error body, which the LFS API fixes as `{message, request_id, documentation_url}`
 * instead of the dvx `{error: {code, message}}`.
 */
export const LFS_MEDIA = 'application/vnd.git-lfs+json';
export const LFS_DOCS = 'https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md';

const BASIC_CHALLENGE = 'Basic realm="dvx"';

/** The principal of an LFS request holding `needed` on `repo`, or an LFS-shaped 401/403/404. */
export function lfsAuthorize(auth: Authenticator, req: Request, repo: string, needed: Scope): Principal {
  const p = auth.fromHeader(req.headers.authorization);
  const challenge = { 'LFS-Authenticate': BASIC_CHALLENGE, 'WWW-Authenticate': BASIC_CHALLENGE };
  if (p === 'none') throw new HttpError(401, 'unauthorized', 'credentials needed: use any user name and a dvx token as the password', challenge);
  if (!p) throw new HttpError(401, 'unauthorized', 'the token is unknown or revoked: give git a valid dvx token as the password', challenge);
  if (p.repo !== '*' && p.repo !== repo) throw new HttpError(404, 'repo_not_found', `no repository named ${JSON.stringify(repo)} (or this token cannot see it)`);
  if (!scopeAllows(p.scope, needed)) throw new HttpError(403, 'forbidden', `this token has ${p.scope} scope; this needs ${needed} scope on ${repo}`);
  req.principal = p;
  return p;
}

/** A JSON answer in the LFS media type. */
export function lfsJson(res: Response, status: number, body: unknown): void {
  res.status(status).type(LFS_MEDIA).send(JSON.stringify(body));
}

/** Whether a failure is the disk (or quota) being full: LFS answers 507. */
function storageFull(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  }
  return false;
}

/**
 * Wraps an LFS route handler: every error becomes an LFS error body with the
 * right status. A client that went away is left to the app's error handler,
 * which closes the connection.
 */
export function lfsRoute(logger: Logger, fn: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await fn(req, res);
    } catch (err) {
      if (err instanceof ClientAborted) return next(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      let status: number;
      let message: string;
      let headers: Record<string, string> = {};
      if (storageFull(err)) {
        status = 507;
        message = 'the server has no storage space left for this object; try again after an operator frees space';
        logger.warn({ reqId: req.id, message: (err as Error).message }, 'storage full');
      } else {
        const a = answerFor(err, req.id);
        if (a.unexpected) logger.error({ reqId: req.id, err }, 'unexpected error');
        else if (a.status >= 500) logger.warn({ reqId: req.id, code: a.code, message: (err as Error).message }, 'request failed');
        status = a.status;
        message = a.message;
        headers = a.headers;
        if (err instanceof StorageUnavailable) headers = { ...headers, 'Retry-After': '5' };
      }
      for (const h of res.getHeaderNames()) if (h !== 'x-request-id') res.removeHeader(h);
      if (!req.complete) res.setHeader('Connection', 'close');
      res.set(headers);
      lfsJson(res, status, { message, request_id: req.id, documentation_url: LFS_DOCS });
    }
  };
}
