import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTreeManifest, encodeTreeManifest, MODE_EXEC, MODE_FILE, treeSha256, treeSize, type TreeManifest } from './tree-manifest.ts';
import { loadHashing, sha256Hex } from './hash.ts';
import { fuzzDecoder } from '../test/support/fuzz.ts';

const id = (n: number) => n.toString(16).padStart(64, '0');
const entry = (path: string, n: number, mode = MODE_FILE) => ({ path, mode, size: n * 10, sha256: id(n), manifest: id(n + 1000) });
const sample: TreeManifest = { entries: [entry('A.txt', 1), entry('a/b/c.csv', 2, MODE_EXEC), entry('a/b.csv', 3), entry('é/ü.bin', 4)].sort((x, y) => Buffer.compare(Buffer.from(x.path), Buffer.from(y.path))) };

before(loadHashing);

test('round trip, size and sha256', () => {
  const bytes = encodeTreeManifest(sample);
  assert.deepEqual(decodeTreeManifest(bytes), sample);
  assert.equal(treeSize(sample), 100);
  assert.equal(treeSha256(bytes), sha256Hex(bytes));
  assert.deepEqual(decodeTreeManifest(encodeTreeManifest({ entries: [] })), { entries: [] });
});

test('canonical order is by UTF-8 bytes, strictly ascending', () => {
  assert.throws(() => encodeTreeManifest({ entries: [entry('b', 1), entry('a', 2)] }), /ascending/);
  assert.throws(() => encodeTreeManifest({ entries: [entry('a', 1), entry('a', 2)] }), /ascending/);
  // 'a/b' sorts after 'a-' in bytes ('/' is 0x2f, '-' 0x2d) - accepted in byte order only.
  assert.doesNotThrow(() => encodeTreeManifest({ entries: [entry('a-', 1), entry('a/b', 2)] }));
});

test('rejects unsafe paths and file/dir clashes', () => {
  for (const bad of ['../x', '/abs', 'a//b', 'a/./b', 'a\\b', '', 'a/', 'x\0y']) {
    assert.throws(() => encodeTreeManifest({ entries: [entry(bad, 1)] }), /path/, bad);
  }
  assert.throws(() => encodeTreeManifest({ entries: [entry('a', 1), entry('a/b', 2)] }), /both a file and a directory/);
  assert.throws(() => encodeTreeManifest({ entries: [{ ...entry('a', 1), mode: 0o120000 }] }), /mode/);
});

test('fuzz: any input is rejected with a FormatError or decodes canonically', () => {
  fuzzDecoder({ decode: decodeTreeManifest, encode: encodeTreeManifest, samples: [encodeTreeManifest(sample), encodeTreeManifest({ entries: [entry('x', 5)] })] });
});
