import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PackIndex } from '../../core/pack.ts';
import { CacheIndex } from './cache-index.ts';

const id = () => randomBytes(32).toString('hex');

function fakePack(n: number, typeEvery = 0): PackIndex {
  let offset = 0;
  const entries = Array.from({ length: n }, (_, i) => {
    const e = { id: id(), offset, length: 100 + (i % 7), type: (typeEvery && i % typeEvery === 0 ? 2 : 1) as 1 | 2 };
    offset += e.length;
    return e;
  });
  return { packId: id(), entries, dataBytes: offset, packBytes: offset + 64 };
}

// locateMany reads runs of a pack ahead of the wanted ids; whatever the order
// of the ids, its answers must be exactly locate()'s, one by one.
test('locateMany agrees with locate for ids in any order, with gaps, repeats and unknown ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-cache-index-'));
  const index = new CacheIndex(join(dir, 'index.sqlite'));
  try {
    const packs = [fakePack(9000, 3), fakePack(50), fakePack(5000)];
    for (const p of packs) index.addPack(p);
    const all = packs.flatMap((p) => p.entries.map((e) => e.id));
    const unknown = Array.from({ length: 20 }, id);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(all),
          fc.shuffledSubarray([...all.slice(0, 300), ...unknown]),
          fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 400 }).map((xs) => xs.map((i) => all[i]!)),
          fc.tuple(fc.integer({ min: 0, max: all.length - 1 }), fc.integer({ min: 0, max: 6000 })).map(([a, n]) => all.slice(a, a + n)),
        ),
        (ids) => {
          const got = index.locateMany(ids);
          assert.equal(got.length, ids.length);
          ids.forEach((x, i) => assert.deepEqual(got[i], index.locate(x)));
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    index.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Two processes adding to one cache at once (parallel `dvx add`s): each has its
// own Bloom filter, and the one saved last must not pass for complete. It did:
// the filter recorded how many packs the index held, which matched, and the
// other writer's blobs answered "not stored" from then on (stored again on
// every add, reported missing by fsck).
test('has() never misses a stored blob after two writers added packs at once, whichever saved its filter last', () => {
  for (const lastToClose of ['a', 'b'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'dvx-cache-index-'));
    const path = join(dir, 'index.sqlite');
    try {
      const first = fakePack(300);
      const seed = new CacheIndex(path);
      seed.addPack(first);
      seed.close();
      const a = new CacheIndex(path);
      const b = new CacheIndex(path);
      // both load the filter, as a writer does before its first chunk
      assert.ok(a.has(first.entries[0]!.id) && b.has(first.entries[0]!.id));
      const [pa, pb, pa2] = [fakePack(400), fakePack(500), fakePack(10)];
      a.addPack(pa);
      b.addPack(pb);
      assert.ok(b.has(pa.entries[0]!.id), 'b, which wrote after a, sees what a added');
      // a learns of b's blobs at its next write at the latest (until then a blob of b's may be stored twice, never lost)
      a.addPack(pa2);
      assert.ok(a.has(pb.entries[0]!.id), 'a sees what b added');
      for (const x of lastToClose === 'a' ? [b, a] : [a, b]) x.close();
      const c = new CacheIndex(path);
      try {
        for (const p of [first, pa, pb, pa2]) for (const e of p.entries) assert.ok(c.has(e.id), `${lastToClose} closed last: blob of ${p === pa ? 'a' : p === pb ? 'b' : 'the seed'} missed`);
        assert.equal(c.has(id()), false);
      } finally {
        c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
