import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { BlobType, decodePack, entryIdBytes, PackBuilder, PACK_TRAILER_BYTES, verifyPack, verifyPackBlobs } from './pack.ts';
import { blake3Hex, loadHashing } from './hash.ts';
import { FormatError } from './errors.ts';
import { fuzzDecoder } from '../test/support/fuzz.ts';
import { seededBytes } from '../test/support/prng.ts';

before(loadHashing);

function buildPack(blobs: Buffer[]): Buffer {
  const b = new PackBuilder();
  for (const [i, blob] of blobs.entries()) b.add(blake3Hex(blob), i % 2 ? BlobType.fileManifest : BlobType.chunk, blob.length);
  const { tail } = b.finish();
  return Buffer.concat([...blobs, tail]);
}

test('ids given as bytes encode the same index as ids given as hex, and read back as bytes', () => {
  const blobs = [seededBytes(4, 700), seededBytes(5, 3), seededBytes(6, 2000), seededBytes(7, 64)];
  const byHex = new PackBuilder();
  const byKey = new PackBuilder();
  blobs.forEach((blob, i) => {
    const id = blake3Hex(blob);
    byHex.add(id, BlobType.chunk, blob.length);
    // only some entries with bytes: the two forms mix within one pack
    byKey.add(id, BlobType.chunk, blob.length, i % 2 ? undefined : Buffer.from(id, 'hex'));
  });
  const a = byHex.finish();
  const b = byKey.finish();
  assert.deepEqual(b.tail, a.tail);
  assert.equal(b.index.packId, a.index.packId);
  blobs.forEach((blob, i) => assert.equal(entryIdBytes(b.tail, i).toString('hex'), blake3Hex(blob)));
  assert.throws(() => entryIdBytes(b.tail.subarray(0, 44 * 4), 4), RangeError);
  assert.throws(() => new PackBuilder().add('a'.repeat(64), BlobType.chunk, 1, new Uint8Array(31)), /31 bytes/);
});

test('a pack describes itself and verifies', () => {
  const blobs = [seededBytes(1, 1000), seededBytes(2, 10), seededBytes(3, 5000)];
  const pack = buildPack(blobs);
  const index = verifyPack(pack);
  assert.equal(index.entries.length, 3);
  assert.equal(index.entries[2]!.offset, 1010);
  assert.equal(index.packBytes, pack.length);
  assert.equal(index.dataBytes, 6010);
  assert.equal(index.packId, blake3Hex(pack.subarray(6010, pack.length - PACK_TRAILER_BYTES)));
  assert.equal(index.entries[1]!.type, BlobType.fileManifest);
  assert.throws(() => verifyPack(pack, 'f'.repeat(64)), /not the pack id/);
});

test('one flipped bit anywhere is detected', () => {
  const pack = buildPack([seededBytes(4, 3000), seededBytes(5, 3000)]);
  for (const at of [0, 2999, 3000, 5999, 6000, pack.length - 13, pack.length - 5, pack.length - 1]) {
    const bad = Buffer.from(pack);
    bad[at]! ^= 0x10;
    assert.throws(() => verifyPack(bad, decodePack(pack).packId), FormatError, `bit flip at ${at}`);
  }
});

test('verifyPackBlobs names the damaged blob', () => {
  const blobs = [seededBytes(6, 100), seededBytes(7, 100)];
  const pack = buildPack(blobs);
  const index = decodePack(pack);
  pack[150]! ^= 1;
  const damage = verifyPackBlobs(pack, index);
  assert.equal(damage.length, 1);
  assert.equal(damage[0]!.id, blake3Hex(blobs[1]!));
});

test('builder refuses duplicates and respects the target size', () => {
  const b = new PackBuilder();
  b.add('a'.repeat(64), BlobType.chunk, 10);
  assert.throws(() => b.add('a'.repeat(64), BlobType.chunk, 10), /twice/);
  assert.equal(b.fits(1 << 20), true);
  assert.equal(b.fits(64 << 20), false);
});

test('fuzz: any input is rejected with a FormatError or decodes canonically', () => {
  const samples = [buildPack([seededBytes(8, 40), seededBytes(9, 7)]), buildPack([seededBytes(10, 3)])];
  fuzzDecoder({
    // As a whole pack: index decode plus every blob hash.
    decode: (bytes) => {
      verifyPack(bytes);
      return Buffer.from(bytes);
    },
    encode: (b) => b,
    samples,
  });
});
