import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { decodeFileManifest } from '../../core/file-manifest.ts';
import { blake3Hex } from '../../core/hash.ts';
import { BlobType, PackBuilder, type PackEntry, type PackIndex } from '../../core/pack.ts';
import { fsError } from '../fs-util.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * Rewrites the blobs of a damaged pack that still hash to their ids into a
 * new pack, and only then lets the damaged one go: the new pack is written,
 * synced and published, its index rows replace the old pack's in one
 * transaction, and the old file is deleted last. A crash at any point leaves
 * the damaged pack indexed as before, so the next `dvx fsck --repair` can
 * salvage it again (the cache index may be all that says where its blobs are,
 * when the pack's own index is what was damaged).
 *
 * When every blob is kept in the same order the new pack is the original
 * again, under the same id, and simply takes its place.
 */
export interface Salvage {
  /** the new pack, unless nothing could be kept */
  into?: string;
  kept: string[];
  /** blobs whose bytes no longer hash to their id */
  damaged: string[];
}

export function salvagePack(cache: LocalCache, pack: string, keep: readonly PackEntry[]): Salvage {
  const bytes = cache.packs.readWhole(pack);
  const builder = new PackBuilder();
  const parts: Uint8Array[] = [];
  const damaged: string[] = [];
  for (const e of keep) {
    if (builder.has(e.id)) continue;
    const blob = bytes.subarray(e.offset, e.offset + e.length);
    // Checked again as written: only bytes that prove themselves replace the pack.
    if (e.offset + e.length > bytes.length || blake3Hex(blob) !== e.id) {
      damaged.push(e.id);
      continue;
    }
    builder.add(e.id, e.type, e.length);
    parts.push(blob);
  }
  if (builder.count === 0) {
    cache.index.removePack(pack);
    cache.packs.remove(pack);
    return { kept: [], damaged };
  }
  const { tail, index } = builder.finish();
  writePack(cache, index, [...parts, tail]);
  if (!cache.packs.tailMatches(index.packId, index.packBytes, tail)) {
    throw new DvxError('pack_write_failed', `salvaged pack ${index.packId} did not read back as written`, 'check the disk and run `dvx fsck --repair` again; the damaged pack is still indexed');
  }
  cache.index.replacePack(pack, index, fileMappings(parts, index));
  if (index.packId !== pack) cache.packs.remove(pack);
  return { into: index.packId, kept: index.entries.map((e) => e.id), damaged };
}

function writePack(cache: LocalCache, index: PackIndex, parts: readonly Uint8Array[]): void {
  const tmp = cache.packs.newTempPath();
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    for (const p of parts) for (let at = 0; at < p.length; ) at += writeSync(fd, p, at, p.length - at);
    // The damaged pack is deleted once this is published: it must be on disk, not in a cache.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw fsError(err, tmp, 'write');
  }
  cache.packs.publish(tmp, index.packId);
}

function fileMappings(parts: readonly Uint8Array[], index: PackIndex): { sha256: string; manifest: string }[] {
  const out: { sha256: string; manifest: string }[] = [];
  index.entries.forEach((e, i) => {
    if (e.type === BlobType.fileManifest) out.push({ sha256: decodeFileManifest(parts[i]!).sha256, manifest: e.id });
  });
  return out;
}
