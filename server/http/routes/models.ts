import type { Express, Request, Response } from 'express';
import { API_PREFIX } from '../../../core/protocol.ts';
import type { RunIndex } from '../../index/run-index.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { oneQuery, onlyQueries } from '../query.ts';
import { readableRepo } from './runs.ts';

/** GET /models: named model versions as clients registered them, newest version first per name. */
export function modelRoutes(app: Express, store: Store, index: RunIndex): void {
  app.get(`${API_PREFIX}/repos/:repo/models`, (req: Request, res: Response) => {
    const repo = readableRepo(store, req);
    onlyQueries(req, ['name']);
    const name = oneQuery(req, 'name');
    if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new HttpError(400, 'bad_query', `name=${JSON.stringify(name.slice(0, 120))} is not a model name`);
    res.json({ models: index.models(repo.rid, name) });
  });
}
