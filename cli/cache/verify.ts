import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../core/errors.ts';
import { decodeFileManifest } from '../../core/file-manifest.ts';
import { BlobType, decodePack, verifyPackBlobs, type PackEntry, type PackIndex } from '../../core/pack.ts';
import { decodeTreeManifest } from '../../core/tree-manifest.ts';
import { plural } from '../ui.ts';
import type { LocalCache } from './local-cache.ts';
import { salvagePack } from './salvage.ts';

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
  /** ids of blobs that cannot be read intact, or that a manifest names and the cache lacks */
  bad: Set<string>;
  /** intact manifests, by id: the blobs each names */
  refs: Map<string, string[]>;
  /** packs on disk that decoded, by id, for repair */
  decoded: Map<string, PackIndex>;
  /**
   * Packs that repair rewrites (damaged, or holding damaged blobs or wrong
   * index rows): the blobs of each that verified, in pack order, and the ids
   * it should hold that did not.
   */
  rewrite: Map<string, { keep: PackEntry[]; lost: string[] }>;
}

export function verifyCache(cache: LocalCache, onPack?: (done: number, total: number) => void): VerifyReport {
  const report: VerifyReport = { packs: 0, packBytes: 0, blobs: 0, manifests: 0, problems: [], bad: new Set(), refs: new Map(), decoded: new Map(), rewrite: new Map() };
  const problem = (kind: ProblemKind, object: string, detail: string, severity: Problem['severity'] = 'damage') => report.problems.push({ kind, object, detail, severity });
  const onDisk = cache.packs.list();
  const indexed = new Map(cache.index.packs().map((p) => [p.id, p]));
  const refs = report.refs;
  const good = new Set<string>();

  const misses = cache.index.savedFilterMisses();
  if (misses > 0) problem('damaged_filter', cache.index.bloomPath, `denies ${misses} of the blobs the index holds, so dvx would store them again and count them missing`);

  onDisk.forEach((id, i) => {
    onPack?.(i, onDisk.length);
    report.packs++;
    const bytes = cache.packs.readWhole(id);
    report.packBytes += bytes.length;
    const rows = indexed.has(id) ? cache.index.blobsOfPack(id) : [];
    let idx: PackIndex | undefined;
    let damage: string | undefined;
    try {
      idx = decodePack(bytes);
      if (idx.packId !== id) damage = `its index hashes to ${idx.packId}, not its name`;
    } catch (err) {
      damage = `its index cannot be read: ${(err as Error).message}`;
    }
    let entries: readonly PackEntry[];
    /** blobs the index places in this pack that are not in it */
    const strays: string[] = [];
    let rewrite = false;
    if (damage || !idx) {
      // Its blobs may well be whole: where the cache index places them (what
      // every reader used so far), else where the pack's own index does, the
      // bytes that hash to their id are salvaged.
      entries = rows.length > 0 ? rows : (idx?.entries ?? []);
      problem('damaged_pack', id, `${damage}; ${entries.length > 0 ? `its ${plural(entries.length, 'blob')} are checked where ${rows.length > 0 ? 'the cache index' : 'its own index'} places them` : 'no index places its blobs'}`);
      rewrite = true;
    } else {
      report.decoded.set(id, idx);
      entries = idx.entries;
      if (!indexed.has(id)) problem('unindexed_pack', id, `a complete pack of ${idx.entries.length} blobs that the index does not list (left by an interrupted command, or by a lost index)`, 'note');
      else {
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const e of idx.entries) {
          const row = byId.get(e.id);
          byId.delete(e.id);
          if (row && (row.offset !== e.offset || row.length !== e.length || row.type !== e.type)) {
            problem('index_mismatch', e.id, `the index places it at ${row.offset}+${row.length} in pack ${id}, the pack at ${e.offset}+${e.length}`);
            report.bad.add(e.id);
            rewrite = true;
          }
        }
        for (const r of byId.values()) {
          problem('index_mismatch', r.id, `the index places it in pack ${id}, which does not contain it`);
          report.bad.add(r.id);
          strays.push(r.id);
          rewrite = true;
        }
      }
    }
    const damaged = new Set(verifyPackBlobs(bytes, { entries }).map((d) => {
      problem('damaged_blob', d.id, `in pack ${id} at offset ${d.offset}: ${d.problem}`);
      report.bad.add(d.id);
      return d.id;
    }));
    const keep: PackEntry[] = [];
    for (const e of entries) {
      report.blobs++;
      if (damaged.has(e.id)) {
        rewrite = true;
        continue;
      }
      good.add(e.id);
      if (e.type !== BlobType.chunk) {
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
          rewrite = true;
          continue;
        }
      }
      keep.push(e);
    }
    if (rewrite) {
      const kept = new Set(keep.map((e) => e.id));
      report.rewrite.set(id, { keep, lost: [...entries.map((e) => e.id).filter((b) => !kept.has(b)), ...strays] });
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
    if (missing.length === 0) continue;
    problem('missing_blob', manifest, `references ${missing.length} blob(s) that are not stored intact, first ${missing[0]}`);
    // Lost by an earlier repair, or never fetched: the paths that need them are affected all the same.
    for (const id of missing) report.bad.add(id);
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
  /**
   * Rewritten packs: how many blobs were kept, in which new pack (none when
   * nothing verified: the pack is deleted), and the ids the cache lost with it.
   */
  salvaged: { pack: string; into?: string; blobs: number; lost: string[] }[];
  /** packs the index listed that are gone from disk */
  dropped: string[];
  removedTemp: number;
  /** manifests still indexed that name blobs the cache no longer holds */
  incomplete: string[];
}

/** Salvages what verify found intact; what is damaged is dropped so it can be fetched or re-added. */
export async function repairCache(cache: LocalCache, report: VerifyReport): Promise<RepairOutcome> {
  const out: RepairOutcome = { rebuiltFilter: false, indexed: [], salvaged: [], dropped: [], removedTemp: 0, incomplete: [] };
  /** ids whose index rows go with a pack: lost unless a copy turns up */
  const unplaced = new Set<string>();
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
    } else if (p.kind === 'unindexed_pack' && !report.rewrite.has(p.object)) {
      const idx = report.decoded.get(p.object)!;
      cache.index.addPack(idx, fileMappings(cache, p.object, idx));
      out.indexed.push(p.object);
    } else if (p.kind === 'missing_pack') {
      for (const b of cache.index.blobsOfPack(p.object)) unplaced.add(b.id);
      cache.index.removePack(p.object);
      out.dropped.push(p.object);
    }
  }
  for (const [pack, { keep, lost }] of report.rewrite) {
    const s = salvagePack(cache, pack, keep);
    const gone = [...lost, ...s.damaged];
    for (const id of gone) unplaced.add(id);
    out.salvaged.push({ pack, ...(s.into ? { into: s.into } : {}), blobs: s.kept.length, lost: gone });
  }
  indexCopies(cache, report, unplaced);
  for (const s of out.salvaged) s.lost = s.lost.filter((id) => !cache.index.has(id));
  const gone = new Set([...report.bad].filter((id) => !cache.index.has(id)));
  out.incomplete = [...report.refs].filter(([m, ids]) => !gone.has(m) && ids.some((id) => gone.has(id))).map(([m]) => m);
  // Content whose manifest is gone, or names lost chunks, can no longer be reproduced.
  const incomplete = new Set(out.incomplete);
  for (const f of [...cache.index.files()]) if (incomplete.has(f.manifest) || !cache.index.has(f.manifest)) cache.index.removeFile(f.sha256);
  return out;
}

/**
 * The index holds one location per blob, so a blob stored twice (two adds of
 * the same data at once) is indexed in the first pack only. When repair
 * drops that location, a sound pack holding a copy is indexed again, which
 * adds just the rows it lacks.
 */
function indexCopies(cache: LocalCache, report: VerifyReport, unplaced: ReadonlySet<string>): void {
  const wanted = new Set([...unplaced].filter((id) => !cache.index.has(id)));
  if (wanted.size === 0) return;
  for (const [id, idx] of report.decoded) {
    if (report.rewrite.has(id) || !idx.entries.some((e) => wanted.has(e.id))) continue;
    cache.index.addPack(idx, fileMappings(cache, id, idx));
  }
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
