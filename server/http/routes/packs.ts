import type { Express, Request, Response } from 'express';
import { MAX_PACK_BYTES } from '../../../core/pack.ts';
import { API_PREFIX, MediaType } from '../../../core/protocol.ts';
import { authorize } from '../../auth/auth.ts';
import type { Metrics } from '../metrics.ts';
import { uploadPack } from '../../store/pack-upload.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { idParam, repoParam, requireMediaType } from '../params.ts';

/** Pack upload (docs/protocol.md "Push" step 2 and 3). */
export function packRoutes(app: Express, store: Store, metrics: Metrics): void {
  app.put(`${API_PREFIX}/repos/:repo/packs/:pack`, async (req: Request, res: Response) => {
    const repo = repoParam(req);
    authorize(req, repo, 'write');
    const packId = idParam(req, 'pack', 'pack id');
    requireMediaType(req, MediaType.pack);
    const declared = req.headers['content-length'];
    if (declared === undefined) throw new HttpError(411, 'length_required', 'a pack upload needs a Content-Length header (packs are sent whole, not chunked)');
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0) throw new HttpError(400, 'bad_request', 'Content-Length is not a number');
    if (length > MAX_PACK_BYTES) throw new HttpError(413, 'too_large', `a pack is at most ${MAX_PACK_BYTES} bytes; this one is ${length}`);
    const { created, response } = await uploadPack(store, repo, packId, req, length);
    if (created) metrics.blobsStored.inc({ source: 'push' });
    res.status(created ? 201 : 200).json(response);
  });
}
