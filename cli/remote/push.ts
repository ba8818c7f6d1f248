import { DvxError } from '../../core/errors.ts';
import { PACK_ENTRY_BYTES, PACK_TARGET_BYTES, PACK_TRAILER_BYTES, PackBuilder, type PackIndex } from '../../core/pack.ts';
import type { BlobLocation } from '../cache/cache-index.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { assertComplete, reachableFrom, type Root } from '../cache/reachable.ts';
import type { DvxRemote } from './dvx-remote.ts';
import { runTransfers } from './transfer-queue.ts';

/**
 * Push: send a remote repository what it lacks of the data some pointers name.
 *
 * Negotiation goes top-down: first the pointers' manifests; the server holds a
 * manifest only with everything under it, so only for manifests it lacks does
 * the client look inside (trees, then file manifests, then chunks). Data the
 * server already has therefore never needs to be in the local cache. Uploads
 * go bottom-up: chunk packs (in parallel), then file manifests, then trees,
 * each stage after the previous one is acknowledged, because the server
 * accepts a manifest only when everything it references is there (or in the
 * same pack: a push that fits in one pack is sent as one). Running it again
 * after any failure sends only what is still missing.
 */
export interface PushSummary {
  blobs: number;
  missing: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  packs: number;
}

interface UploadPack {
  index: PackIndex;
  tail: Buffer;
  sources: { id: string; loc: BlobLocation }[];
}

export interface PushDataOptions {
  jobs?: number;
  onPlan?: (bytes: number) => void;
  onBytes?: (bytes: number) => void;
  /** what to do when data the remote lacks is not in the local cache either */
  missingHint?: string;
}

export async function pushData(cache: LocalCache, remote: DvxRemote, roots: readonly Root[], opts: PushDataOptions = {}): Promise<PushSummary> {
  const rootIds = [...new Set(roots.map((r) => r.pointer.manifest))];
  const missingRoots = new Set(await remote.missing(rootIds));
  const reach = reachableFrom(cache, roots.filter((r) => missingRoots.has(r.pointer.manifest)));
  // Checked before anything is sent: a push that cannot be whole sends nothing.
  if (reach.missingManifests.size > 0) throw notInCache([...new Set(reach.missingManifests.values())], opts.missingHint);
  assertComplete(cache, reach);
  // Trees the server lacks may still list file manifests it has.
  const fileIds = [...reach.files.keys()];
  const missingFiles = new Set(reach.trees.size > 0 ? await remote.missing(fileIds) : fileIds);
  const chunkIds = [...new Set([...reach.files].filter(([id]) => missingFiles.has(id)).flatMap(([, m]) => m.chunks.map((c) => c.id)))];
  const missingChunks = await remote.missing(chunkIds);
  const stages = [
    missingChunks,
    fileIds.filter((id) => missingFiles.has(id)),
    [...reach.trees.keys()],
  ];
  const summary: PushSummary = {
    blobs: rootIds.length + (reach.trees.size > 0 ? fileIds.length : 0) + chunkIds.length,
    missing: stages.reduce((n, s) => n + s.length, 0),
    uploadedBlobs: 0,
    uploadedBytes: 0,
    packs: 0,
  };
  // The server accepts a manifest whose data is in the same pack (docs/protocol.md, push
  // step 3): when everything missing fits in one pack, it goes as one, which is one
  // verification, one durable write and one transaction on the server instead of one per stage.
  const all = stages.flat();
  const oneBytes = all.reduce((n, id) => n + reach.locations.get(id)!.length + PACK_ENTRY_BYTES, PACK_TRAILER_BYTES);
  const plans = all.length > 0 && oneBytes <= PACK_TARGET_BYTES ? [planPacks(all, reach.locations)] : stages.map((ids) => planPacks(ids, reach.locations));
  opts.onPlan?.(plans.flat().reduce((n, p) => n + p.index.packBytes, 0));
  let sent = 0;
  for (const packs of plans) {
    await runTransfers(
      packs.map((p) => async () => {
        let mine = 0;
        await remote.putPack(p.index.packId, p.index.packBytes, () => packBody(cache, p), (n) => {
          sent += n - mine;
          mine = n;
          opts.onBytes?.(sent);
        });
        summary.packs++;
        summary.uploadedBlobs += p.index.entries.length;
        summary.uploadedBytes += p.index.packBytes;
      }),
      opts.jobs ?? 4,
    );
  }
  return summary;
}

/** The data of these paths is neither on the remote nor in the local cache. */
function notInCache(paths: string[], hint = 'run `dvx fetch` first, or `dvx add` the data again'): DvxError {
  const named = paths.length <= 10 ? paths.join(', ') : `${paths.slice(0, 10).join(', ')} and ${paths.length - 10} more`;
  return new DvxError('not_in_cache', `the remote lacks the data of ${paths.length === 1 ? 'this path' : `these ${paths.length} paths`}, and the local cache does not have it either: ${named}`, hint);
}

/** Groups blobs into packs of at most the target size, in the order they lie in local packs (locations from `reachableFrom` and `assertComplete`). */
function planPacks(ids: string[], locations: ReadonlyMap<string, BlobLocation>): UploadPack[] {
  if (ids.length === 0) return [];
  const items = ids.map((id) => ({ id, loc: locations.get(id)! }));
  items.sort((a, b) => (a.loc.pack < b.loc.pack ? -1 : a.loc.pack > b.loc.pack ? 1 : a.loc.offset - b.loc.offset));
  const packs: UploadPack[] = [];
  let builder = new PackBuilder();
  let sources: UploadPack['sources'] = [];
  const finish = () => {
    if (builder.count === 0) return;
    const { tail, index } = builder.finish();
    packs.push({ index, tail, sources });
    builder = new PackBuilder();
    sources = [];
  };
  for (const item of items) {
    if (!builder.fits(item.loc.length)) finish();
    builder.add(item.id, item.loc.type, item.loc.length);
    sources.push(item);
  }
  finish();
  return packs;
}

const READ_BYTES = 4 << 20;

/** The pack's bytes, read from the local cache in large runs; callable again for a retry. */
async function* packBody(cache: LocalCache, p: UploadPack): AsyncGenerator<Uint8Array> {
  let i = 0;
  while (i < p.sources.length) {
    const first = p.sources[i]!.loc;
    let length = first.length;
    let j = i + 1;
    while (j < p.sources.length) {
      const l = p.sources[j]!.loc;
      if (l.pack !== first.pack || l.offset !== first.offset + length || length + l.length > READ_BYTES) break;
      length += l.length;
      j++;
    }
    yield cache.packs.read(first.pack, first.offset, length);
    i = j;
  }
  yield p.tail;
}
