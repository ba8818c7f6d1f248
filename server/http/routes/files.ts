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
import { findCommit, refProblem } from '../commit-refs.ts';
import { HttpError } from '../http-error.ts';
import { pathParam, repoParam } from '../params.ts';
import { cacheControl, contentDisposition, etagMatches, SAFE_HEADERS, serveFile } from '../serve-file.ts';

/**
 * GET/HEAD /repos/{repo}/files/{ref}/{path}: a tracked file's bytes streamed
 * from the packs, with ETag (its sha256), Range and conditional requests; a
 * directory as a JSON listing or a tar stream (docs/protocol.md "Files over
 * plain HTTP").
 *
 * {ref} is a file or tree manifest id, a file's sha256, or (with commit
 * records) a branch, tag or full or abbreviated commit sha; a branch or tag
 * name containing "/" is sent percent-encoded. Content-addressed refs and full
 * commit shas never change, hence the long cache lifetime; a branch or tag
 * may move, so its answers are revalidated (the ETag stays the content's).
 */
type Target = (
  | { kind: 'file'; manifest: string; name: string }
  | { kind: 'dir'; path: string; entries: TreeEntry[] }
) & { immutable?: false; lastModified?: number };

function refParam(req: Request): string {
  const ref = String(req.params.ref ?? '');
  if (isId(ref as unknown)) return ref;
  const problem = refProblem(ref);
  if (problem) throw new HttpError(400, 'bad_ref', `invalid ref ${JSON.stringify(ref.slice(0, 120))}: ${problem}; expected a branch, a tag, a commit sha, or a manifest id or sha256 (64 lowercase hex digits)`);
  return ref;
}

async function resolve(store: Store, rid: number, ref: string, path: string): Promise<Target> {
  const type = isId(ref as unknown) ? store.repos.memberType(rid, ref) : undefined;
  if (type === BlobType.fileManifest || type === BlobType.treeManifest) return inManifest(store, ref, type, path);
  if (type === undefined && isId(ref as unknown)) {
    const file = store.repos.fileBySha256(rid, ref);
    if (file) return { kind: 'file', manifest: file.manifest, name: path };
    const removed = store.repos.removedFile(rid, ref);
    if (removed) throw new HttpError(410, 'removed', `the content with sha256 ${ref} was removed from this repository by ${removed.by} at ${new Date(removed.removedAt).toISOString()} (Git LFS object removal); upload it again to restore it`);
  }
  const commit = findCommit(store, rid, ref);
  if (!commit) throw new HttpError(404, 'not_found', `no manifest, file content, branch, tag or recorded commit named ${JSON.stringify(ref.slice(0, 120))} in this repository`);
  const target = await atCommit(store, rid, commit.cid, commit.sha, path);
  const time = store.commits.metaByCid(commit.cid)!.committerTime;
  return { ...target, ...(commit.immutable ? {} : { immutable: false as const }), lastModified: time };
}

/** A path in the repository at a commit: a tracked file or directory, or something inside a tracked directory. */
async function atCommit(store: Store, rid: number, cid: number, sha: string, path: string): Promise<Target> {
  if (path === '') throw new HttpError(404, 'not_found', `give the path of tracked data after the commit; GET .../datasets?ref=${sha.slice(0, 12)} lists what commit ${sha.slice(0, 12)} tracks`);
  const segments = path.split('/');
  for (let n = segments.length; n > 0; n--) {
    const prefix = segments.slice(0, n).join('/');
    const d = store.commits.datasetAt(rid, cid, prefix);
    if (!d) continue;
    if (d.type === 'file') {
      if (prefix === path) return { kind: 'file', manifest: d.manifest, name: path };
      break;
    }
    const tree = await store.treeManifest(d.manifest);
    const entries = tree.entries.map((e) => ({ ...e, path: `${prefix}/${e.path}` }));
    if (prefix === path) return { kind: 'dir', path, entries };
    const exact = entries.find((e) => e.path === path);
    if (exact) return { kind: 'file', manifest: exact.manifest, name: path };
    const under = entries.filter((e) => e.path.startsWith(`${path}/`));
    if (under.length > 0) return { kind: 'dir', path, entries: under };
    break;
  }
  throw new HttpError(404, 'not_found', `commit ${sha.slice(0, 12)} tracks no data at ${JSON.stringify(path.slice(0, 200))}`);
}

async function inManifest(store: Store, ref: string, type: BlobType, path: string): Promise<Target> {
  if (type === BlobType.fileManifest) return { kind: 'file', manifest: ref, name: path };
  const tree = await store.treeManifest(ref);
  if (path === '') return { kind: 'dir', path: '', entries: [...tree.entries] };
  const exact = tree.entries.find((e) => e.path === path);
  if (exact) return { kind: 'file', manifest: exact.manifest, name: path };
  const prefix = `${path}/`;
  const under = tree.entries.filter((e) => e.path.startsWith(prefix));
  if (under.length > 0) return { kind: 'dir', path, entries: under };
  throw new HttpError(404, 'not_found', `no file or directory ${JSON.stringify(path)} in tree ${ref}`);
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
    if (target.lastModified !== undefined) res.set('Last-Modified', new Date(target.lastModified * 1000).toUTCString());
    if (target.kind === 'dir') return serveDir(req, res, target);
    await serveFile({ req, res, store, logger, manifest: target.manifest, name: target.name, immutable: target.immutable !== false });
  };

  const serveDir = async (req: Request, res: Response, target: Extract<Target, { kind: 'dir' }>) => {
    const format = req.query.format;
    if (format !== undefined && format !== 'json' && format !== 'tar') throw new HttpError(400, 'bad_request', `format must be json or tar, not ${JSON.stringify(String(format)).slice(0, 40)}`);
    const list = listing(target.path, target.entries);
    const etag = `"${list.sha256}"`;
    res.set({ ...SAFE_HEADERS, ETag: etag, 'Cache-Control': cacheControl(target.immutable !== false) });
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
