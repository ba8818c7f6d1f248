import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import { API_PREFIX } from '../../../core/protocol.ts';
import { pathProblem } from '../../../core/paths.ts';
import { authorize } from '../../auth/auth.ts';
import { LINK_DEFAULT_SECONDS, LINK_MAX_SECONDS, type UrlSigner } from '../../auth/signed-url.ts';
import { HttpError } from '../http-error.ts';
import { repoParam, requireMediaType } from '../params.ts';

/**
 * POST /repos/{repo}/links (read): a signed, short-lived URL of one file or
 * directory at a ref, for clients that cannot send a header with a download
 * (a browser link). docs/protocol.md "Download links".
 */
export const linkRequestSchema = z.strictObject({
  ref: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/, 'a branch, tag, commit sha, manifest id or sha256'),
  path: z.string().max(4096).refine((p) => p === '' || pathProblem(p) === undefined, 'a relative path without empty, "." or ".." segments'),
  expiresIn: z.number().int().min(1).max(LINK_MAX_SECONDS).optional(),
});
export const linkResponseSchema = z.object({ url: z.string(), expiresAt: z.number().int() });

const jsonBody = express.json({ type: () => true, limit: 16 * 1024, strict: true });

export function linkRoutes(app: Express, signer: UrlSigner): void {
  app.post(
    `${API_PREFIX}/repos/:repo/links`,
    (req, res, next) => {
      requireMediaType(req, 'application/json');
      jsonBody(req, res, next);
    },
    (req: Request, res: Response) => {
      const repo = repoParam(req);
      authorize(req, repo, 'read');
      const parsed = linkRequestSchema.safeParse(req.body);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new HttpError(400, 'bad_request', `invalid link request: ${i.path.join('.') || 'body'}: ${i.message} (send {"ref": "...", "path": "...", "expiresIn"?: seconds up to ${LINK_MAX_SECONDS}})`);
      }
      const { ref, path, expiresIn } = parsed.data;
      if (ref.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new HttpError(400, 'bad_ref', `invalid ref ${JSON.stringify(ref)}`);
      res.status(201).json(signer.sign({ repo, ref, path }, expiresIn ?? LINK_DEFAULT_SECONDS));
    },
  );
}
