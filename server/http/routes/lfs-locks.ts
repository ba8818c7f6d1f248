import type { Express } from 'express';
import { z } from 'zod';
import { pathProblem } from '../../../core/paths.ts';
import type { Authenticator, Principal } from '../../auth/auth.ts';
import { LockStore, type LockRow } from '../../index/lock-store.ts';
import type { Logger } from '../../logger.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { LFS_DOCS, lfsAuthorize, lfsJson, lfsRoute } from '../lfs-answers.ts';
import { repoParam } from '../params.ts';
import { LFS_PREFIX, lfsBody } from './lfs.ts';

/**
 * The Git LFS File Locking API (`git lfs lock / locks / unlock`, and the
 * verification git-lfs runs before a push). A lock's owner is the name of the
 * token that took it (auth/auth.ts: its description); listing needs read
 * scope, everything else write. Unlocking someone else's lock needs `force`
 * and admin scope.
 */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

const refSchema = z.object({ name: z.string().max(1024) }).nullish();
const lockPath = z
  .string()
  .max(4096)
  .superRefine((p, ctx) => {
    const problem = pathProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: `path ${problem}: give it relative to the repository root` });
  });
const createSchema = z.object({ path: lockPath, ref: refSchema });
const cursorSchema = z.union([z.string().regex(/^\d{1,15}$/, 'must be a cursor from a previous answer'), z.literal('')]).optional();
const limitSchema = z.coerce.number().int().min(1).max(MAX_LIMIT).optional();
const verifySchema = z.object({ cursor: cursorSchema, limit: limitSchema, ref: refSchema });
const unlockSchema = z.object({ force: z.boolean().optional(), ref: refSchema });
const listQuery = z.object({
  path: z.string().max(4096).optional(),
  id: z.string().max(20).optional(),
  cursor: cursorSchema,
  limit: limitSchema,
  refspec: z.string().max(1024).optional(),
});

function lockJson(l: LockRow) {
  return { id: String(l.id), path: l.path, locked_at: new Date(l.lockedAt).toISOString(), owner: { name: l.owner } };
}

function idOf(s: string | undefined): number | undefined {
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : undefined;
}

export function lfsLockRoutes(app: Express, store: Store, logger: Logger, auth: Authenticator): void {
  const locks = new LockStore(store.db);
  const ridOf = (repo: string) => store.repos.get(repo)?.rid;

  app.post(
    `${LFS_PREFIX}/locks`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      const p = lfsAuthorize(auth, req, repo, 'write');
      const body = await lfsBody(req, res, createSchema);
      const now = Date.now();
      const r = store.transaction(() => {
        const { repo: row } = store.repos.ensure(repo, now);
        return locks.create({ rid: row.rid, path: body.path, ref: body.ref?.name ?? null, owner: p.name, now });
      });
      if (!r.created) {
        lfsJson(res, 409, { lock: lockJson(r.lock), message: `${r.lock.path} is already locked by ${r.lock.owner}`, request_id: req.id, documentation_url: LFS_DOCS });
        return;
      }
      lfsJson(res, 201, { lock: lockJson(r.lock) });
    }),
  );

  app.get(
    `${LFS_PREFIX}/locks`,
    lfsRoute(logger, (req, res) => {
      const repo = repoParam(req);
      lfsAuthorize(auth, req, repo, 'read');
      const parsed = listQuery.safeParse(req.query);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new HttpError(422, 'bad_request', `query: ${i.path.join('.')}: ${i.message}`);
      }
      const q = parsed.data;
      const rid = ridOf(repo);
      if (rid === undefined) return lfsJson(res, 200, { locks: [] });
      // A path or id names at most one lock.
      if (q.path !== undefined || q.id !== undefined) {
        let l = q.path !== undefined ? locks.byPath(rid, q.path) : undefined;
        if (q.id !== undefined) {
          const byId = idOf(q.id) === undefined ? undefined : locks.byId(rid, idOf(q.id)!);
          l = q.path !== undefined ? (l && byId && l.id === byId.id ? l : undefined) : byId;
        }
        return lfsJson(res, 200, { locks: l ? [lockJson(l)] : [] });
      }
      const page = locks.page(rid, Number(q.cursor || 0), q.limit ?? DEFAULT_LIMIT);
      lfsJson(res, 200, { locks: page.locks.map(lockJson), ...(page.next !== undefined ? { next_cursor: String(page.next) } : {}) });
    }),
  );

  app.post(
    `${LFS_PREFIX}/locks/verify`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      const p = lfsAuthorize(auth, req, repo, 'write');
      const body = await lfsBody(req, res, verifySchema);
      const rid = ridOf(repo);
      if (rid === undefined) return lfsJson(res, 200, { ours: [], theirs: [] });
      const page = locks.page(rid, Number(body.cursor || 0), body.limit ?? DEFAULT_LIMIT);
      const mine = (l: LockRow) => l.owner === p.name;
      lfsJson(res, 200, {
        ours: page.locks.filter(mine).map(lockJson),
        theirs: page.locks.filter((l) => !mine(l)).map(lockJson),
        ...(page.next !== undefined ? { next_cursor: String(page.next) } : {}),
      });
    }),
  );

  app.post(
    `${LFS_PREFIX}/locks/:id/unlock`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      const p = lfsAuthorize(auth, req, repo, 'write');
      const body = await lfsBody(req, res, unlockSchema);
      const id = idOf(String(req.params.id ?? ''));
      const rid = ridOf(repo);
      const notFound = () => new HttpError(404, 'not_found', `no lock with id ${JSON.stringify(String(req.params.id ?? '').slice(0, 20))} in this repository`);
      if (id === undefined || rid === undefined) throw notFound();
      const lock = store.transaction(() => {
        const l = locks.byId(rid, id);
        if (!l) throw notFound();
        checkUnlock(p, l, body.force === true);
        locks.delete(rid, id);
        return l;
      });
      lfsJson(res, 200, { lock: lockJson(lock) });
    }),
  );
}

function checkUnlock(p: Principal, lock: LockRow, force: boolean): void {
  if (lock.owner === p.name) return;
  if (!force) throw new HttpError(403, 'forbidden', `${lock.path} is locked by ${lock.owner}; only they can unlock it (or an admin with --force)`);
  if (p.scope !== 'admin') throw new HttpError(403, 'forbidden', `forcing the unlock of ${lock.owner}'s lock needs admin scope`);
}
