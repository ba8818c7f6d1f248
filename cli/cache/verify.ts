import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../core/errors.ts';
import { decodeFileManifest } from '../../core/file-manifest.ts';
import { BlobType, decodePack, verifyPackBlobs, type PackIndex } from '../../core/pack.ts';
import { decodeTreeManifest } from '../../core/tree-manifest.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * Checks a local cache against itself: every pack re-read and re-hashed, the
 * index compared with what the packs say, every manifest decoded and its
 * references resolved. Reports each problem with the object it concerns;
 * repair() then salvages what is intact.
 */
export type ProblemKind =
  | 'damaged_pack' // pack index unreadable or not matching the pack's name
  | 'damaged_blob' // bytes do not hash to their id
  | 'missing_pack' // indexed but gone from disk
  | 'index_mismatch' // index disagrees with the pack about a blob
  | 'damaged_manifest' // hashes fine but does not decode
  | 'missing_blob' // referenced by a manifest but not stored
  | 'unindexed_pack' // a complete pack the index does not know (after a crash): a note
  | 'temp_file' // leftover of an interrupted write: a note
  | 'damaged_index' // index.sqlite unreadable: repair moves it aside and indexes the packs anew
  | 'damaged_filter'; // bloom.bin denies blobs the index holds: repair deletes it (it is rebuilt from the index)

export interface Problem {
  kind: ProblemKind;
  /** the pack, blob or file concerned */
  object: string;
  detail: string;
  /** damage makes data unreadable; notes are harmless leftovers */
  severity: 'damage' | 'note';
}

export interface VerifyReport {
  packs: number;
  packBytes: number;
  blobs: number;
  manifests: number;
  problems: Problem[];
  /** ids of blobs that cannot be read intact */
  bad: Set<string>;
  /** packs on disk that decoded, by id, for repair */
  decoded: Map<string, PackIndex>;
}

export function verifyCache(cache: LocalCache, onPack?: (done: number, total: number) => void): VerifyReport {
  const report: VerifyReport = { packs: 0, packBytes: 0, blobs: 0, manifests: 0, problems: [], bad: new Set(), decoded: new Map() };
  const problem = (kind: ProblemKind, object: string, detail: string, severity: Problem['severity'] = 'damage') => report.problems.push({ kind, object, detail, severity });
  const onDisk = cache.packs.list();
  const indexed = new Map(cache.index.packs().map((p) => [p.id, p]));
  const refs = new Map<string, string[]>();
  const good = new Set<string>();

  const misses = cache.index.savedFilterMisses();
  if (misses > 0) problem('damaged_filter', cache.index.bloomPath, `denies ${misses} of the blobs the index holds, so dvx would store them again and count them missing`);

  onDisk.forEach((id, i) => {
    onPack?.(i, onDisk.length);
    report.packs++;
    const bytes = cache.packs.readWhole(id);
    report.packBytes += bytes.length;
    let idx: PackIndex;
    try {
      idx = decodePack(bytes);
    } catch (err) {
      problem('damaged_pack', id, `its index cannot be read: ${(err as Error).message}`);
      for (const b of cache.index.blobsOfPack(id)) report.bad.add(b.id);
      return;
    }
    if (idx.packId !== id) {
      problem('damaged_pack', id, `its index hashes to ${idx.packId}, not its name`);
      for (const b of cache.index.blobsOfPack(id)) report.bad.add(b.id);
      return;
    }
    report.decoded.set(id, idx);
    const damaged = new Set(verifyPackBlobs(bytes, idx).map((d) => {
      problem('damaged_blob', d.id, `in pack ${id} at offset ${d.offset}: ${d.problem}`);
      report.bad.add(d.id);
      return d.id;
    }));
    if (!indexed.has(id)) problem('unindexed_pack', id, `a complete pack of ${idx.entries.length} blobs that the index does not list (left by an interrupted command, or by a lost index)`, 'note');
    else {
      const rows = new Map(cache.index.blobsOfPack(id).map((r) => [r.id, r]));
      for (const e of idx.entries) {
        const row = rows.get(e.id);
        rows.delete(e.id);
        if (row && (row.offset !== e.offset || row.length !== e.length || row.type !== e.type)) {
          problem('index_mismatch', e.id, `the index places it at ${row.offset}+${row.length} in pack ${id}, the pack at ${e.offset}+${e.length}`);
          report.bad.add(e.id);
        }
      }
      for (const r of rows.values()) {
        problem('index_mismatch', r.id, `the index places it in pack ${id}, which does not contain it`);
        report.bad.add(r.id);
      }
    }
    for (const e of idx.entries) {
      report.blobs++;
      if (damaged.has(e.id)) continue;
      good.add(e.id);
      if (e.type === BlobType.chunk) continue;
      report.manifests++;
      const blob = bytes.subarray(e.offset, e.offset + e.length);
      try {
        if (e.type === BlobType.fileManifest) refs.set(e.id, decodeFileManifest(blob).chunks.map((c) => c.id));
        else refs.set(e.id, decodeTreeManifest(blob).entries.map((t) => t.manifest));
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        problem('damaged_manifest', e.id, `in pack ${id}: ${err.message}`);
        report.bad.add(e.id);
        good.delete(e.id);
      }
    }
  });
  onPack?.(onDisk.length, onDisk.length);

  const present = new Set(onDisk);
  for (const id of indexed.keys()) {
    if (present.has(id)) continue;
    problem('missing_pack', id, `listed in the index with ${indexed.get(id)!.blobs} blobs, but the file is gone`);
    for (const b of cache.index.blobsOfPack(id)) report.bad.add(b.id);
  }
  for (const [manifest, ids] of refs) {
    const missing = ids.filter((r) => !good.has(r));
    if (missing.length > 0) problem('missing_blob', manifest, `references ${missing.length} blob(s) that are not stored intact, first ${missing[0]}`);
  }
  for (const t of tempFiles(cache)) problem('temp_file', t, 'left by an interrupted write', 'note');
  return report;
}

