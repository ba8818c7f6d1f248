import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Authenticator } from '../../auth/auth.ts';
import type { Logger } from '../../logger.ts';
import { VerificationFailed } from '../../store/errors.ts';
import { ClientAborted } from '../../store/pack-upload.ts';
import type { Store } from '../../store/store.ts';
import { ingestStream } from '../../store/upload-ingest.ts';
import { HttpError } from '../http-error.ts';
import { lfsAuthorize, lfsJson, lfsRoute } from '../lfs-answers.ts';
import { repoParam } from '../params.ts';
import { serveFile } from '../serve-file.ts';

/**
 * Git LFS (docs/protocol.md "Git LFS"): the Batch API with the basic transfer
 * adapter at `/{repo}.git/info/lfs`. An LFS object is a file of the
 * repository's chunk store, found by its sha256 (repo_files): uploads stream
 * straight into the chunker (so an object shares chunks with dvx-tracked files
 * and with its own other versions), downloads stream from the packs with Range.
 * An admin may remove an object (DELETE): downloads then answer 410 with who
 * removed it and when, until someone uploads the same content again.
 */
export const LFS_PREFIX = '/:repo.git/info/lfs';
const MAX_BATCH_OBJECTS = 1000;
const OID_RE = /^[0-9a-f]{64}$/;

const batchBody = express.json({ type: () => true, limit: 1 << 20, strict: true });
const smallBody = express.json({ type: () => true, limit: 64 << 10, strict: true });

const batchSchema = z.object({
  operation: z.enum(['download', 'upload']),
  transfers: z.array(z.string().max(200)).max(50).optional(),
  ref: z.object({ name: z.string().max(1024) }).nullish(),
  objects: z.array(z.object({ oid: z.unknown(), size: z.unknown() })),
  hash_algo: z.string().max(50).optional(),
});
const verifySchema = z.object({ oid: z.string().regex(OID_RE, 'must be 64 lowercase hex digits'), size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) });

