import express, { type Express, type Request, type Response } from 'express';
import { API_PREFIX, decodeIdList, encodeIdList, Limits, MediaType, missingRequestSchema } from '../../../core/protocol.ts';
import { authorize, notFoundRepo } from '../../auth/auth.ts';
import type { Logger } from '../../logger.ts';
import { planFetchPack } from '../../store/fetch-pack.ts';
import { SegmentSource } from '../../store/segment-source.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { repoParam, requireMediaType } from '../params.ts';
import { sendSegments } from '../send-segments.ts';

/** Negotiation and batched blob download (docs/protocol.md "Push" step 1 and "Fetch"). */
const idsBody = express.raw({ type: () => true, limit: 32 * Limits.maxIdsPerRequest });
const jsonBody = express.json({ type: () => true, limit: 80 * Limits.maxIdsPerRequest, strict: true });

function ids(req: Request): string[] {
  const body = req.body as Buffer | undefined;
  return decodeIdList(Buffer.isBuffer(body) ? body : Buffer.alloc(0));
}

export function blobRoutes(app: Express, store: Store, logger: Logger): void {
  app.post(
    `${API_PREFIX}/repos/:repo/blobs/missing`,
    (req, _res, next) => {
      const repo = repoParam(req);
      authorize(req, repo, 'write');
      const type = requireMediaType(req, MediaType.ids, MediaType.json);
      (type === MediaType.json ? jsonBody : idsBody)(req, _res, next);
    },
    (req: Request, res: Response) => {
      const repo = repoParam(req);
      const json = requireMediaType(req, MediaType.ids, MediaType.json) === MediaType.json;
      let wanted: string[];
      if (json) {
        const n = (req.body as { ids?: unknown } | undefined)?.ids;
        if (Array.isArray(n) && n.length > Limits.maxIdsPerRequest) throw new HttpError(413, 'too_large', `${n.length} ids is more than the limit of ${Limits.maxIdsPerRequest} per request`);
        const parsed = missingRequestSchema.safeParse(req.body);
        if (!parsed.success) {
          const i = parsed.error.issues[0]!;
          throw new HttpError(400, 'bad_request', `body: ${i.path.join('.') || '(root)'}: ${i.message}`);
        }
        wanted = parsed.data.ids;
      } else wanted = ids(req);
      const row = store.repos.get(repo);
      const missing = row ? wanted.filter((id) => store.repos.memberType(row.rid, id) === undefined) : wanted;
      if (json) res.json({ missing });
      else res.type(MediaType.ids).send(encodeIdList(missing));
    },
  );

  app.post(
    `${API_PREFIX}/repos/:repo/blobs/fetch`,
    (req, res, next) => {
      authorize(req, repoParam(req), 'read');
      requireMediaType(req, MediaType.ids);
      idsBody(req, res, next);
    },
    async (req: Request, res: Response) => {
      const repo = repoParam(req);
      const row = store.repos.get(repo);
      if (!row) throw notFoundRepo(repo);
      const plan = planFetchPack(store, row.rid, ids(req));
      const source = new SegmentSource(store.backend, plan.segments, { verify: store.config.verifyReads });
      const first = await source.next();
      res.status(200).set({ 'Content-Type': MediaType.pack, 'Content-Length': String(plan.packBytes), 'X-Dvx-Pack': plan.packId });
      await sendSegments(res, source, first, logger, req.id, plan.tail);
    },
  );
}
