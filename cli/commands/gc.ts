import { resolve } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { GitHistory } from '../history/git-history.ts';
import { invalidPointerWarner } from '../history/invalid-pointers.ts';
import { collectGarbage } from '../cache/collect.ts';
import { indexLeftoverPacks } from '../cache/pack-import.ts';
import { formatBytes, info, plural, printJson, warn, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';
import type { Pointer } from '../../core/pointer.ts';
import { rootCommits } from '../history/gc-roots.ts';

interface GcOptions extends OutputOptions {
  dryRun?: boolean;
  sharedCache?: boolean;
}

/**
 * `dvx gc`: drop cache data that nothing git can bring back needs. Kept:
 * what any commit names that is reachable from a ref (branches, tags,
 * remote-tracking branches), HEAD, ORIG_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD,
 * REVERT_HEAD or a stash (../history/gc-roots.ts); the pointers staged in
 * git's index; and the working tree's pointers. Everything such a commit names
 * stays, whether or not it was pushed: `git stash pop`, `git reset ORIG_HEAD`,
 * finishing a merge or checking out a fetched branch after a gc must give back
 * data, not pointers to nothing. In a shallow clone, the commits before its
 * boundary are not there to name anything.
 */
export async function run(opts: GcOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    if (!opts.sharedCache) refuseSharedCache(ws);
    const cache = await ws.cache({ exclusive: true });
    // Packs a killed command published but never indexed may hold the manifests of data to keep.
    if (!opts.dryRun) indexLeftoverPacks(cache);
    // A bad pointer file in an old commit names no data, so there is nothing to keep for it; it must not stop gc for good.
    const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
    const warnInvalid = invalidPointerWarner('it names no data, so gc keeps nothing for it');
    const tips = rootCommits(ws.root);
    // Every pointer of every reachable commit is in that commit's changes
    // against its first parent, or in an ancestor's: the union covers them all.
    const pointers = new Map<string, Pick<Pointer, 'type' | 'manifest'>>();
    // An invalid file does not break that: a valid pointer after it differs from it, so is in its commit's changes.
    for (const c of await history.ancestry(tips)) {
      const changes = await history.changes(c.parents[0], c.sha);
      for (const p of changes.set.values()) pointers.set(p.manifest, p);
      for (const bad of changes.invalid.values()) warnInvalid(bad);
    }
    for (const t of ws.tracked()) {
      if (t.pointer) pointers.set(t.pointer.manifest, t.pointer);
      else if (t.error) warn(`${t.error.message}: it names no data, so gc keeps nothing for it beyond what commits name`);
    }
    // Staged and then changed again, a pointer is in the index only: the next commit takes that one.
    const staged = history.indexPointers();
    for (const { pointer } of staged.pointers) pointers.set(pointer.manifest, pointer);
    for (const bad of staged.invalid) warn(`${bad.pointerPath} as staged in git's index is not a valid pointer (${bad.reason}); it names no data, so gc keeps nothing for it`);

    const keep = new Set<string>();
    for (const p of pointers.values()) {
      keep.add(p.manifest);
      try {
        const files = p.type === 'file' ? [p.manifest] : cache.treeManifest(p.manifest).entries.map((e) => e.manifest);
        for (const f of files) {
          keep.add(f);
          for (const ch of cache.fileManifest(f).chunks) keep.add(ch.id);
        }
      } catch {
        // not in this cache: nothing here to keep
      }
    }
    const r = await collectGarbage(cache, keep, { dryRun: opts.dryRun });
    if (r.damagedBlobs.length > 0) warn(`${plural(r.damagedBlobs.length, 'blob')} to keep no longer matched ${r.damagedBlobs.length === 1 ? 'its' : 'their'} id when ${r.damagedBlobs.length === 1 ? 'its' : 'their'} pack was rewritten, and ${r.damagedBlobs.length === 1 ? 'was' : 'were'} dropped (first ${r.damagedBlobs[0]}): run \`dvx fsck\` to see which tracked paths lost data`);
    if (opts.json) return printJson({ ...r, keptBlobs: keep.size, dryRun: !!opts.dryRun });
    const verb = opts.dryRun ? 'would free' : 'freed';
    info(opts, r.deletedBlobs === 0 && r.removedTemp === 0 ? `nothing to collect: every blob in the cache is needed (${plural(pointers.size, 'dataset version')})` : `${verb} ${formatBytes(r.freedBytes)}: ${plural(r.deletedBlobs, 'unused blob')}, ${plural(r.deletedPacks, 'pack')} deleted, ${plural(r.rewrittenPacks, 'pack')} rewritten`);
  } finally {
    await ws.close();
  }
}

/**
 * A cache that cache.dir puts elsewhere may serve other clones, whose commits
 * this one cannot see: what only they name (committed, stashed or staged
 * there, never pushed) would be deleted, and the server may not have it.
 */
function refuseSharedCache(ws: Workspace): void {
  if (!ws.config.cache?.dir || resolve(ws.cacheDir) === resolve(ws.dvxDir, 'cache')) return;
  throw new DvxError(
    'shared_cache',
    `the cache ${ws.cacheDir} is set by cache.dir, so other clones may share it: gc here sees only this clone's commits, and would delete data that only theirs name`,
    'run `dvx push` in every other clone that uses it (what gc deletes that they need, they can then fetch again), then `dvx gc --shared-cache`',
  );
}
