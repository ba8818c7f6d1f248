import { FormatError } from '../../core/errors.ts';
import { decodeFileManifest } from '../../core/file-manifest.ts';
import { BlobType, type PackIndex } from '../../core/pack.ts';
import { decodeTreeManifest } from '../../core/tree-manifest.ts';
import { PACKS_PREFIX, packIdOfKey, packKey } from '../store/pack-keys.ts';
import { readPackIndex, scanBlobs } from '../store/pack-scan.ts';
import type { Store } from '../store/store.ts';

/**
 * `dvx-server fsck`: every stored pack read back whole and re-hashed, the
 * index compared with what storage holds, every manifest decoded and its
 * references resolved. Each problem names the pack, blob or repository it
 * concerns. Damage makes data unreadable; notes are harmless leftovers of
 * interrupted work (an upload killed between storing a pack and indexing it).
 */
export type ProblemKind =
  | 'damaged_pack' // unreadable index, or index not matching the pack's name
  | 'damaged_blob' // bytes do not hash to the blob's id
  | 'missing_pack' // indexed, not in storage
  | 'index_mismatch' // index and pack disagree about a blob
  | 'damaged_manifest' // hashes fine, does not decode
  | 'missing_blob' // referenced by a manifest, not stored intact
  | 'dangling_membership' // a repository lists a blob the index does not have
  | 'unindexed_pack' // a complete pack the index does not know: note
  | 'retired_pack_gone' // a pack gc retired is already deleted: note
  | 'stray_object'; // an object under packs/ that is not named like a pack: note

export interface Problem {
  kind: ProblemKind;
  object: string;
  detail: string;
  severity: 'damage' | 'note';
}

export interface FsckReport {
  packs: number;
  packBytes: number;
  blobs: number;
  manifests: number;
  problems: Problem[];
}

export async function fsck(store: Store, onPack?: (done: number, total: number) => void): Promise<FsckReport> {
  const report: FsckReport = { packs: 0, packBytes: 0, blobs: 0, manifests: 0, problems: [] };
  const problem = (kind: ProblemKind, object: string, detail: string, severity: Problem['severity'] = 'damage') => report.problems.push({ kind, object, detail, severity });
  const stored = new Map<string, number>();
  for await (const o of store.backend.list(PACKS_PREFIX)) {
    const id = packIdOfKey(o.key);
    if (id) stored.set(id, o.size);
    else problem('stray_object', o.key, 'not named like a pack; dvx does not use it', 'note');
  }
  const indexed = new Map(store.blobs.packs().map((p) => [p.id, p]));
  const good = new Set<string>();
  const refs = new Map<string, { type: BlobType; refs: string[] }>();

  let done = 0;
  for (const [id, size] of stored) {
    onPack?.(done++, stored.size);
    report.packs++;
    report.packBytes += size;
    const key = packKey(id);
    let index: PackIndex;
    try {
      index = await readPackIndex(size, async (offset, length) => {
        const buf = Buffer.allocUnsafe(length);
        await store.backend.readInto(key, offset, length, buf);
        return buf;
      });
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      problem('damaged_pack', id, `its index cannot be read: ${err.message}`);
      continue;
    }
    if (index.packId !== id) {
      problem('damaged_pack', id, `its index hashes to ${index.packId}, not the pack's name`);
      continue;
    }
    let scanned;
    try {
      scanned = await scanBlobs((await store.backend.readStream(key, 0, index.dataBytes)) as AsyncIterable<Buffer>, index);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      problem('damaged_pack', id, err.message);
      continue;
    }
    const damaged = new Set(scanned.damaged.map((d) => d.id));
    for (const d of scanned.damaged) problem('damaged_blob', id, `blob ${d.id} at offset ${d.offset}: ${d.problem}`);
    const row = indexed.get(id);
    if (!row) problem('unindexed_pack', id, `a complete pack of ${index.entries.length} blobs that the index does not list (an upload interrupted before indexing; gc removes it, reindex adopts it)`, 'note');
    else {
      if (row.bytes !== size) problem('index_mismatch', id, `the index says ${row.bytes} bytes, storage has ${size}`);
      const rows = new Map(store.blobs.blobsOfPack(row.pid).map((r) => [r.id, r]));
      for (const e of index.entries) {
        const r = rows.get(e.id);
        rows.delete(e.id);
        if (r && (r.offset !== e.offset || r.length !== e.length || r.type !== e.type)) {
          problem('index_mismatch', id, `the index places blob ${e.id} at ${r.offset}+${r.length} (type ${r.type}), the pack at ${e.offset}+${e.length} (type ${e.type})`);
        }
      }
      for (const r of rows.values()) problem('index_mismatch', id, `the index places blob ${r.id} in this pack, which does not contain it`);
    }
    for (const e of index.entries) {
      report.blobs++;
      if (damaged.has(e.id)) continue;
      good.add(e.id);
      const m = scanned.manifests.get(e.id);
      if (!m) continue;
      report.manifests++;
      try {
        if (e.type === BlobType.fileManifest) refs.set(e.id, { type: BlobType.chunk, refs: decodeFileManifest(m.bytes).chunks.map((c) => c.id) });
        else refs.set(e.id, { type: BlobType.fileManifest, refs: decodeTreeManifest(m.bytes).entries.map((t) => t.manifest) });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        problem('damaged_manifest', e.id, `in pack ${id}: ${err.message}`);
        good.delete(e.id);
      }
    }
  }
  onPack?.(stored.size, stored.size);

  for (const [id, row] of indexed) {
    if (stored.has(id)) continue;
    if (row.retired !== null) problem('retired_pack_gone', id, 'retired by gc and already deleted from storage', 'note');
    else problem('missing_pack', id, `listed in the index with ${row.blobs} blobs, but storage does not have it`);
  }
  // Every blob the index locates must be stored intact (blobs of packs already reported are not repeated).
  const reported = new Set(report.problems.filter((p) => p.severity === 'damage').map((p) => p.object));
  const packOfPid = new Map([...indexed.values()].map((p) => [p.pid, p.id]));
  for (const b of store.blobs.all()) {
    const pack = packOfPid.get(b.pid)!;
    if (good.has(b.id) || reported.has(pack)) continue;
    problem('missing_blob', b.id, `indexed in pack ${pack}, which does not hold it intact`);
  }
  for (const [manifest, { refs: ids }] of refs) {
    // A manifest gc swept (still inside a pack awaiting repack or deletion) references nothing that matters.
    if (!store.blobs.has(manifest)) continue;
    const missing = ids.filter((r) => !good.has(r) || !store.blobs.has(r));
    if (missing.length > 0) problem('missing_blob', manifest, `references ${missing.length} blob(s) that are not stored intact and indexed, first ${missing[0]}`);
  }
  for (const d of store.repos.dangling()) problem('dangling_membership', d.repo, `repository ${d.repo} lists blob ${d.id}, which the index does not have`);
  return report;
}

export function hasDamage(r: FsckReport): boolean {
  return r.problems.some((p) => p.severity === 'damage');
}
