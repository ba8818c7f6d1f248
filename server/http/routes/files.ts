import type { Express, Request, Response } from 'express';
import tar from 'tar-stream';
import { API_PREFIX, type DirListing } from '../../../core/protocol.ts';
import { isId } from '../../../core/hex.ts';
import { BlobType } from '../../../core/pack.ts';
import { encodeTreeManifest, treeSha256, type TreeEntry, type TreeManifest } from '../../../core/tree-manifest.ts';
import { authorize, notFoundRepo } from '../../auth/auth.ts';
import type { Logger } from '../../logger.ts';
import { SegmentSource } from '../../store/segment-source.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { pathParam, repoParam } from '../params.ts';
import { contentDisposition, etagMatches, SAFE_HEADERS, serveFile } from '../serve-file.ts';

/**
 * GET/HEAD /repos/{repo}/files/{ref}/{path}: a tracked file's bytes streamed
 * from the packs, with ETag (its sha256), Range and conditional requests; a
 * directory as a JSON listing or a tar stream (docs/protocol.md "Files over
 * plain HTTP").
 *
 * Until commit records exist, {ref} is a file or tree manifest id, or a file's
 * sha256. Content-addressed refs never change, hence the long cache lifetime.
 */
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

type Target =
  | { kind: 'file'; manifest: string; name: string }
  | { kind: 'dir'; path: string; entries: TreeEntry[] };

function refParam(req: Request): string {
  const ref = String(req.params.ref ?? '');
  if (isId(ref as unknown)) return ref;
  if (!REF_RE.test(ref) || ref.split('/').some((s) => s === '' || s === '.' || s === '..') || ref.includes('..')) {
    throw new HttpError(400, 'bad_ref', `invalid ref ${JSON.stringify(ref.slice(0, 120))}: expected a manifest id or sha256 (64 lowercase hex digits)`);
  }
  return ref;
}

async function resolve(store: Store, rid: number, ref: string, path: string): Promise<Target> {
  const missing = () => new HttpError(404, 'not_found', `no manifest or file content ${ref} in this repository`);
  if (!isId(ref as unknown)) throw new HttpError(404, 'not_found', `no ref named ${JSON.stringify(ref)}: until commit records exist, refs are manifest ids or sha256 digests`);
  const type = store.repos.memberType(rid, ref);
  if (type === BlobType.fileManifest) return { kind: 'file', manifest: ref, name: path };
  if (type === BlobType.treeManifest) {
    const tree = await store.treeManifest(ref);
    if (path === '') return { kind: 'dir', path: '', entries: [...tree.entries] };
    const exact = tree.entries.find((e) => e.path === path);
    if (exact) return { kind: 'file', manifest: exact.manifest, name: path };
    const prefix = `${path}/`;
    const under = tree.entries.filter((e) => e.path.startsWith(prefix));
    if (under.length > 0) return { kind: 'dir', path, entries: under };
    throw new HttpError(404, 'not_found', `no file or directory ${JSON.stringify(path)} in tree ${ref}`);
  }
  if (type !== undefined) throw missing();
  const file = store.repos.fileBySha256(rid, ref);
  if (file) return { kind: 'file', manifest: file.manifest, name: path };
  throw missing();
}

/** The one-level listing of a directory of a tree; entry paths are relative to the ref's root. */
export function listing(dir: string, entries: readonly TreeEntry[]): DirListing {
  const prefix = dir === '' ? '' : `${dir}/`;
  const relative: TreeManifest = { entries: entries.map((e) => ({ ...e, path: e.path.slice(prefix.length) })) };
  const children = new Map<string, DirListing['entries'][number]>();
  for (const e of relative.entries) {
    const slash = e.path.indexOf('/');
    if (slash < 0) {
      children.set(e.path, { path: prefix + e.path, type: 'file', size: e.size, sha256: e.sha256 });
      continue;
    }
    const name = e.path.slice(0, slash);
    const c = children.get(name) ?? { path: prefix + name, type: 'dir' as const, size: 0, files: 0 };
    c.size += e.size;
    c.files = (c.files ?? 0) + 1;
    children.set(name, c);
  }
  return {
    type: 'dir',
    path: dir,
    sha256: treeSha256(encodeTreeManifest(relative)),
    size: relative.entries.reduce((n, e) => n + e.size, 0),
    files: relative.entries.length,
    entries: [...children.values()],
  };
}

