import type { Dataset } from '../../core/protocol.ts';
import type { Store } from './store.ts';

/**
 * What a dataset version cost to store: the bytes of its chunks that the
 * previous version of the same path did not have (docs/protocol.md "Dataset
 * history", `newBytes`). Computed once, when the commit is recorded, from the
 * manifests; a directory is the union of its files' chunks.
 */
const PARALLEL_READS = 16;
const RECENT = 24;

type ChunkSet = Map<string, number>;

export class VersionBytes {
  // A chain of commits changing one file asks for version k as "next", then as "prev": keep the last few
  // (enough for the versions asked for by the commit recorder's reads in flight).
  private readonly recent = new Map<string, Promise<ChunkSet>>();

  constructor(private readonly store: Store) {}

  /** newBytes of `next` after `prev` (undefined: the first version, which costs its whole size). */
  async newBytes(prev: Dataset | undefined, next: Dataset): Promise<number> {
    if (!prev) return next.size;
    if (prev.manifest === next.manifest) return 0;
    if (next.type === 'dir' && prev.type === 'dir') return this.dirNewBytes(prev, next);
    const [before, after] = await Promise.all([this.chunks(prev), this.chunks(next)]);
    return sumMissing(after, before);
  }

  /** Files whose manifest the previous tree had cost nothing; only the others are decoded. */
  private async dirNewBytes(prev: Dataset, next: Dataset): Promise<number> {
    const [a, b] = await Promise.all([this.store.treeManifest(prev.manifest), this.store.treeManifest(next.manifest)]);
    const had = new Set(a.entries.map((e) => e.manifest));
    const fresh = [...new Set(b.entries.map((e) => e.manifest).filter((m) => !had.has(m)))];
    if (fresh.length === 0) return 0;
    const [before, after] = await Promise.all([this.chunks(prev), this.fileChunks(fresh)]);
    return sumMissing(after, before);
  }

  private chunks(d: Dataset): Promise<ChunkSet> {
    let p = this.recent.get(d.manifest);
    if (!p) {
      p = d.type === 'file' ? this.fileChunks([d.manifest]) : this.store.treeManifest(d.manifest).then((t) => this.fileChunks([...new Set(t.entries.map((e) => e.manifest))]));
      this.recent.set(d.manifest, p);
      if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!);
    }
    return p;
  }

  private async fileChunks(manifests: readonly string[]): Promise<ChunkSet> {
    const set: ChunkSet = new Map();
    for (let i = 0; i < manifests.length; i += PARALLEL_READS) {
      const batch = await Promise.all(manifests.slice(i, i + PARALLEL_READS).map((m) => this.store.fileManifest(m)));
      for (const m of batch) for (const c of m.chunks) set.set(c.id, c.length);
    }
    return set;
  }
}

function sumMissing(after: ChunkSet, before: ChunkSet): number {
  let n = 0;
  for (const [id, length] of after) if (!before.has(id)) n += length;
  return n;
}
