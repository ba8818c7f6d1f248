import { DvxError } from '../../core/errors.ts';
import type { FileManifest } from '../../core/file-manifest.ts';
import type { Pointer } from '../../core/pointer.ts';
import type { TreeManifest } from '../../core/tree-manifest.ts';
import type { BlobLocation } from './cache-index.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * Everything a set of pointers needs, as far as the cache can tell: their
 * manifests (trees, then file manifests) and chunks. Manifests the cache lacks
 * are listed, not fetched: push refuses them, fetch fetches them.
 */
export interface Reachable {
  readonly trees: Map<string, TreeManifest>;
  readonly files: Map<string, FileManifest>;
  /** chunk id → length */
  readonly chunks: Map<string, number>;
  /** manifest ids not in the cache, with a path that needs each */
  readonly missingManifests: Map<string, string>;
  /**
   * Cache locations of the manifests found, and (after assertComplete) of the
   * chunks: looked up once, so an upload can plan its packs without asking the
   * index again.
   */
  readonly locations: Map<string, BlobLocation>;
}

export type Root = { path: string; pointer: Pick<Pointer, 'type' | 'manifest'> };

export function reachableFrom(cache: LocalCache, roots: readonly Root[]): Reachable {
  const r: Reachable = { trees: new Map(), files: new Map(), chunks: new Map(), missingManifests: new Map(), locations: new Map() };
  // Manifests are looked up in batches (one index pass each), and every id
  // once however many roots or trees name it.
  const addFiles = (wanted: Map<string, string>) => {
    const ids = [...wanted.keys()].filter((id) => !r.files.has(id) && !r.missingManifests.has(id));
    const locs = cache.index.locateMany(ids);
    ids.forEach((id, i) => {
      const loc = locs[i];
      if (!loc) {
        r.missingManifests.set(id, wanted.get(id)!);
        return;
      }
      const m = cache.fileManifestAt(id, loc);
      r.files.set(id, m);
      r.locations.set(id, loc);
      for (const c of m.chunks) r.chunks.set(c.id, c.length);
    });
  };
  const fileRoots = new Map<string, string>();
  const treeRoots = new Map<string, string>();
  for (const { path, pointer } of roots) {
    const into = pointer.type === 'file' ? fileRoots : treeRoots;
    if (!into.has(pointer.manifest)) into.set(pointer.manifest, path);
  }
  addFiles(fileRoots);
  const treeIds = [...treeRoots.keys()];
  const treeLocs = cache.index.locateMany(treeIds);
  treeIds.forEach((id, i) => {
    const path = treeRoots.get(id)!;
    const loc = treeLocs[i];
    if (!loc) {
      r.missingManifests.set(id, path);
      return;
    }
    const tree = cache.treeManifestAt(id, loc);
    r.trees.set(id, tree);
    r.locations.set(id, loc);
    const entries = new Map<string, string>();
    for (const e of tree.entries) if (!entries.has(e.manifest)) entries.set(e.manifest, `${path}/${e.path}`);
    addFiles(entries);
  });
  return r;
}

/** Whether the cache holds every manifest and chunk the roots need; a manifest it cannot read counts as missing. */
export function isComplete(cache: LocalCache, roots: readonly Root[]): boolean {
  try {
    const r = reachableFrom(cache, roots);
    return r.missingManifests.size === 0 && cache.index.locateMany([...r.chunks.keys()]).every(Boolean);
  } catch (err) {
    if (err instanceof DvxError) return false;
    throw err;
  }
}

/** Throws unless the cache holds every manifest and chunk the roots need; records the chunks' locations in `r.locations`. */
export function assertComplete(cache: LocalCache, r: Reachable): void {
  if (r.missingManifests.size > 0) {
    const [, path] = r.missingManifests.entries().next().value as [string, string];
    throw new DvxError('not_in_cache', `the data of ${path}${r.missingManifests.size > 1 ? ` (and ${r.missingManifests.size - 1} more)` : ''} is not in the local cache`, 'run `dvx fetch` first, or `dvx add` the data again');
  }
  const ids = [...r.chunks.keys()];
  const locations = cache.index.locateMany(ids);
  let missing = 0;
  ids.forEach((id, i) => {
    const loc = locations[i];
    if (loc) r.locations.set(id, loc);
    else missing++;
  });
  if (missing > 0) throw new DvxError('not_in_cache', `${missing} chunks needed by these pointers are not in the local cache`, 'run `dvx fsck` to see what is damaged, then `dvx fetch` or `dvx add` the data again');
}
