import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { scopeAllows, type Scope } from '../../core/protocol.ts';
import { hashToken, type TokenStore } from '../index/token-store.ts';
import { HttpError } from '../http/http-error.ts';

/**
 * Who is asking: a token from `Authorization: Bearer <token>` (or HTTP Basic
 * with the token as password, for git-lfs). Tokens are checked by their
 * SHA-256; the bootstrap DVX_ADMIN_TOKEN by a constant-time comparison.
 *
 * Answers (docs/protocol.md): no or unknown token 401; a token for another
 * repository 404 (names do not leak); a token without the scope 403.
 */
export interface Principal {
  /** 'link': a signed download link (signed-url.ts), read-only for one file */
  readonly tokenId: number | 'bootstrap' | 'link';
  readonly scope: Scope;
  /** a repository name, or '*' */
  readonly repo: string;
  /** who this is, for Git LFS lock owners: the token's description, else `token-<id>` */
  readonly name: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function bearerOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return m[2];
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export const UNAUTHORIZED_HEADERS = { 'WWW-Authenticate': 'Bearer realm="dvx"' };

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'unauthorized', message, UNAUTHORIZED_HEADERS);
}

export class Authenticator {
  private readonly adminHash: Buffer | undefined;

  constructor(private readonly tokens: TokenStore, adminToken: string | undefined) {
    this.adminHash = adminToken ? hashToken(adminToken) : undefined;
  }

  identify(token: string): Principal | undefined {
    if (this.adminHash && timingSafeEqual(hashToken(token), this.adminHash)) return { tokenId: 'bootstrap', scope: 'admin', repo: '*', name: 'admin' };
    const row = this.tokens.lookup(token);
    if (!row || row.revoked !== null) return undefined;
    this.tokens.touch(row.id);
    return { tokenId: row.id, scope: row.scope, repo: row.repo, name: row.description.trim() || `token-${row.id}` };
  }

  /** The principal of a request's Authorization header; 'none' when it has none. */
  fromHeader(header: string | undefined): Principal | 'none' | undefined {
    const token = bearerOf(header);
    if (token === undefined) return 'none';
    return this.identify(token);
  }

  /** Middleware: every route after it needs a valid token. */
  middleware() {
    return (req: Request, _res: Response, next: NextFunction) => {
      // Already identified by a signed download link (signed-url.ts), for that one file.
      if (req.principal) return next();
      const p = this.fromHeader(req.headers.authorization);
      if (p === 'none') return next(unauthorized('this route needs a token: send Authorization: Bearer <token> (create one with `dvx-server token create`)'));
      if (!p) return next(unauthorized('the token is unknown or revoked: log in again with a valid token'));
      req.principal = p;
      next();
    };
  }
}

/** Throws unless the request's principal holds `needed` on `repo`. */
export function authorize(req: Request, repo: string, needed: Scope): Principal {
  const p = req.principal;
  if (!p) throw unauthorized('this route needs a token');
  if (p.repo !== '*' && p.repo !== repo) throw notFoundRepo(repo);
  if (!scopeAllows(p.scope, needed)) throw new HttpError(403, 'forbidden', `this token has ${p.scope} scope; this needs ${needed} scope on ${repo}`);
  return p;
}

export function canRead(p: Principal, repo: string): boolean {
  return p.repo === '*' || p.repo === repo;
}

export function notFoundRepo(repo: string): HttpError {
  return new HttpError(404, 'repo_not_found', `no repository named ${JSON.stringify(repo)} (or this token cannot see it)`);
}
