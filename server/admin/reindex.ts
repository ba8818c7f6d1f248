import { FormatError } from '../../core/errors.ts';
import type { PackIndex } from '../../core/pack.ts';
import { PACKS_PREFIX, packIdOfKey, packKey } from '../store/pack-keys.ts';
import { readPackIndex } from '../store/pack-scan.ts';
import type { Store } from '../store/store.ts';

/**
 * `dvx-server reindex`: rebuilds the pack and blob index from the storage
 * backend alone, reading each pack's trailer and index (not its blobs: fsck
 * does that). Repositories, their membership and tokens are kept; membership
 * of blobs no pack holds any more is dropped. Packs whose index cannot be read
 * are skipped and reported.
 */
export interface ReindexReport {
  packs: number;
  blobs: number;
  skipped: { pack: string; problem: string }[];
  prunedMembers: number;
  prunedFiles: number;
}

export async function reindex(store: Store): Promise<ReindexReport> {
  const found: { index: PackIndex; added: number }[] = [];
  const skipped: ReindexReport['skipped'] = [];
  for await (const o of store.backend.list(PACKS_PREFIX)) {
    const id = packIdOfKey(o.key);
    if (!id) continue;
    try {
      const index = await readPackIndex(o.size, async (offset, length) => {
        const buf = Buffer.allocUnsafe(length);
        await store.backend.readInto(packKey(id), offset, length, buf);
        return buf;
      });
      if (index.packId !== id) throw new FormatError('pack', `its index hashes to ${index.packId}, not its name`);
      found.push({ index, added: o.lastModified.getTime() });
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      skipped.push({ pack: id, problem: err.message });
    }
  }
  // Oldest first: where packs share blobs, the first stored keeps them, as during uploads.
  found.sort((a, b) => a.added - b.added);
  return store.transaction(() => {
    store.blobs.clear();

    for (const { index, added } of found) {
      store.blobs.addPack(index, added);

    }
    const pruned = store.repos.prune();
    return { packs: found.length, blobs: store.blobs.count().blobs, skipped, prunedMembers: pruned.members, prunedFiles: pruned.files };
  });
}
