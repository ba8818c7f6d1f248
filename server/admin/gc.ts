import { blake3Hex } from '../../core/hash.ts';
import { BlobType } from '../../core/pack.ts';
import { PackDamaged } from '../store/errors.ts';
import { PACKS_PREFIX, packIdOfKey, packKey } from '../store/pack-keys.ts';
import { blobsOf, readPackIndex } from '../store/pack-scan.ts';
import { PackWriter } from '../store/pack-writer.ts';
import type { Store } from '../store/store.ts';

/**
 * `dvx-server gc`: mark and sweep, then repack.
 *
 * - Mark: every manifest known to any repository, and every manifest a commit
 *   record names, is a root (later: runs, LFS objects); a file manifest keeps its chunks, a tree its
 *   file manifests. Marking is redone until no manifest appeared meanwhile,
 *   and the sweep's transaction checks that again, so a manifest accepted
 *   during gc is never left without its data.
 * - Sweep: unreferenced blobs leave the index (and every repository), except
 *   in packs younger than the grace period: a push in flight is never collected.
 * - Repack: an old pack whose live bytes are under half is copied (live blobs
 *   only) into new packs; the old one is retired, and deleted one grace period
 *   later, so a reader that looked up a location before the move still finds
 *   its bytes. Packs nobody references at all are retired likewise.
 * - Storage objects the index never learned of (an upload killed between
 *   storing and indexing) are deleted once older than the grace period.
 */
export interface GcReport {
  dryRun: boolean;
  graceMs: number;
  roots: number;
  live: number;
  swept: { blobs: number; bytes: number };
  repacked: { pack: string; liveBytes: number; dataBytes: number }[];
  retired: string[];
  deleted: string[];
  orphansDeleted: string[];
}

export async function gc(store: Store, opts: { dryRun?: boolean; graceMs?: number; now?: number } = {}): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const graceMs = opts.graceMs ?? store.config.gcGraceMs;
  const dryRun = opts.dryRun ?? false;
  const cutoff = now - graceMs;
  const report: GcReport = { dryRun, graceMs, roots: 0, live: 0, swept: { blobs: 0, bytes: 0 }, repacked: [], retired: [], deleted: [], orphansDeleted: [] };

  // Mark.
  const live = new Set<string>();
  const marked = new Set<string>();
  const mark = async (roots: Iterable<string>) => {
    for (const id of roots) {
      if (marked.has(id)) continue;
      const loc = store.blobs.locate(id);
      if (!loc) continue;
      marked.add(id);
      live.add(id);
      if (loc.type === BlobType.fileManifest) for (const c of (await store.fileManifest(id)).chunks) live.add(c.id);
      else if (loc.type === BlobType.treeManifest) {
        const tree = await store.treeManifest(id);
        await mark(tree.entries.map((e) => e.manifest));
      }
    }
  };
  // Commit records name only manifests their repository holds (so they are roots twice over); listed on their own so that they stay roots whatever membership becomes.
  const unmarkedRoots = () => [...store.repos.allManifests(), ...store.commits.allManifests()].filter((id) => !marked.has(id));
  for (let pending = unmarkedRoots(); pending.length > 0; pending = unmarkedRoots()) await mark(pending);
  report.roots = marked.size;
  report.live = live.size;

  // Sweep.
  const packs = store.blobs.packs();
  const packById = new Map(packs.map((p) => [p.pid, p]));
  for (;;) {
    const swept = store.transaction(() => {
      if (unmarkedRoots().length > 0) return undefined; // a manifest arrived: mark again
      const garbage: { id: string; length: number }[] = [];
      for (const b of store.blobs.all()) {
        if (live.has(b.id)) continue;
        const pack = packById.get(b.pid);
        if (!pack || pack.added > cutoff) continue;
        garbage.push({ id: b.id, length: store.blobs.locate(b.id)!.length });
      }
      if (!dryRun) {
        for (const g of garbage) store.blobs.deleteBlob(g.id);
        store.repos.prune();
      }
      return garbage;
    });
    if (swept) {
      report.swept = { blobs: swept.length, bytes: swept.reduce((n, g) => n + g.length, 0) };
      break;
    }
    for (let pending = unmarkedRoots(); pending.length > 0; pending = unmarkedRoots()) await mark(pending);
  }

  // Repack or retire old packs that are mostly garbage.
  for (const p of store.blobs.packs()) {
    if (p.retired !== null || p.added > cutoff) continue;
    const liveBytes = dryRun ? sumLive(store, p.pid, live) : store.blobs.liveBytes(p.pid);
    if (liveBytes * 2 >= p.dataBytes) continue;
    if (liveBytes === 0) {
      report.retired.push(p.id);
      if (!dryRun) store.transaction(() => store.blobs.retire(p.pid, now));
      continue;
    }
    report.repacked.push({ pack: p.id, liveBytes, dataBytes: p.dataBytes });
    if (dryRun) continue;
    await repack(store, p.pid, p.id, p.dataBytes);
    store.transaction(() => store.blobs.retire(p.pid, now));
    report.retired.push(p.id);
  }

  // Delete packs retired more than a grace period ago.
  for (const p of store.blobs.packs()) {
    if (p.retired === null || p.retired > cutoff) continue;
    if (store.blobs.liveBytes(p.pid) > 0) continue; // something still points here: keep
    report.deleted.push(p.id);
    if (dryRun) continue;
    await store.backend.delete(packKey(p.id));
    store.transaction(() => store.blobs.deletePack(p.pid));
  }

  // Delete stored packs the index never learned of.
  const known = new Set(store.blobs.packs().map((p) => p.id));
  for await (const o of store.backend.list(PACKS_PREFIX)) {
    const id = packIdOfKey(o.key);
    if (!id || known.has(id) || o.lastModified.getTime() > cutoff) continue;
    report.orphansDeleted.push(id);
    if (!dryRun) await store.backend.delete(o.key);
  }
  return report;
}

function sumLive(store: Store, pid: number, live: Set<string>): number {
  return store.blobs.blobsOfPack(pid).reduce((n, b) => n + (live.has(b.id) ? b.length : 0), 0);
}

/** Copies the blobs still located in a pack into new packs and points the index at the copies. */
async function repack(store: Store, pid: number, packId: string, dataBytes: number): Promise<void> {
  const keep = new Set(store.blobs.blobsOfPack(pid).map((b) => b.id));
  const key = packKey(packId);
  const size = await store.backend.size(key);
  if (size === undefined) throw new PackDamaged(packId, 'it is missing from storage');
  const index = await readPackIndex(size, async (offset, length) => {
    const buf = Buffer.allocUnsafe(length);
    await store.backend.readInto(key, offset, length, buf);
    return buf;
  });
  const writer = new PackWriter(store, { dedup: false });
  try {
    // One pass over the data region; blobs no longer located here are skipped.
    const data = (await store.backend.readStream(key, 0, dataBytes)) as AsyncIterable<Buffer>;
    for await (const { entry, bytes } of blobsOf(data, index.entries)) {
      if (!keep.has(entry.id)) continue;
      const actual = blake3Hex(bytes);
      if (actual !== entry.id) throw new PackDamaged(packId, `blob ${entry.id} at offset ${entry.offset} hashes to ${actual}; not repacked`);
      await writer.add(entry.id, entry.type, bytes);
    }
    await writer.flush();
  } catch (err) {
    await writer.discard();
    throw err;
  }
  store.transaction(() => {
    for (const idx of writer.published) store.blobs.moveBlobs(pid, store.blobs.pack(idx.packId)!.pid, idx.entries);
  });
}