/** Parses a JSON body; malformed or invalid JSON is the LFS "validation error", 422. */
export async function lfsBody<T>(req: Request, res: Response, schema: z.ZodType<T>, parser = smallBody): Promise<T> {
  await new Promise<void>((resolve, reject) => {
    parser(req, res, (err?: unknown) => {
      if (!err) return resolve();
      const type = (err as { type?: string }).type;
      if (type === 'entity.parse.failed') return reject(new HttpError(422, 'bad_json', 'the request body is not valid JSON'));
      if (type === 'entity.too.large') return reject(new HttpError(413, 'too_large', 'the request body is too large: send fewer objects per batch'));
      reject(err);
    });
  });
  const parsed = schema.safeParse(req.body);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new HttpError(422, 'bad_request', `body: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}

function oidParam(req: Request): string {
  const oid = String(req.params.oid ?? '');
  if (!OID_RE.test(oid)) throw new HttpError(422, 'bad_oid', `invalid object id ${JSON.stringify(oid.slice(0, 80))}: expected a sha256 as 64 lowercase hex digits`);
  return oid;
}

/** Why a removed object cannot be downloaded: said per object in a batch, and as the 410 of GET/HEAD. */
function removedMessage(oid: string, r: { removedAt: number; by: string }): string {
  return `object ${oid} was removed by ${r.by} at ${new Date(r.removedAt).toISOString()}; it is no longer on the server: upload it again (git lfs push --object-id) to restore it`;
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The request body as an async iterable that refuses to run past `max` bytes and turns a vanished client into ClientAborted. */
async function* limitedBody(req: Request, max: number): AsyncGenerator<Uint8Array> {
  let received = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > max) throw new HttpError(413, 'too_large', `the object is larger than this server accepts (${max} bytes, DVX_LFS_MAX_OBJECT_BYTES)`);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (req.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).message === 'aborted') throw new ClientAborted();
    throw err;
  }
}

export function lfsRoutes(app: Express, store: Store, logger: Logger, auth: Authenticator): void {
  const max = () => store.config.lfsMaxObjectBytes;
  const base = (req: Request, repo: string) => `${req.protocol}://${req.get('host')}/${encodeURIComponent(repo)}.git/info/lfs`;
  // Actions go to this server: the client sends the same credentials again.
  const header = (req: Request) => (req.headers.authorization ? { header: { Authorization: req.headers.authorization } } : {});

  app.post(
    `${LFS_PREFIX}/objects/batch`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      // Credentials first: the body is read only for someone who may read the repository.
      lfsAuthorize(auth, req, repo, 'read');
      const body = await lfsBody(req, res, batchSchema, batchBody);
      if (body.operation === 'upload') lfsAuthorize(auth, req, repo, 'write');
      if (body.hash_algo !== undefined && body.hash_algo !== 'sha256') throw new HttpError(409, 'hash_algo', `this server stores objects by sha256, not ${JSON.stringify(body.hash_algo.slice(0, 40))}`);
      if (body.transfers && !body.transfers.includes('basic')) throw new HttpError(422, 'transfer', 'this server speaks only the "basic" transfer adapter');
      if (body.objects.length > MAX_BATCH_OBJECTS) throw new HttpError(413, 'too_large', `${body.objects.length} objects is more than ${MAX_BATCH_OBJECTS} per batch`);
      if (body.operation === 'upload') {
        const big = body.objects.find((o) => isSize(o.size) && o.size > max());
        if (big) throw new HttpError(413, 'too_large', `object ${String(big.oid).slice(0, 64)} is ${big.size as number} bytes, more than this server accepts (${max()} bytes, DVX_LFS_MAX_OBJECT_BYTES)`);
      }
      const row = store.repos.get(repo);
      if (!row && body.operation === 'download') throw new HttpError(404, 'repo_not_found', `no repository named ${JSON.stringify(repo)} (or this token cannot see it)`);
      const href = base(req, repo);
      const objects = body.objects.map(({ oid, size }) => {
        if (typeof oid !== 'string' || !OID_RE.test(oid)) return { oid: String(oid).slice(0, 100), size, error: { code: 422, message: 'invalid oid: expected a sha256 as 64 lowercase hex digits' } };
        if (!isSize(size)) return { oid, size, error: { code: 422, message: 'invalid size: expected a whole number of bytes' } };
        const have = row ? store.repos.fileBySha256(row.rid, oid) : undefined;
        if (have && have.size !== size) return { oid, size, error: { code: 422, message: `this object is ${have.size} bytes on the server, not ${size}` } };
        if (body.operation === 'download') {
          if (!have) {
            const removed = row && store.repos.removedFile(row.rid, oid);
            if (removed) return { oid, size, error: { code: 410, message: removedMessage(oid, removed) } };
            return { oid, size, error: { code: 404, message: 'object not found on the server' } };
          }
          return { oid, size, authenticated: true, actions: { download: { href: `${href}/objects/${oid}`, ...header(req) } } };
        }
        // Already stored: no actions, the client skips it. A removed object is
        // not stored: it gets upload actions, and its upload restores it.
        if (have) return { oid, size, authenticated: true };
        return {
          oid,
          size,
          authenticated: true,
          actions: { upload: { href: `${href}/objects/${oid}`, ...header(req) }, verify: { href: `${href}/objects/verify`, ...header(req) } },
        };
      });
      lfsJson(res, 200, { transfer: 'basic', objects, hash_algo: 'sha256' });
    }),
  );

  app.put(
    `${LFS_PREFIX}/objects/:oid`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      lfsAuthorize(auth, req, repo, 'write');
      const oid = oidParam(req);
      const declared = req.headers['content-length'];
      const length = declared === undefined ? undefined : Number(declared);
      if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new HttpError(400, 'bad_request', 'Content-Length is not a number');
      if (length !== undefined && length > max()) throw new HttpError(413, 'too_large', `the object is ${length} bytes, more than this server accepts (${max()} bytes, DVX_LFS_MAX_OBJECT_BYTES)`);
      await ingestStream({
        store,
        repo,
        body: limitedBody(req, max()),
        check: ({ size, sha256 }) => {
          if (length !== undefined && size !== length) throw new HttpError(400, 'incomplete_body', `received ${size} of the ${length} bytes announced by Content-Length`);
          if (sha256 !== oid) throw new VerificationFailed(`the uploaded content hashes to sha256 ${sha256}, not the object id ${oid}; nothing was stored`);
        },
      });
      res.status(200).end();
    }),
  );

  app.post(
    `${LFS_PREFIX}/objects/verify`,
    lfsRoute(logger, async (req, res) => {
      const repo = repoParam(req);
      lfsAuthorize(auth, req, repo, 'write');
      const { oid, size } = await lfsBody(req, res, verifySchema);
      const row = store.repos.get(repo);
      const have = row ? store.repos.fileBySha256(row.rid, oid) : undefined;
      if (!have) throw new HttpError(404, 'not_found', `object ${oid} is not on the server: upload it first`);
      if (have.size !== size) throw new HttpError(422, 'size_mismatch', `object ${oid} is ${have.size} bytes on the server, not ${size}`);
      lfsJson(res, 200, { oid, size });
    }),
  );

  const download = lfsRoute(logger, async (req, res) => {
    const repo = repoParam(req);
    lfsAuthorize(auth, req, repo, 'read');
    const oid = oidParam(req);
    const row = store.repos.get(repo);
    if (!row) throw new HttpError(404, 'repo_not_found', `no repository named ${JSON.stringify(repo)} (or this token cannot see it)`);
    const have = store.repos.fileBySha256(row.rid, oid);
    if (!have) {
      const removed = store.repos.removedFile(row.rid, oid);
      if (removed) throw new HttpError(410, 'removed', removedMessage(oid, removed));
      throw new HttpError(404, 'not_found', `object ${oid} is not on the server`);
    }
    await serveFile({ req, res, store, logger, manifest: have.manifest, name: '' });
  });
  app.get(`${LFS_PREFIX}/objects/:oid`, download);
  app.head(`${LFS_PREFIX}/objects/:oid`, download);

  // Removal by the owner (not part of the LFS API, which only defines its 410):
  // the object stops being served at once; its chunks stay until gc finds them
  // unreferenced (RepoIndex.removeFile says why that is while the repository exists).
  app.delete(
    `${LFS_PREFIX}/objects/:oid`,
    lfsRoute(logger, (req, res) => {
      const repo = repoParam(req);
      const p = lfsAuthorize(auth, req, repo, 'admin');
      const oid = oidParam(req);
      const row = store.repos.get(repo);
      if (!row) throw new HttpError(404, 'repo_not_found', `no repository named ${JSON.stringify(repo)} (or this token cannot see it)`);
      const done = store.transaction(() => store.repos.removeFile({ rid: row.rid, sha256: oid, by: p.name, now: Date.now() }));
      if (done === 'unknown') throw new HttpError(404, 'not_found', `object ${oid} is not in ${repo}: nothing to remove`);
      logger.info({ reqId: req.id, repo, oid, by: p.name, already: done === 'already' }, 'lfs object removed');
      res.status(204).end();
    }),
  );
}
