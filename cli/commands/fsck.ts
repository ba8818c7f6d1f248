import { DvxError, errorMessage } from '../../core/errors.ts';
import { CacheLock } from '../cache/cache-lock.ts';
import { isIndexDamaged, moveDamagedIndex } from '../cache/damaged-index.ts';
import { LocalCache } from '../cache/local-cache.ts';
import { PackFiles } from '../cache/pack-files.ts';
import { repairCache, verifyCache, type Problem, type VerifyReport } from '../cache/verify.ts';
import { formatBytes, info, plural, printJson, type OutputOptions } from '../ui.ts';
import type { Tracked } from '../workspace/workspace.ts';
import { Workspace } from '../workspace/workspace.ts';

export interface FsckOptions extends OutputOptions {
  repair?: boolean;
}

export async function run(opts: FsckOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const tracked = ws.tracked();
    const { cache, report, movedIndex } = await check(ws, tracked, opts);
    const repair = opts.repair ? await repairCache(cache, report) : undefined;
    if (repair && movedIndex) repair.movedIndex = movedIndex;
    // Judged after the repair: what it salvaged or indexed is sound now, what it lost is not.
    const unavailable = repair ? new Set([...report.bad].filter((id) => !cache.has(id))) : report.bad;
    const affected = affectedPaths(cache, tracked, unavailable);
    // add must read such files again to store their lost chunks, not take them from the stat cache.
    const incomplete = repair ? repair.incomplete : report.problems.filter((p) => p.kind === 'missing_blob').map((p) => p.object);
    ws.statCache().forgetManifests(incomplete);
    // Data that is in the packs but not in the index (a crash, a lost index) needs --repair, not a pull.
    const unindexedPacks = repair ? [] : report.problems.filter((p) => p.kind === 'unindexed_pack').map((p) => p.object);
    const inUnindexed = new Set(unindexedPacks.flatMap((id) => report.decoded.get(id)!.entries.map((e) => e.id)));
    const absent = tracked.filter((t) => t.pointer && !cache.has(t.pointer.manifest) && !report.bad.has(t.pointer.manifest));
    const unindexed = absent.filter((t) => inUnindexed.has(t.pointer!.manifest)).map((t) => t.dataPath);
    const notInCache = absent.filter((t) => !inUnindexed.has(t.pointer!.manifest)).map((t) => t.dataPath);

    if (opts.json) {
      printJson({ packs: report.packs, packBytes: report.packBytes, blobs: report.blobs, manifests: report.manifests, problems: report.problems, affected, notInCache, unindexed, repair });
    } else {
      info(opts, `checked ${plural(report.packs, 'pack')} (${formatBytes(report.packBytes)}), ${plural(report.blobs, 'blob')}, ${plural(report.manifests, 'manifest')}`);
      for (const p of report.problems) info(opts, describe(p));
      if (affected.length) info(opts, `affected tracked paths:\n${affected.map((a) => `  ${a}`).join('\n')}`);
      if (unindexedPacks.length) info(opts, `the index does not list ${plural(unindexedPacks.length, 'pack')} on disk; \`dvx fsck --repair\` indexes ${unindexedPacks.length === 1 ? 'it' : 'them'}`);
      if (unindexed.length) info(opts, `data in packs the index does not list (\`dvx fsck --repair\` indexes them): ${unindexed.join(', ')}`);
      if (notInCache.length) info(opts, `not in the cache (fetch with \`dvx pull\`): ${notInCache.join(', ')}`);
      if (repair) {
        if (repair.movedIndex) info(opts, `repaired: moved the damaged index to ${repair.movedIndex} (kept for inspection); every pack is indexed anew`);
        if (repair.rebuiltFilter) info(opts, 'repaired: rebuilt the Bloom filter (bloom.bin) from the index');
        for (const p of repair.indexed) info(opts, `repaired: indexed pack ${p}`);
        for (const s of repair.salvaged) {
          const lost = s.lost.length > 0 ? `; lost ${plural(s.lost.length, 'blob')}: ${listIds(s.lost)}` : '';
          const into = s.into === s.pack ? ', which is whole again' : s.into ? ` into pack ${s.into}` : undefined;
          info(opts, into ? `repaired: rewrote ${plural(s.blobs, 'intact blob')} of damaged pack ${s.pack}${into}${lost}` : `repaired: deleted damaged pack ${s.pack}, none of its blobs verified${lost}`);
        }
        for (const d of repair.dropped) info(opts, `repaired: dropped pack ${d} from the index (its file is gone)`);
        if (repair.removedTemp) info(opts, `repaired: removed ${plural(repair.removedTemp, 'leftover temp file')}`);
      }
      if (report.problems.length === 0) info(opts, 'no problems found');
    }
    // After a repair only what it could not bring back counts; a derived file it rebuilt does not.
    const damage = report.problems.filter((p) => p.severity === 'damage');
    if (repair) {
      if (affected.length > 0 || incomplete.length > 0) throw lostData(affected, incomplete);
    } else if (damage.some((p) => p.kind !== 'missing_blob')) {
      throw new DvxError(
        'cache_damaged',
        `${plural(damage.length, 'problem')} found in the cache`,
        `run \`dvx fsck --repair\` to salvage what is intact${affected.length > 0 ? ', then `dvx pull` what it cannot (or `dvx add` it again)' : ''}`,
      );
    } else if (damage.length > 0) {
      throw lostData(affected, incomplete, CacheLock.interruptedGc(cache.dir));
    }
  } finally {
    await ws.close();
  }
}

