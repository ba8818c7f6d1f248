import type { Request } from 'express';
import { isId } from '../../core/hex.ts';
import { pathProblem } from '../../core/paths.ts';
import { repoNameProblem } from '../../core/repo-name.ts';
import { HttpError } from './http-error.ts';

/**
 * Route parameters, checked before anything uses them. Express has already
 * percent-decoded them, so an encoded "%2e%2e" or "%2f" arrives here as ".."
 * or "/" and is refused like the plain form.
 */
export function repoParam(req: Request): string {
  const name = String(req.params.repo ?? '');
  const problem = repoNameProblem(name);
  if (problem) throw new HttpError(400, 'bad_repo_name', `invalid repository name ${JSON.stringify(name.slice(0, 120))}: ${problem}`);
  return name;
}

export function idParam(req: Request, name: string, what: string): string {
  const v: unknown = String(req.params[name] ?? '');
  if (!isId(v)) throw new HttpError(400, 'bad_id', `invalid ${what} ${JSON.stringify(String(v).slice(0, 80))}: expected 64 lowercase hex digits`);
  return v;
}

/** The `*path` wildcard: its decoded segments, joined, refused if any could escape. */
export function pathParam(req: Request): string {
  const raw = (req.params as Record<string, unknown>).path;
  if (raw === undefined) return '';
  const segments = Array.isArray(raw) ? raw.map(String) : [String(raw)];
  const nonEmpty = segments.filter((s, i) => s !== '' || i !== segments.length - 1);
  for (const s of nonEmpty) {
    if (s.includes('/')) throw new HttpError(400, 'bad_path', `invalid path: segment ${JSON.stringify(s.slice(0, 200))} contains an encoded "/"`);
  }
  const path = nonEmpty.join('/');
  if (path === '') return '';
  const problem = pathProblem(path);
  if (problem) throw new HttpError(400, 'bad_path', `invalid path ${JSON.stringify(path.slice(0, 200))}: it ${problem}`);
  return path;
}

/** The media type of a request body, lowercased, without parameters. */
export function mediaType(req: Request): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireMediaType(req: Request, ...types: string[]): string {
  const t = mediaType(req);
  if (!types.includes(t)) throw new HttpError(415, 'unsupported_media_type', `this route takes ${types.join(' or ')}, not ${t ? JSON.stringify(t) : 'a body without Content-Type'}`);
  return t;
}
