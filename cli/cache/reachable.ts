import { DvxError } from '../../core/errors.ts';
import type { FileManifest } from '../../core/file-manifest.ts';
import type { Pointer } from '../../core/pointer.ts';
import type { TreeManifest } from '../../core/tree-manifest.ts';
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
}

export type Root = { path: string; pointer: Pick<Pointer, 'type' | 'manifest'> };

export function reachableFrom(cache: LocalCache, roots: readonly Root[]): Reachable {
  const r: Reachable = { trees: new Map(), files: new Map(), chunks: new Map(), missingManifests: new Map() };
  const addFile = (id: string, path: string) => {
    if (r.files.has(id) || r.missingManifests.has(id)) return;
    if (!cache.has(id)) {
      r.missingManifests.set(id, path);
      return;
    }
    const m = cache.fileManifest(id);
    r.files.set(id, m);
    for (const c of m.chunks) r.chunks.set(c.id, c.length);
  };
  for (const { path, pointer } of roots) {
    if (pointer.type === 'file') {
      addFile(pointer.manifest, path);
      continue;
    }
    if (r.trees.has(pointer.manifest) || r.missingManifests.has(pointer.manifest)) continue;
    if (!cache.has(pointer.manifest)) {
      r.missingManifests.set(pointer.manifest, path);
      continue;
    }
    const tree = cache.treeManifest(pointer.manifest);
    r.trees.set(pointer.manifest, tree);
    for (const e of tree.entries) addFile(e.manifest, `${path}/${e.path}`);
  }
  return r;
}

/** Throws unless the cache holds every manifest and chunk the roots need. */
export function assertComplete(cache: LocalCache, r: Reachable): void {
  if (r.missingManifests.size > 0) {
    const [, path] = r.missingManifests.entries().next().value as [string, string];
    throw new DvxError('not_in_cache', `the data of ${path}${r.missingManifests.size > 1 ? ` (and ${r.missingManifests.size - 1} more)` : ''} is not in the local cache`, 'run `dvx fetch` first, or `dvx add` the data again');
  }
  const locations = cache.index.locateMany([...r.chunks.keys()]);
  const missing = locations.filter((l) => !l).length;
  if (missing > 0) throw new DvxError('not_in_cache', `${missing} chunks needed by these pointers are not in the local cache`, 'run `dvx fsck` to see what is damaged, then `dvx fetch` or `dvx add` the data again');
}