function tempFiles(cache: LocalCache): string[] {
  try {
    return readdirSync(cache.packs.tmpDir).map((n) => join(cache.packs.tmpDir, n));
  } catch {
    return [];
  }
}

export interface RepairOutcome {
  /** where a damaged index.sqlite was moved before the packs were indexed anew */
  movedIndex?: string;
  /** the Bloom filter was deleted, to be rebuilt from the index */
  rebuiltFilter: boolean;
  indexed: string[];
  salvaged: { pack: string; blobs: number }[];
  dropped: string[];
  removedTemp: number;
}

/** Salvages what verify found intact; what is damaged is dropped so it can be fetched or re-added. */
export async function repairCache(cache: LocalCache, report: VerifyReport): Promise<RepairOutcome> {
  const out: RepairOutcome = { rebuiltFilter: false, indexed: [], salvaged: [], dropped: [], removedTemp: 0 };
  const byPack = new Map<string, Problem[]>();
  for (const p of report.problems) {
    const pack = p.kind === 'damaged_blob' || p.kind === 'index_mismatch' ? /pack ([0-9a-f]{64})/.exec(p.detail)?.[1] : p.object;
    if (pack) byPack.set(pack, [...(byPack.get(pack) ?? []), p]);
  }
  for (const p of report.problems) {
    if (p.kind === 'damaged_filter') {
      cache.index.dropSavedFilter();
      out.rebuiltFilter = true;
    } else if (p.kind === 'temp_file') {
      // Only old leftovers: a younger one may belong to a command running now.
      if (Date.now() - statSync(p.object).mtimeMs > 10 * 60_000) {
        rmSync(p.object, { force: true });
        out.removedTemp++;
      }
    } else if (p.kind === 'unindexed_pack') {
      const idx = report.decoded.get(p.object)!;
      cache.index.addPack(idx, fileMappings(cache, p.object, idx));
      out.indexed.push(p.object);
    } else if (p.kind === 'missing_pack' || (p.kind === 'damaged_pack')) {
      cache.index.removePack(p.object);
      if (p.kind === 'damaged_pack') cache.packs.remove(p.object);
      out.dropped.push(p.object);
    }
  }
  // Packs holding damaged blobs: rewrite their intact blobs into a new pack.
  for (const [pack, problems] of byPack) {
    if (!problems.some((p) => p.kind === 'damaged_blob' || p.kind === 'index_mismatch' || p.kind === 'damaged_manifest')) continue;
    const idx = report.decoded.get(pack);
    if (!idx) continue;
    const bytes = cache.packs.readWhole(pack);
    cache.index.removePack(pack);
    const writer = cache.writer();
    let kept = 0;
    for (const e of idx.entries) {
      if (report.bad.has(e.id)) continue;
      if (writer.put(e.id, e.type, bytes.subarray(e.offset, e.offset + e.length))) kept++;
    }
    await writer.flush();
    for (const id of writer.publishedIds) {
      const idxOut = cache.packs.readIndex(id);
      cache.index.addPack(idxOut, fileMappings(cache, id, idxOut));
    }
    cache.packs.remove(pack);
    out.salvaged.push({ pack, blobs: kept });
  }
  // Content whose manifest is gone can no longer be reproduced.
  for (const f of [...cache.index.files()]) if (!cache.index.has(f.manifest)) cache.index.removeFile(f.sha256);
  return out;
}

function fileMappings(cache: LocalCache, pack: string, idx: PackIndex): { sha256: string; manifest: string }[] {
  const out: { sha256: string; manifest: string }[] = [];
  for (const e of idx.entries) {
    if (e.type !== BlobType.fileManifest) continue;
    try {
      out.push({ sha256: decodeFileManifest(cache.packs.read(pack, e.offset, e.length)).sha256, manifest: e.id });
    } catch {
      // damaged: reported by verify
    }
  }
  return out;
}
