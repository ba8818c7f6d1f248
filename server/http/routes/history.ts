import type { Express, Request, Response } from 'express';
import { pathProblem } from '../../../core/paths.ts';
import { API_PREFIX, History, type Dataset, type DatasetsResponse, type DiffResponse, type HistoryResponse } from '../../../core/protocol.ts';
import { authorize, notFoundRepo } from '../../auth/auth.ts';
import { decodeCursor } from '../../index/commit-index.ts';
import type { RepoRow } from '../../index/repo-index.ts';
import type { Store } from '../../store/store.ts';
import { VersionBytes } from '../../store/version-bytes.ts';
import { checkRef, resolveCommit } from '../commit-refs.ts';
import { HttpError } from '../http-error.ts';
import { repoParam } from '../params.ts';

/**
 * Dataset history (docs/protocol.md "Dataset history"): the tracked paths at
 * a ref, the versions of one path across commits, and what changed between
 * two refs; all from the commit records, without the git repository.
 */
function query(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `give the query parameter ${name} once`);
  return v;
}

function required(req: Request, name: string, example: string): string {
  const v = query(req, name);
  if (v === undefined || v === '') throw new HttpError(400, 'bad_request', `the query parameter ${name} is required, e.g. ?${name}=${example}`);
  return v;
}

function dataPath(v: string): string {
  const problem = pathProblem(v);
  if (problem) throw new HttpError(400, 'bad_path', `invalid path ${JSON.stringify(v.slice(0, 200))}: it ${problem}`);
  return v;
}

function intParam(req: Request, name: string, min: number, max: number, dflt: number): number {
  const v = query(req, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d{1,9}$/.test(v) || n < min || n > max) throw new HttpError(400, 'bad_request', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

const byPath = (a: Dataset, b: Dataset) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

export function historyRoutes(app: Express, store: Store): void {
  const repoFor = (req: Request): RepoRow => {
    const repo = repoParam(req);
    authorize(req, repo, 'read');
    const row = store.repos.get(repo);
    if (!row) throw notFoundRepo(repo);
    return row;
  };

  /** The ref a query names, or the repository's default branch. */
  const refOf = (req: Request, row: RepoRow, name: string): string => {
    const given = query(req, name);
    if (given !== undefined) return checkRef(given, name);
    const dflt = store.commits.defaultRef(row.rid);
    if (!dflt) throw new HttpError(404, 'ref_not_found', `this repository has no refs yet: push with the dvx hooks installed, or give ?${name}=<commit>`);
    return dflt;
  };

  app.get(`${API_PREFIX}/repos/:repo/datasets`, (req: Request, res: Response) => {
    const row = repoFor(req);
    const ref = refOf(req, row, 'ref');
    const c = resolveCommit(store, row.rid, ref);
    const datasets = [...store.commits.datasetsAt(c.cid).values()].sort(byPath);
    const body: DatasetsResponse = { ref, commit: c.sha, datasets };
    res.json(body);
  });

  app.get(`${API_PREFIX}/repos/:repo/history`, (req: Request, res: Response) => {
    const row = repoFor(req);
    const path = dataPath(required(req, 'path', 'data/train.csv'));
    const ref = query(req, 'ref');
    const from = ref === undefined ? undefined : resolveCommit(store, row.rid, checkRef(ref)).cid;
    const limit = intParam(req, 'limit', 1, History.maxLimit, History.defaultLimit);
    const c = query(req, 'cursor');
    const cursor = c === undefined ? undefined : decodeCursor(c);
    if (c !== undefined && !cursor) throw new HttpError(400, 'bad_request', 'cursor must be the "next" value of a previous answer');
    const page = store.commits.history({ rid: row.rid, path, from, limit, cursor });
    const body: HistoryResponse = { path, versions: page.versions.map(({ cid: _cid, ...v }) => v), ...(page.next ? { next: page.next } : {}) };
    res.json(body);
  });

  app.get(`${API_PREFIX}/repos/:repo/diff`, async (req: Request, res: Response) => {
    const row = repoFor(req);
    const a = resolveCommit(store, row.rid, checkRef(required(req, 'from', 'v1'), 'from'));
    const b = resolveCommit(store, row.rid, checkRef(required(req, 'to', 'main'), 'to'));
    const before = store.commits.datasetsAt(a.cid);
    const after = store.commits.datasetsAt(b.cid);
    const body: DiffResponse = { from: a.sha, to: b.sha, added: [], removed: [], changed: [] };
    const bytes = new VersionBytes(store);
    for (const [path, d] of after) {
      const old = before.get(path);
      if (!old) body.added.push(d);
      else if (old.manifest !== d.manifest || old.type !== d.type) {
        body.changed.push({ path, from: old, to: d, sizeDelta: d.size - old.size, newBytes: await bytes.newBytes(old, d) });
      }
    }
    for (const [path, d] of before) if (!after.has(path)) body.removed.push(d);
    body.added.sort(byPath);
    body.removed.sort(byPath);
    body.changed.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    res.json(body);
  });
}
