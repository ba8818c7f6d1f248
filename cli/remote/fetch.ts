import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Limits } from '../../core/protocol.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { importPack } from '../cache/pack-import.ts';
import { reachableFrom, type Root } from '../cache/reachable.ts';
import type { DvxRemote } from './dvx-remote.ts';
import { runTransfers } from './transfer-queue.ts';

/**
 * Fetch: bring into the local cache everything some pointers need and the cache
 * lacks. Manifests come first (trees, then the file manifests they list) since
 * only they say which chunks are needed; then the missing chunks in parallel
 * batches. Every answer is a pack, verified before it is indexed.
 */
export interface FetchSummary {
  blobs: number;
  fetchedBlobs: number;
  fetchedBytes: number;
  packs: number;
}

export async function fetchData(cache: LocalCache, remote: DvxRemote, roots: readonly Root[], opts: { jobs?: number; onPlan?: (bytes: number) => void; onBytes?: (bytes: number) => void } = {}): Promise<FetchSummary> {
  const summary: FetchSummary = { blobs: 0, fetchedBlobs: 0, fetchedBytes: 0, packs: 0 };
  let received = 0;
  const fetchBatches = async (batches: string[][]) => {
    await runTransfers(
      batches.map((ids) => async () => {
        const tmp = join(cache.packs.tmpDir, `fetch-${process.pid}-${randomBytes(6).toString('hex')}`);
        let mine = 0;
        await remote.fetchPack(ids, tmp, (n) => {
          received += n - mine;
          mine = n;
          opts.onBytes?.(received);
        });
        const index = importPack(cache, tmp, ids);
        summary.packs++;
        summary.fetchedBlobs += ids.length;
        summary.fetchedBytes += index.packBytes;
      }),
      opts.jobs ?? 4,
    );
  };

  // Up to two rounds of manifests: pointers name trees or files; trees name files.
  for (let round = 0; round < 2; round++) {
    const missing = [...reachableFrom(cache, roots).missingManifests.keys()];
    if (missing.length === 0) break;
    await fetchBatches(batchByCount(missing));
  }
  const reach = reachableFrom(cache, roots);
  const chunkIds = [...reach.chunks.keys()];
  const locations = cache.index.locateMany(chunkIds);
  const wanted = chunkIds.filter((_, i) => !locations[i]);
  summary.blobs = reach.chunks.size + reach.files.size + reach.trees.size;
  const batches = batchByBytes(wanted, (id) => reach.chunks.get(id)!);
  opts.onPlan?.(wanted.reduce((n, id) => n + reach.chunks.get(id)!, 0));
  await fetchBatches(batches);
  return summary;
}

function batchByCount(ids: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += Limits.maxIdsPerRequest) out.push(ids.slice(i, i + Limits.maxIdsPerRequest));
  return out;
}

/** Batches within the protocol's limits, smaller ones when there is little to fetch so that transfers run in parallel. */
function batchByBytes(ids: string[], length: (id: string) => number): string[][] {
  const total = ids.reduce((n, id) => n + length(id), 0);
  const target = Math.max(1 << 20, Math.min(Limits.maxFetchBytes / 2, Math.ceil(total / 8)));
  const out: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const len = length(id);
    if (cur.length > 0 && (bytes + len > target || cur.length >= Limits.maxIdsPerRequest)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(id);
    bytes += len;
  }
  if (cur.length) out.push(cur);
  return out;
}
