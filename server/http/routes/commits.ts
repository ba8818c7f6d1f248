import express, { type Express, type Request, type Response } from 'express';
import type * as z from '../../../core/zod.ts';
import { API_PREFIX, Commits, commitsRequestSchema, knownRequestSchema, MediaType, type CommitInfo } from '../../../core/protocol.ts';
import { authorize, notFoundRepo } from '../../auth/auth.ts';
import { recordCommits } from '../../store/commit-recorder.ts';
import type { Store } from '../../store/store.ts';
import { checkRef, resolveCommit } from '../commit-refs.ts';
import { HttpError } from '../http-error.ts';
import { repoParam, requireMediaType } from '../params.ts';

/**
 * Commit records (docs/protocol.md "Commit records"): which commits the
 * server knows, recording them with the refs pushed, and reading one back.
 */
const jsonBody = express.json({ type: () => true, limit: Commits.maxBodyBytes, strict: true });

/** Parses a JSON body with a zod schema; the first problem becomes a 400 that names where it is. */
export function parseBody<S extends z.ZodMiniType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new HttpError(400, 'bad_request', `body: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}

function tooMany(body: unknown, key: string, max: number): void {
  const n = (body as Record<string, unknown> | undefined)?.[key];
  if (Array.isArray(n) && n.length > max) throw new HttpError(413, 'too_large', `${n.length} ${key} is more than the limit of ${max} per request`);
}

export function commitRoutes(app: Express, store: Store): void {
  const writeJson = (req: Request, res: Response, next: (err?: unknown) => void) => {
    authorize(req, repoParam(req), 'write');
    requireMediaType(req, MediaType.json);
    jsonBody(req, res, next);
  };

  app.post(`${API_PREFIX}/repos/:repo/commits/known`, writeJson, (req: Request, res: Response) => {
    tooMany(req.body, 'shas', Commits.maxKnownShas);
    const { shas } = parseBody(knownRequestSchema, req.body);
    const row = store.repos.get(repoParam(req));
    res.json({ known: row ? store.commits.known(row.rid, shas) : [] });
  });

  app.post(`${API_PREFIX}/repos/:repo/commits`, writeJson, async (req: Request, res: Response) => {
    tooMany(req.body, 'commits', Commits.maxPerRequest);
    const body = parseBody(commitsRequestSchema, req.body);
    res.json(await recordCommits({ store, repo: repoParam(req), commits: body.commits, refs: body.refs }));
  });

  app.get(`${API_PREFIX}/repos/:repo/refs`, (req: Request, res: Response) => {
    const repo = repoParam(req);
    authorize(req, repo, 'read');
    const row = store.repos.get(repo);
    if (!row) throw notFoundRepo(repo);
    res.json({ refs: store.commits.refs(row.rid) });
  });

  app.get(`${API_PREFIX}/repos/:repo/commits/*ref`, (req: Request, res: Response) => {
    const repo = repoParam(req);
    authorize(req, repo, 'read');
    // `*ref`: a ref with slashes (refs/heads/main) may come unencoded.
    const raw = (req.params as Record<string, unknown>).ref;
    const ref = checkRef(Array.isArray(raw) ? raw.map(String).join('/') : String(raw ?? ''));
    const row = store.repos.get(repo);
    if (!row) throw notFoundRepo(repo);
    const c = store.commits.details(resolveCommit(store, row.rid, ref).cid);
    const info: CommitInfo = { sha: c.sha, parents: c.parents, author: c.author, committer: c.committer, message: c.message, pointers: c.datasets };
    res.json(info);
  });
}
