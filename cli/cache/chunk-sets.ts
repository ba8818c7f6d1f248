import type { Pointer } from '../../core/pointer.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * The chunks (id → length) a pointer's data is made of, when its manifests are
 * in the cache; undefined otherwise. "New bytes" of a version are the bytes of
 * its chunks that the previous version did not have: what it cost to store.
 */
export function chunkSet(cache: LocalCache, p: Pick<Pointer, 'type' | 'manifest'>): Map<string, number> | undefined {
  try {
    const out = new Map<string, number>();
    const files = p.type === 'file' ? [p.manifest] : cache.treeManifest(p.manifest).entries.map((e) => e.manifest);
    for (const f of files) for (const c of cache.fileManifest(f).chunks) out.set(c.id, c.length);
    return out;
  } catch {
    return undefined;
  }
}

export function newBytes(cache: LocalCache, prev: Pick<Pointer, 'type' | 'manifest'> | undefined, cur: Pick<Pointer, 'type' | 'manifest' | 'size'>): number | undefined {
  const now = chunkSet(cache, cur);
  if (!now) return undefined;
  const before = prev ? chunkSet(cache, prev) : new Map<string, number>();
  if (!before) return undefined;
  let n = 0;
  for (const [id, len] of now) if (!before.has(id)) n += len;
  return n;
}
