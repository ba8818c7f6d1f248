import type { Express, NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { API_PREFIX, type UploadResponse } from '../../../core/protocol.ts';
import { authorize } from '../../auth/auth.ts';
import type { Store } from '../../store/store.ts';
import { ingestFiles } from '../../store/upload-ingest.ts';
import { HttpError } from '../http-error.ts';
import { repoParam, requireMediaType } from '../params.ts';

/**
 * POST /repos/{repo}/uploads: plain multipart uploads, received to disk by
 * multer (never into memory), then chunked and deduplicated on the server
 * (store/upload-ingest.ts). Received files are removed whatever happens.
 */
export const MAX_FILES_PER_UPLOAD = 100;

export function uploadRoutes(app: Express, store: Store): void {
  const upload = multer({
    storage: multer.diskStorage({ destination: store.tmp.dir }),
    limits: { fileSize: store.config.maxUploadBytes, files: MAX_FILES_PER_UPLOAD, fields: 100, fieldSize: 64 * 1024, parts: 200, headerPairs: 200 },
  }).any();

  app.post(
    `${API_PREFIX}/repos/:repo/uploads`,
    (req: Request, res: Response, next: NextFunction) => {
      authorize(req, repoParam(req), 'write');
      requireMediaType(req, 'multipart/form-data');
      upload(req, res, next);
    },
    async (req: Request, res: Response) => {
      const repo = repoParam(req);
      const files = (req.files as Express.Multer.File[] | undefined) ?? [];
      try {
        if (files.length === 0) throw new HttpError(400, 'no_files', 'the form has no file parts: send at least one file field');
        const ingested = await ingestFiles(store, repo, files.map((f) => f.path));
        const body: UploadResponse = {
          files: files.map((f, i) => {
            const r = ingested[i]!;
            const name = safeName(f.originalname);
            return {
              field: f.fieldname,
              name,
              size: r.size,
              sha256: r.sha256,
              manifest: r.manifest,
              newBytes: r.newBytes,
              url: `${API_PREFIX}/repos/${repo}/files/${r.sha256}${name ? `/${encodeURIComponent(name)}` : ''}`,
            };
          }),
        };
        res.status(201).json(body);
      } finally {
        await Promise.all(files.map((f) => store.tmp.remove(f.path)));
      }
    },
  );
}

/** The last segment of a client-given file name, without control characters. */
function safeName(name: string): string {
  const base = String(name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 255);
  return clean === '.' || clean === '..' ? '' : clean;
}
