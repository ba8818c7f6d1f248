import type { Request, Response } from 'express';
import rangeParser from 'range-parser';
import type { Logger } from '../logger.ts';
import { SegmentSource } from '../store/segment-source.ts';
import type { Store } from '../store/store.ts';
import { contentTypeOf } from './content-types.ts';
import { HttpError } from './http-error.ts';
import { sendSegments } from './send-segments.ts';

/**
 * Serves one stored file (by its file manifest) streamed from the packs, with
 * ETag (its sha256), a single Range (206 / 416), If-Range and If-None-Match.
 * Shared by the files route and the Git LFS download action.
 */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function contentDisposition(name: string, kind: 'inline' | 'attachment'): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

export const SAFE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // Stored content is data, never a page of this origin.
  'Content-Security-Policy': "default-src 'none'; sandbox",
};

/** A moving ref (branch, tag, abbreviation) is revalidated; content ids and full commit shas are cached for good. */
export function cacheControl(immutable: boolean): string {
  return immutable ? 'private, max-age=31536000, immutable' : 'private, no-cache';
}

export async function serveFile(opts: { req: Request; res: Response; store: Store; logger: Logger; manifest: string; name: string; immutable?: boolean }): Promise<void> {
  const { req, res, store, logger, name } = opts;
  const plan = await store.filePlan(opts.manifest);
  const { size, sha256 } = plan.manifest;
  const etag = `"${sha256}"`;
  res.set({
    ...SAFE_HEADERS,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Content-Type': contentTypeOf(name),
    'Cache-Control': cacheControl(opts.immutable !== false),
  });
  if (name) res.set('Content-Disposition', contentDisposition(name, 'inline'));
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }

  let start = 0;
  let end = size; // exclusive
  let status = 200;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'] as string | undefined;
  // If-Range with an entity tag must match ours exactly; with a date we have no Last-Modified to compare, so the whole file is sent.
  const honour = rangeHeader !== undefined && (ifRange === undefined || ifRange.trim() === etag);
  if (honour) {
    const ranges = rangeParser(size, rangeHeader, { combine: true });
    if (ranges === -1) {
      throw new HttpError(416, 'range_not_satisfiable', `the range ${JSON.stringify(rangeHeader.slice(0, 60))} is outside the ${size}-byte file`, { 'Content-Range': `bytes */${size}` });
    }
    // -2 (malformed), other units and multiple ranges: the whole file, as RFC 9110 allows.
    if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
      start = ranges[0]!.start;
      end = ranges[0]!.end + 1;
      status = 206;
      res.set('Content-Range', `bytes ${start}-${end - 1}/${size}`);
    }
  }
  res.status(status).set('Content-Length', String(end - start));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const source = new SegmentSource(store.backend, store.fileSegments(plan, start, end), { verify: store.config.verifyReads });
  const first = await source.next();
  if (!first) {
    res.end();
    return;
  }
  await sendSegments(res, source, first, logger, req.id);
}
