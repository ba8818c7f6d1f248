import type { Express, Request, Response } from 'express';
import { API_PREFIX, type RepoInfo } from '../../../core/protocol.ts';
import { authorize, canRead, notFoundRepo } from '../../auth/auth.ts';
import type { RepoRow } from '../../index/repo-index.ts';
import type { Store } from '../../store/store.ts';
import { repoParam } from '../params.ts';

/** Repository information, explicit creation and deletion (docs/protocol.md "Repository information"). */
export function repoInfo(store: Store, row: RepoRow): RepoInfo {
  const { blobs, bytes } = store.repos.info(row.rid);
  return { name: row.name, createdAt: new Date(row.created).toISOString(), blobs, bytes };
}

export function repoRoutes(app: Express, store: Store): void {
  app.get(`${API_PREFIX}/repos`, (req: Request, res: Response) => {
    const p = req.principal!;
    const repos = store.repos.list().filter((r) => canRead(p, r.name));
    res.json({ repos: repos.map((r) => repoInfo(store, r)) });
  });

  app.get(`${API_PREFIX}/repos/:repo`, (req: Request, res: Response) => {
    const name = repoParam(req);
    authorize(req, name, 'read');
    const row = store.repos.get(name);
    if (!row) throw notFoundRepo(name);
    res.json(repoInfo(store, row));
  });

  app.put(`${API_PREFIX}/repos/:repo`, (req: Request, res: Response) => {
    const name = repoParam(req);
    authorize(req, name, 'write');
    const { repo, created } = store.repos.ensure(name, Date.now());
    res.status(created ? 201 : 200).json(repoInfo(store, repo));
  });

  app.delete(`${API_PREFIX}/repos/:repo`, (req: Request, res: Response) => {
    const name = repoParam(req);
    authorize(req, name, 'admin');
    const row = store.repos.get(name);
    if (!row) throw notFoundRepo(name);
    // Membership goes now; the bytes go at the next gc, once no other repository references them.
    store.transaction(() => store.repos.delete(row.rid));
    res.status(204).end();
  });
}
