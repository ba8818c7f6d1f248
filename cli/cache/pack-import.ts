import { readFileSync, rmSync } from 'node:fs';
import { DvxError, FormatError } from '../../core/errors.ts';
import { decodeFileManifest } from '../../core/file-manifest.ts';
import { BlobType, verifyPack, type PackIndex } from '../../core/pack.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * Brings a pack received from elsewhere (a server's fetch answer) into the
 * cache: verified whole (index, every blob hash) and checked to hold exactly
 * what was asked for, then published and indexed. A bad pack is deleted and
 * reported; nothing of it is indexed.
 */
export function importPack(cache: LocalCache, tmpPath: string, expected: readonly string[]): PackIndex {
  let index: PackIndex;
  let bytes: Buffer;
  try {
    bytes = readFileSync(tmpPath);
    index = verifyPack(bytes);
    const got = index.entries.map((e) => e.id);
    if (got.length !== expected.length || got.some((id, i) => id !== expected[i])) {
      throw new FormatError('pack', `holds ${got.length} blobs, not the ${expected.length} requested`);
    }
  } catch (err) {
    rmSync(tmpPath, { force: true });
    if (err instanceof FormatError) throw new DvxError('bad_pack_from_server', `the server sent a damaged pack: ${err.message}`, 'run the command again; if it persists, ask the server admin to run `dvx-server fsck`');
    throw err;
  }
  cache.packs.publish(tmpPath, index.packId);
  cache.index.addPack(index, fileMappings(bytes, index));
  return index;
}

/**
 * Indexes the packs in place that the index does not list and that verify
 * whole: left by a command killed between publishing a pack and indexing it.
 * gc runs this first, as it holds the cache alone (so no writer is between the
 * two steps now): what such a pack holds, a manifest above all, must count
 * when gc decides what to keep, or gc would delete the chunks it names. A pack
 * that does not verify stays as it is, for `dvx fsck` to name. Returns the ids indexed.
 */
export function indexLeftoverPacks(cache: LocalCache): string[] {
  const indexed = new Set(cache.index.packs().map((p) => p.id));
  const done: string[] = [];
  for (const id of cache.packs.list()) {
    if (indexed.has(id)) continue;
    let bytes: Buffer;
    let index: PackIndex;
    try {
      bytes = cache.packs.readWhole(id);
      index = verifyPack(bytes, id);
    } catch (err) {
      if (err instanceof FormatError) continue;
      throw err;
    }
    cache.index.addPack(index, fileMappings(bytes, index));
    done.push(id);
  }
  return done;
}

function fileMappings(bytes: Uint8Array, index: PackIndex): { sha256: string; manifest: string }[] {
  const files: { sha256: string; manifest: string }[] = [];
  for (const e of index.entries) {
    if (e.type === BlobType.fileManifest) files.push({ sha256: decodeFileManifest(bytes.subarray(e.offset, e.offset + e.length)).sha256, manifest: e.id });
  }
  return files;
}
