import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { checkChunkerParams, chunkerMasks, cutPointsReference, DEFAULT_CHUNKER, type ChunkerParams } from './chunker.ts';
import { DATA_OFFSET, WasmChunker } from './fastcdc.ts';
import { GEAR } from './gear.ts';
import { seededBytes } from '../test/support/prng.ts';

// Frozen test vectors: changing any of these moves every cut point and breaks
// dedup against all stored data. Change only with a new chunker algorithm id.
const INPUT_SHA256 = '13b0cef3218c930bab0a33b8741c40e4dc938336d8b7b961bad8e4d265a8c2eb';
const CUTS_16K = [16590, 45517, 62992, 76772, 107702, 124115, 142152, 159964, 175831, 195877, 214402, 232986, 239098, 273954, 292644, 309947, 328692, 343994, 366400, 371629, 391142, 412237, 430629, 445443, 463478, 477631, 496612, 507631, 518700, 535604, 558460, 576442, 602348, 619683, 642744, 658717, 675415, 694781, 711511, 731460, 741820, 758626, 776728, 784810, 803395, 822174, 847295, 864452, 884939, 890645, 907381, 924582, 935686, 959298, 978263, 1006087, 1025948, 1046509, 1048576];
const CUTS_256 = [163, 446, 736, 1138, 1367, 1591, 1859, 2200, 2628, 2990, 3267, 3596, 3823, 3940, 4224, 4376, 4526, 4700, 4958, 5221, 5494, 5772, 5946, 6246, 6556, 6830, 7147, 7233, 7600, 7720, 8045, 8456, 8635, 8944, 9310, 9594, 9871, 10416, 10812, 11117, 11210, 11462, 11762, 12019, 12334, 12633, 12725, 12878, 13164, 13461, 13776, 14058, 14349, 14697, 15015, 15351, 15618, 15978, 16285, 16452, 16590, 16873, 17123, 17441, 17706, 18092, 18288, 18470, 18736, 18900, 19255, 19618, 19884, 20000];

function wasmCuts(data: Uint8Array, p: ChunkerParams): number[] {
  const w = new WasmChunker(p, data.length);
  w.bytes.set(data, DATA_OFFSET);
  const cuts: number[] = [];
  const end = DATA_OFFSET + data.length;
  for (let s = DATA_OFFSET; s < end; ) {
    s = w.findCut(s, end, true);
    cuts.push(s - DATA_OFFSET);
  }
  return cuts;
}

test('gear table is frozen', () => {
  assert.deepEqual(Array.from(GEAR.slice(0, 4)), [0x84dd676f, 0xd2ce81c8, 0x88ac2a5c, 0x6eb2127e]);
  assert.equal(createHash('sha256').update(Buffer.from(GEAR.buffer)).digest('hex'), '5cb55dc8e2d8a0374b6b26839acc2817e8e89d02349222537f16165f515e4cb9');
});

test('masks: log2(avg)+2 and log2(avg)-2 bits, never bit 31', () => {
  const { maskS, maskL } = chunkerMasks({ min: 4096, avg: 16384, max: 65536 });
  const bits = (m: number) => (m >>> 0).toString(2).replace(/0/g, '').length;
  assert.equal(bits(maskS), 16);
  assert.equal(bits(maskL), 12);
  assert.equal(maskS >>> 31, 0);
  assert.equal(maskL >>> 31, 0);
});

test('test vectors: reference and WebAssembly produce the frozen cut points', () => {
  const data = seededBytes(1, 1 << 20);
  assert.equal(createHash('sha256').update(data).digest('hex'), INPUT_SHA256);
  const p16: ChunkerParams = { min: 4096, avg: 16384, max: 65536 };
  const p256: ChunkerParams = { min: 64, avg: 256, max: 1024 };
  assert.deepEqual(cutPointsReference(data, p16), CUTS_16K);
  assert.deepEqual(wasmCuts(data, p16), CUTS_16K);
  assert.deepEqual(cutPointsReference(data.subarray(0, 20000), p256), CUTS_256);
  assert.deepEqual(wasmCuts(data.subarray(0, 20000), p256), CUTS_256);
});

test('edge inputs: empty, below min, exactly max, all zeros', () => {
  const p: ChunkerParams = { min: 64, avg: 256, max: 1024 };
  assert.deepEqual(cutPointsReference(new Uint8Array(0), p), []);
  assert.deepEqual(cutPointsReference(new Uint8Array(10), p), [10]);
  // Constant input never matches a mask: every chunk is max long.
  assert.deepEqual(cutPointsReference(new Uint8Array(3000), p), [1024, 2048, 3000]);
  assert.deepEqual(wasmCuts(new Uint8Array(3000), p), [1024, 2048, 3000]);
});

const paramsArb = fc.integer({ min: 8, max: 14 }).chain((bits) => {
  const avg = 2 ** bits;
  return fc.record({
    min: fc.integer({ min: 64, max: avg - 1 }),
    avg: fc.constant(avg),
    max: fc.integer({ min: avg + 1, max: avg * 8 }),
  });
});

test('property: the WebAssembly path agrees with the reference on any input and parameters', () => {
  fc.assert(
    fc.property(paramsArb, fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 300_000 }), (p, seed, len) => {
      const data = seededBytes(seed, len);
      // Low-entropy stretches make masks match at the very first positions too.
      if (seed % 3 === 0) data.fill(seed & 0xff, len >> 2, len >> 1);
      assert.deepEqual(wasmCuts(data, p), cutPointsReference(data, p));
    }),
    { numRuns: 60 },
  );
});

test('parameters are validated with a message naming the problem', () => {
  assert.doesNotThrow(() => checkChunkerParams(DEFAULT_CHUNKER));
  assert.throws(() => checkChunkerParams({ min: 100, avg: 3000, max: 9000 }), /power of two/);
  assert.throws(() => checkChunkerParams({ min: 4096, avg: 4096, max: 9000 }), /min < avg < max/);
  assert.throws(() => checkChunkerParams({ min: 10, avg: 4096, max: 9000 }), /at least 64/);
  assert.throws(() => checkChunkerParams({ min: 64, avg: 4096, max: 1e9 }), /at most/);
});