/**
 * Opens and verifies the cache. An index SQLite cannot read (on opening, or
 * at any query) ends a plain fsck with that one problem; --repair moves it
 * aside and verifies again with a new, empty one, whose packs it then indexes.
 */
async function check(ws: Workspace, tracked: Tracked[], opts: FsckOptions): Promise<{ cache: LocalCache; report: VerifyReport; movedIndex?: string }> {
  try {
    const cache = await ws.cache();
    return { cache, report: verify(cache, opts) };
  } catch (err) {
    if (!isIndexDamaged(err)) throw err;
    const indexPath = LocalCache.indexPath(ws.cacheDir);
    const problem: Problem = { kind: 'damaged_index', object: indexPath, detail: errorMessage(err.cause ?? err), severity: 'damage' };
    await ws.closeCache().catch((e: unknown) => {
      if (!isIndexDamaged(e)) throw e;
    });
    if (!opts.repair) reportDamagedIndex(ws, tracked, problem, opts);
    const movedIndex = moveDamagedIndex(indexPath);
    const cache = await ws.cache();
    const report = verify(cache, opts);
    report.problems.unshift(problem);
    return { cache, report, movedIndex };
  }
}

function verify(cache: LocalCache, opts: FsckOptions): VerifyReport {
  const interactive = process.stderr.isTTY && !opts.json && !opts.quiet;
  const report = verifyCache(cache, (done, total) => {
    if (interactive) process.stderr.write(`\rchecking packs ${done}/${total}`);
  });
  if (interactive) process.stderr.write('\r\x1b[K');
  return report;
}

/**
 * Without an index no tracked data can be read, and the packs are not
 * checked: --repair checks them while it indexes them anew.
 */
function reportDamagedIndex(ws: Workspace, tracked: Tracked[], problem: Problem, opts: FsckOptions): never {
  const packs = new PackFiles(ws.cacheDir);
  const ids = packs.list();
  const packBytes = ids.reduce((n, id) => n + packs.size(id), 0);
  const affected = tracked.filter((t) => t.pointer).map((t) => t.dataPath);
  if (opts.json) {
    printJson({ packs: ids.length, packBytes, blobs: 0, manifests: 0, problems: [problem], affected, notInCache: [] });
  } else {
    info(opts, describe(problem));
    info(opts, `packs not checked: ${plural(ids.length, 'pack')} (${formatBytes(packBytes)}); \`dvx fsck --repair\` checks them as it indexes them anew`);
    if (affected.length) info(opts, `affected tracked paths:\n${affected.map((a) => `  ${a}`).join('\n')}`);
  }
  throw new DvxError('cache_damaged', `the cache index ${problem.object} is damaged`, `run \`dvx fsck --repair\` to move it aside and index the ${plural(ids.length, 'pack')} anew`);
}

function listIds(ids: readonly string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

/** Blobs the cache does not hold: --repair cannot bring them back, a remote or the original files can. */
function lostData(affected: readonly string[], incomplete: readonly string[], interruptedGc?: number): DvxError {
  const what = affected.length > 0 ? `the data of ${listIds(affected)}` : `blobs that ${plural(incomplete.length, 'manifest')} in it name`;
  // A gc killed halfway leaves manifests of data nothing needs whose chunks it already deleted: not a loss.
  if (affected.length === 0 && interruptedGc) {
    return new DvxError('cache_incomplete', `the cache lacks ${what}, no tracked path's; a \`dvx gc\` (pid ${interruptedGc}) was stopped before it finished, and these are likely what it was deleting`, 'run `dvx gc` to finish it, then `dvx fsck` again');
  }
  return new DvxError('cache_incomplete', `the cache lacks ${what}`, 'fetch it with `dvx pull`, or `dvx add` it again if the original files are still there');
}

function describe(p: Problem): string {
  // Its object is the manifest that names the blobs, not a blob.
  const label = p.kind === 'missing_blob' ? 'missing blobs of manifest' : p.kind.replace(/_/g, ' ');
  return `${p.severity === 'damage' ? 'DAMAGE' : 'note'}: ${label} ${p.object}: ${p.detail}`;
}

/** Tracked paths whose data needs a blob that is damaged or missing. */
function affectedPaths(cache: LocalCache, tracked: Tracked[], bad: Set<string>): string[] {
  if (bad.size === 0) return [];
  const out: string[] = [];
  const fileBad = (manifest: string): boolean => {
    if (bad.has(manifest)) return true;
    try {
      return cache.fileManifest(manifest).chunks.some((c) => bad.has(c.id));
    } catch {
      return false;
    }
  };
  for (const t of tracked) {
    if (!t.pointer) continue;
    try {
      if (t.pointer.type === 'file') {
        if (fileBad(t.pointer.manifest)) out.push(t.dataPath);
      } else if (bad.has(t.pointer.manifest) || cache.treeManifest(t.pointer.manifest).entries.some((e) => fileBad(e.manifest))) {
        out.push(t.dataPath);
      }
    } catch {
      // manifest not in cache: listed as not in cache
    }
  }
  return out;
}
