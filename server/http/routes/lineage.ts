import type { Express, Request, Response } from 'express';
import { API_PREFIX } from '../../../core/protocol.ts';
import { lineageGraph, type TrackingHooks } from '../../index/lineage.ts';
import type { RunIndex } from '../../index/run-index.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { oneQuery, onlyQueries } from '../query.ts';
import { readableRepo } from './runs.ts';

/** GET /lineage: the graph of one data version, upstream or downstream (docs/protocol.md). */
export function lineageRoutes(app: Express, store: Store, index: RunIndex, hooks: TrackingHooks): void {
  app.get(`${API_PREFIX}/repos/:repo/lineage`, (req: Request, res: Response) => {
    const repo = readableRepo(store, req);
    onlyQueries(req, ['path', 'sha256', 'ref', 'direction']);
    const path = oneQuery(req, 'path');
    if (!path || path.length > 4096) throw new HttpError(400, 'bad_query', 'path= is required: the tracked data path (as in its pointer), e.g. path=data/raw/customers.csv');
    const direction = oneQuery(req, 'direction') ?? 'up';
    if (direction !== 'up' && direction !== 'down') throw new HttpError(400, 'bad_query', `direction=${JSON.stringify(direction.slice(0, 40))}: use up (what produced it) or down (what was derived from it)`);
    const sha = oneQuery(req, 'sha256');
    const ref = oneQuery(req, 'ref');
    if ((sha === undefined) === (ref === undefined)) throw new HttpError(400, 'bad_query', 'give exactly one of sha256= (the data version) and ref= (a branch, tag or commit)');
    let sha256: string;
    if (sha !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(sha)) throw new HttpError(400, 'bad_query', `sha256=${JSON.stringify(sha.slice(0, 80))}: expected 64 lowercase hex digits`);
      sha256 = sha;
    } else {
      if (!hooks.resolveRef) throw new HttpError(400, 'ref_unsupported', 'this server cannot resolve ref= for lineage (it has no commit records): give sha256= instead');
      const resolved = hooks.resolveRef({ rid: repo.rid, repo: repo.name, ref: ref!, path });
      if (!resolved) throw new HttpError(404, 'data_not_found', `${path} is not tracked at ${ref}`);
      sha256 = resolved.sha256;
    }
    const graph = lineageGraph({ runs: index, rid: repo.rid, repo: repo.name, path, sha256, direction, hooks });
    if (!graph) throw new HttpError(404, 'data_not_found', `no run or commit recorded in ${repo.name} names ${path} at sha256 ${sha256}`);
    res.json(graph);
  });
}
