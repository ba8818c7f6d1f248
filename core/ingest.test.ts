import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { cutPointsReference, type ChunkerParams } from './chunker.ts';
import { Ingestor, iterableSource, type ByteSource } from './ingest.ts';
import { blake3Hex, loadHashing } from './hash.ts';
import { HashPool } from './hash-pool.ts';
import { seededBytes } from '../test/support/prng.ts';

const P: ChunkerParams = { min: 256, avg: 1024, max: 4096 };

/** A source that returns reads of the given sizes (cycling), however large the buffer offered. */
function splitSource(data: Uint8Array, sizes: number[]): ByteSource {
  let at = 0;
  let k = 0;
  return {
    read(into) {
      const n = Math.min(into.length, data.length - at, sizes[k++ % sizes.length]!);
      into.set(data.subarray(at, at + n));
      at += n;
      return n;
    },
  };
}

async function run(ing: Ingestor, source: ByteSource) {
  const seen: { id: string; bytes: Buffer }[] = [];
  const result = await ing.ingest(source, (chunks) => {
    for (const c of chunks) seen.push({ id: c.id, bytes: Buffer.from(c.data) });
  });
  return { result, seen };
}

test('property: cut points, ids and sha256 do not depend on how the input is split into reads', async () => {
  await loadHashing();
  // Small blocks force chunks across block boundaries (carry-over).
  const ing = await Ingestor.create({ params: P, blockBytes: 5000, pool: null });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 60_000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 }), async (seed, len, sizes) => {
      const data = seededBytes(seed, len);
      const { result, seen } = await run(ing, splitSource(data, sizes));
      const cuts = cutPointsReference(data, P);
      assert.deepEqual(result.chunks.refs().map((c) => c.length), cuts.map((c, i) => c - (i ? cuts[i - 1]! : 0)));
      assert.equal(result.size, len);
      assert.equal(result.sha256, createHash('sha256').update(data).digest('hex'));
      let at = 0;
      for (const [i, s] of seen.entries()) {
        assert.equal(s.id, blake3Hex(s.bytes));
        assert.equal(s.id, result.chunks.id(i));
        assert.deepEqual(s.bytes, data.subarray(at, at + s.bytes.length));
        at += s.bytes.length;
      }
    }),
    { numRuns: 150 },
  );
});

test('worker-pool hashing gives the same chunks as inline hashing, across many blocks', async () => {
  const pool = new HashPool(2);
  try {
    const data = seededBytes(7, 6 << 20);
    const a = await run(await Ingestor.create({ params: P, blockBytes: 1 << 20, pool }), splitSource(data, [777_777]));
    const b = await run(await Ingestor.create({ params: P, blockBytes: 1 << 20, pool: null }), splitSource(data, [1 << 20]));
    assert.equal(a.result.sha256, b.result.sha256);
    assert.deepEqual(a.result.chunks.entries(), b.result.chunks.entries());
    assert.equal(a.seen.length, b.seen.length);
  } finally {
    await pool.close();
  }
});

test('iterableSource adapts streams with empty and odd-sized pieces', async () => {
  const data = seededBytes(3, 50_000);
  async function* pieces() {
    for (let i = 0; i < data.length; i += 3333) {
      yield new Uint8Array(0);
      yield data.subarray(i, i + 3333);
    }
  }
  const ing = await Ingestor.create({ params: P, blockBytes: 8192, pool: null });
  const { result } = await run(ing, iterableSource(pieces()));
  assert.equal(result.sha256, createHash('sha256').update(data).digest('hex'));
});

test('an error from the sink stops ingest and the ingestor stays usable', async () => {
  const ing = await Ingestor.create({ params: P, blockBytes: 4096, pool: null });
  await assert.rejects(
    ing.ingest(splitSource(seededBytes(1, 40_000), [4096]), () => {
      throw new Error('disk full');
    }),
    /disk full/,
  );
  const { result } = await run(ing, splitSource(seededBytes(1, 1000), [1000]));
  assert.equal(result.size, 1000);
});
