import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCache } from './local-cache.ts';
import { salvagePack } from './salvage.ts';

/**
 * Sweeps a local cache down to the blobs in `keep`: packs with nothing live
 * are deleted, packs with some garbage are rewritten with only their live
 * blobs. A rewrite is written and published before its index rows replace the
 * old pack's, in one transaction, and the old file is deleted last
 * (./salvage.ts): a crash at any point leaves the live blobs indexed. (Taking
 * the old pack out of the index first left them, after a crash, in a pack
 * nothing listed, and the next gc then deleted the chunks of data it should
 * have kept, as it could no longer read the manifests that name them.)
 */
export interface CollectResult {
  packs: number;
  deletedPacks: number;
  rewrittenPacks: number;
  deletedBlobs: number;
  freedBytes: number;
  removedTemp: number;
  /** live blobs that no longer hashed to their id when their pack was rewritten: dropped, as `dvx fsck --repair` would */
  damagedBlobs: string[];
}

export async function collectGarbage(cache: LocalCache, keep: ReadonlySet<string>, opts: { dryRun?: boolean } = {}): Promise<CollectResult> {
  const result: CollectResult = { packs: 0, deletedPacks: 0, rewrittenPacks: 0, deletedBlobs: 0, freedBytes: 0, removedTemp: 0, damagedBlobs: [] };
  for (const pack of cache.index.packs()) {
    result.packs++;
    const blobs = cache.index.blobsOfPack(pack.id);
    const live = blobs.filter((b) => keep.has(b.id));
    if (live.length === blobs.length) continue;
    const dead = blobs.length - live.length;
    const liveBytes = live.reduce((n, b) => n + b.length, 0);
    result.deletedBlobs += dead;
    if (live.length === 0) {
      result.deletedPacks++;
      result.freedBytes += pack.bytes;
      if (!opts.dryRun) {
        cache.index.removePack(pack.id);
        cache.packs.remove(pack.id);
      }
      continue;
    }
    result.rewrittenPacks++;
    result.freedBytes += pack.bytes - liveBytes;
    if (opts.dryRun) continue;
    result.damagedBlobs.push(...salvagePack(cache, pack.id, live).damaged);
  }
  if (!opts.dryRun) {
    for (const f of [...cache.index.files()]) if (!cache.index.has(f.manifest)) cache.index.removeFile(f.sha256);
    // Temp files of interrupted commands (gc holds the cache alone, so none is in use).
    try {
      for (const name of readdirSync(cache.packs.tmpDir)) {
        const p = join(cache.packs.tmpDir, name);
        result.freedBytes += statSync(p).size;
        rmSync(p, { force: true });
        result.removedTemp++;
      }
    } catch {
      // no tmp dir
    }
  }
  return result;
}
