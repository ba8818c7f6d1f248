import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCache } from './local-cache.ts';

/**
 * Sweeps a local cache down to the blobs in `keep`: packs with nothing live
 * are deleted, packs with some garbage are rewritten with only their live
 * blobs. The old pack leaves the index before its live blobs are rewritten and
 * its file is deleted last, so a crash in between leaves a complete pack that
 * `dvx fsck --repair` indexes again.
 */
export interface CollectResult {
  packs: number;
  deletedPacks: number;
  rewrittenPacks: number;
  deletedBlobs: number;
  freedBytes: number;
  removedTemp: number;
}

export async function collectGarbage(cache: LocalCache, keep: ReadonlySet<string>, opts: { dryRun?: boolean } = {}): Promise<CollectResult> {
  const result: CollectResult = { packs: 0, deletedPacks: 0, rewrittenPacks: 0, deletedBlobs: 0, freedBytes: 0, removedTemp: 0 };
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
    const bytes = cache.packs.readWhole(pack.id);
    cache.index.removePack(pack.id);
    const writer = cache.writer();
    try {
      for (const b of live) writer.put(b.id, b.type, bytes.subarray(b.offset, b.offset + b.length));
      await writer.flush();
    } catch (err) {
      await writer.discard();
      throw err;
    }
    cache.packs.remove(pack.id);
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