export function fileRoutes(app: Express, store: Store, logger: Logger): void {
  const handler = async (req: Request, res: Response) => {
    const repo = repoParam(req);
    authorize(req, repo, 'read');
    const ref = refParam(req);
    const path = pathParam(req);
    const row = store.repos.get(repo);
    if (!row) throw notFoundRepo(repo);
    const target = await resolve(store, row.rid, ref, path);
    if (target.kind === 'dir') return serveDir(req, res, target);
    await serveFile({ req, res, store, logger, manifest: target.manifest, name: target.name });
  };

  const serveDir = async (req: Request, res: Response, target: Extract<Target, { kind: 'dir' }>) => {
    const format = req.query.format;
    if (format !== undefined && format !== 'json' && format !== 'tar') throw new HttpError(400, 'bad_request', `format must be json or tar, not ${JSON.stringify(String(format)).slice(0, 40)}`);
    const list = listing(target.path, target.entries);
    const etag = `"${list.sha256}"`;
    res.set({ ...SAFE_HEADERS, ETag: etag, 'Cache-Control': 'private, max-age=31536000, immutable' });
    if (etagMatches(req.headers['if-none-match'], etag) && format !== 'tar') return res.status(304).end();
    if (format !== 'tar') return res.json(list);
    await serveTar(req, res, target);
  };

  const serveTar = async (req: Request, res: Response, target: Extract<Target, { kind: 'dir' }>) => {
    const prefix = target.path === '' ? '' : `${target.path}/`;
    const name = target.path === '' ? 'files.tar' : `${target.path.slice(target.path.lastIndexOf('/') + 1)}.tar`;
    // Plan every file first: a missing chunk is an error answer, not a cut stream.
    const plans = [];
    for (const e of target.entries) plans.push({ entry: e, plan: await store.filePlan(e.manifest) });
    res.status(200).set({ 'Content-Type': 'application/x-tar', 'Content-Disposition': contentDisposition(name, 'attachment') });
    if (req.method === 'HEAD') return res.end();
    const pack = tar.pack();
    pack.pipe(res);
    let gone = false;
    res.once('close', () => (gone = true));
    try {
      for (const { entry, plan } of plans) {
        if (gone) break;
        const source = new SegmentSource(store.backend, store.fileSegments(plan), { verify: store.config.verifyReads });
        const sink = pack.entry({ name: entry.path.slice(prefix.length), size: entry.size, mode: entry.mode & 0o777, type: 'file', mtime: new Date(0) });
        const finished = new Promise<void>((resolve, reject) => {
          sink.once('finish', () => resolve());
          sink.once('error', (err: Error) => reject(err));
        });
        for (let view = await source.next(); view && !gone; view = await source.next()) {
          const copy = Buffer.from(view);
          source.release(view);
          if (!sink.write(copy)) await new Promise<void>((r) => sink.once('drain', () => r()));
        }
        source.cancel();
        (sink as unknown as { end(): void }).end();
        await finished;
      }
      if (!gone) pack.finalize();
    } catch (err) {
      logger.error({ reqId: req.id, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'tar stream cut: reading stored data failed');
      pack.destroy();
      res.destroy();
    }
  };

  for (const path of [`${API_PREFIX}/repos/:repo/files/:ref`, `${API_PREFIX}/repos/:repo/files/:ref/*path`]) {
    app.get(path, handler);
    app.head(path, handler);
  }
}
