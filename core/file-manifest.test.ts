import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFileManifest, encodeFileManifest, fileManifestId, type FileManifest } from './file-manifest.ts';
import { blake3Hex, EMPTY_SHA256, loadHashing } from './hash.ts';
import { FormatError } from './errors.ts';
import { fuzzDecoder } from '../test/support/fuzz.ts';

const chunker = { min: 64, avg: 256, max: 1024 };
const id = (n: number) => n.toString(16).padStart(64, '0');
const sample: FileManifest = { chunker, size: 1500, sha256: id(0xabc), chunks: [{ id: id(1), length: 1000 }, { id: id(2), length: 400 }, { id: id(3), length: 100 }] };

before(loadHashing);

test('round trip and id', () => {
  const bytes = encodeFileManifest(sample);
  assert.equal(bytes.length, 64 + 36 * 3);
  assert.deepEqual(decodeFileManifest(bytes), sample);
  assert.equal(fileManifestId(bytes), blake3Hex(bytes));
  const empty = { chunker, size: 0, sha256: EMPTY_SHA256, chunks: [] };
  assert.deepEqual(decodeFileManifest(encodeFileManifest(empty)), empty);
});

test('rejects values the chunker cannot produce', () => {
  assert.throws(() => encodeFileManifest({ ...sample, size: 1499 }), /sum to 1500/);
  assert.throws(() => encodeFileManifest({ ...sample, chunks: [{ id: id(1), length: 2000 }] , size: 2000 }), /length 2000/);
  // a non-final chunk at or below min
  assert.throws(() => encodeFileManifest({ ...sample, chunks: [{ id: id(1), length: 64 }, { id: id(2), length: 10 }], size: 74 }), /length 64/);
  assert.throws(() => encodeFileManifest({ ...sample, sha256: 'ABC' }), FormatError);
});

test('decoder errors say what is wrong', () => {
  const bytes = encodeFileManifest(sample);
  assert.throws(() => decodeFileManifest(bytes.subarray(0, 70)), /file manifest: .*(truncated|bytes of entries)/);
  const v2 = Buffer.from(bytes);
  v2[4] = 2;
  assert.throws(() => decodeFileManifest(v2), /unsupported version 2/);
});

test('fuzz: any input is rejected with a FormatError or decodes canonically', () => {
  fuzzDecoder({
    decode: decodeFileManifest,
    encode: encodeFileManifest,
    samples: [encodeFileManifest(sample), encodeFileManifest({ chunker, size: 0, sha256: EMPTY_SHA256, chunks: [] })],
  });
});

test('encoding from raw entries (ChunkList) equals encoding from objects', async () => {
  const { ChunkList } = await import('./chunk-list.ts');
  const list = new ChunkList();
  for (const c of sample.chunks) list.push(Buffer.from(c.id, 'hex'), c.length);
  const { encodeFileManifestEntries } = await import('./file-manifest.ts');
  assert.deepEqual(encodeFileManifestEntries(sample, list.entries()), encodeFileManifest(sample));
  assert.deepEqual(list.refs(), sample.chunks);
  assert.throws(() => encodeFileManifestEntries({ ...sample, size: 1 }, list.entries()), /sum to 1500/);
});
