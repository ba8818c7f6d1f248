import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { API_PREFIX } from '../../core/protocol.ts';
import { HttpError } from '../http/http-error.ts';
import type { Principal } from './auth.ts';

/**
 * Signed download links (docs/protocol.md "Download links"). A browser cannot
 * put a header on a plain link, and a token in a URL would end up in
 * histories and logs. Instead, a client holding a read token asks for a URL
 * valid for one repository, ref and path, for minutes: `?exp=<unix s>&sig=<HMAC-SHA256>`
 * over the four, with a key the server draws at start (a restart voids every
 * link). Such a URL reads that file (or directory) and nothing else.
 */
export const LINK_DEFAULT_SECONDS = 600;
export const LINK_MAX_SECONDS = 3600;

export interface LinkTarget {
  repo: string;
  ref: string;
  path: string;
}

export class UrlSigner {
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  private mac(t: LinkTarget, exp: number): Buffer {
    // NUL cannot occur in a repository name, ref or path, so the fields cannot run into each other.
    return createHmac('sha256', this.key).update(`dvx-link-v1\0${t.repo}\0${t.ref}\0${t.path}\0${exp}`).digest();
  }

  /** The link's path and query (relative to the server's base URL). */
  sign(t: LinkTarget, seconds: number, now = Date.now()): { url: string; expiresAt: number } {
    const exp = Math.floor(now / 1000) + seconds;
    const sig = this.mac(t, exp).toString('base64url');
    const path = t.path === '' ? '' : `/${t.path.split('/').map(encodeURIComponent).join('/')}`;
    return { url: `${API_PREFIX}/repos/${encodeURIComponent(t.repo)}/files/${encodeURIComponent(t.ref)}${path}?exp=${exp}&sig=${sig}`, expiresAt: exp * 1000 };
  }

  verify(t: LinkTarget, exp: number, sig: string, now = Date.now()): 'ok' | 'expired' | 'invalid' {
    const given = Buffer.from(sig, 'base64url');
    const want = this.mac(t, exp);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'invalid';
    return exp * 1000 < now ? 'expired' : 'ok';
  }
}

const FILES_RE = new RegExp(`^${API_PREFIX.replace(/\//g, '\\/')}\\/repos\\/([^/]+)\\/files\\/([^/]+)(?:\\/(.*))?$`);

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Middleware before the authenticator: a GET or HEAD of a files URL that
 * carries `sig` is let through with a read principal for that repository when
 * the signature matches this exact repository, ref and path and has not
 * expired; otherwise it is answered 401. Everything else passes untouched.
 */
export function signedLinks(signer: UrlSigner) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.query.sig === undefined && req.query.exp === undefined) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const m = FILES_RE.exec(req.path);
    if (!m) return next();
    const repo = decode(m[1]!);
    const ref = decode(m[2]!);
    // The files route joins its path segments after decoding each; decoding the whole gives the same text.
    const path = m[3] === undefined ? '' : decode(m[3].replace(/\/$/, ''));
    const exp = Number(req.query.exp);
    const sig = typeof req.query.sig === 'string' ? req.query.sig : '';
    const bad = (message: string) => next(new HttpError(401, 'bad_link', message));
    if (repo === undefined || ref === undefined || path === undefined || !Number.isSafeInteger(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return bad('this download link is malformed: ask for a new one (POST .../links)');
    const verdict = signer.verify({ repo, ref, path }, exp, sig);
    if (verdict === 'expired') return bad('this download link has expired: ask for a new one (POST .../links)');
    if (verdict === 'invalid') return bad('this download link is not valid for this file: ask for a new one (POST .../links)');
    const principal: Principal = { tokenId: 'link', scope: 'read', repo, name: 'download link' };
    req.principal = principal;
    next();
  };
}
