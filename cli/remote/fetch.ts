import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { Limits } from '../../core/protocol.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { importPack } from '../cache/pack-import.ts';
import { plural, shellWord } from '../ui.ts';
import { isComplete, reachableFrom, type Root } from '../cache/reachable.ts';
import type { DvxRemote } from './dvx-remote.ts';
import { splitBySize } from './batches.ts';
import { runTransfers } from './transfer-queue.ts';

/**
 * Fetch: bring into the local cache everything some pointers need and the cache
 * lacks. Manifests come first (trees, then the file manifests they list) since
 * only they say which chunks are needed; then the missing chunks in parallel
 * batches. Every answer is a pack, verified before it is indexed.
 *
 * A blob the remote does not have (data committed but never pushed) does not
 * stop the rest: it is set aside, everything else is fetched, and the paths
 * whose data stays incomplete are returned in `unavailable`.
 */
export interface FetchSummary {
  blobs: number;
  fetchedBlobs: number;
  fetchedBytes: number;
  packs: number;
  /** paths of the roots whose data the remote lacks (all or part of it), in the order given */
  unavailable: string[];
}

export async function fetchData(cache: LocalCache, remote: DvxRemote, roots: readonly Root[], opts: { jobs?: number; onPlan?: (bytes: number) => void; onBytes?: (bytes: number) => void } = {}): Promise<FetchSummary> {
  const summary: FetchSummary = { blobs: 0, fetchedBlobs: 0, fetchedBytes: 0, packs: 0, unavailable: [] };
  let received = 0;
  /** blobs the remote answered it does not have */
  const absent = new Set<string>();
  const fetchPack = async (ids: string[]) => {
    const tmp = join(cache.packs.tmpDir, `fetch-${process.pid}-${randomBytes(6).toString('hex')}`);
    let mine = 0;
    try {
      await remote.fetchPack(ids, tmp, (n) => {
        received += n - mine;
        mine = n;
        opts.onBytes?.(received);
      });
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const index = importPack(cache, tmp, ids);
    summary.packs++;
    summary.fetchedBlobs += ids.length;
    summary.fetchedBytes += index.packBytes;
  };
  // The server refuses a whole batch for one blob it lacks, naming that blob
  // (docs/protocol.md "Fetch"): set it aside and ask for the rest. Should an
  // answer name none of the batch, halving the batch finds the missing ones.
  const fetchAvailable = async (ids: string[]): Promise<void> => {
    try {
      await fetchPack(ids);
    } catch (err) {
      if (!(err instanceof DvxError && err.code === 'blob_not_found')) throw err;
      const named = ids.filter((id) => err.message.includes(id));
      if (named.length > 0 || ids.length === 1) {
        for (const id of named.length > 0 ? named : ids) absent.add(id);
        const rest = ids.filter((id) => !absent.has(id));
        if (rest.length > 0) await fetchAvailable(rest);
        return;
      }
      const half = ids.length >> 1;
      await fetchAvailable(ids.slice(0, half));
      await fetchAvailable(ids.slice(half));
    }
  };
  const fetchBatches = async (batches: string[][]) => {
    await runTransfers(
      batches.map((ids) => () => fetchAvailable(ids)),
      opts.jobs ?? 4,
    );
  };

  // Up to two rounds of manifests: pointers name trees or files; trees name files.
  for (let round = 0; round < 2; round++) {
    const missing = [...reachableFrom(cache, roots).missingManifests.keys()].filter((id) => !absent.has(id));
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
  if (absent.size > 0) summary.unavailable = roots.filter((r) => !isComplete(cache, [r])).map((r) => r.path);
  return summary;
}

/**
 * Data that was committed but never pushed (a `git push --no-verify`, or a
 * clone without dvx's hooks) is not on the remote: the error that names the
 * paths, and the way out.
 */
export function notOnRemote(remoteUrl: string, paths: readonly string[]): DvxError {
  const n = paths.length;
  const shown = paths.slice(0, 20);
  const list = shown.join(', ') + (n > shown.length ? `, and ${n - shown.length} more` : '');
  const command = n > shown.length ? '`dvx push` (every tracked path)' : `\`dvx push ${shown.map(shellWord).join(' ')}\``;
  return new DvxError(
    'not_on_remote',
    `${remoteUrl} does not have the data of ${plural(n, 'tracked path')}: ${list}; everything else was fetched`,
    `push it from a clone that has it: ${command}; dvx's pre-push hook does that on \`git push\` unless the push skips hooks (--no-verify)`,
  );
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
  return splitBySize(ids, length, target, Limits.maxIdsPerRequest);
}
