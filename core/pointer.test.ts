import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { dataPathOf, decodePointer, encodePointer, pointerPathOf, type Pointer } from './pointer.ts';
import { fuzzDecoder } from '../test/support/fuzz.ts';

const id = (n: number) => n.toString(16).padStart(64, '0');
const file: Pointer = { path: 'customers.csv', type: 'file', size: 176000000, sha256: id(1), manifest: id(2) };
const dir: Pointer = { path: 'images', type: 'dir', size: 5, files: 2, sha256: id(3), manifest: id(4) };

test('the documented encoding', () => {
  assert.equal(
    encodePointer(file),
    `# dvx pointer: commit this file, not the data\ndvx: 1\npath: customers.csv\ntype: file\nsize: 176000000\nsha256: ${id(1)}\nmanifest: ${id(2)}\n`,
  );
  assert.match(encodePointer(dir), /\ntype: dir\nsize: 5\nfiles: 2\nsha256: /);
  assert.deepEqual(decodePointer(encodePointer(file)), file);
  assert.deepEqual(decodePointer(encodePointer(dir)), dir);
});

test('names that YAML would misread are quoted, and YAML reads every pointer back', () => {
  for (const name of ['true', '1e3', '0x10', '12', 'null', 'has space.csv', '.hidden', 'naïve.txt', 'a"b', '-dash', 'plain_name.tar.gz']) {
    const text = encodePointer({ ...file, path: name });
    assert.equal(decodePointer(text).path, name);
    assert.equal(parseYaml(text).path, name, `YAML reads ${JSON.stringify(name)} back as itself`);
  }
  assert.match(encodePointer({ ...file, path: 'true' }), /path: "true"/);
});

test('hand edits and truncation are reported with the line', () => {
  const text = encodePointer(file);
  assert.throws(() => decodePointer(text.slice(0, 80)), /truncated|missing/);
  assert.throws(() => decodePointer(text.replace('size: 176000000', 'size:  176000000')), /size must be a whole number/);
  assert.throws(() => decodePointer(text.replace('size: 176000000', 'size: 0176000000')), /whole number/);
  assert.throws(() => decodePointer(text.replace('\n', '\r\n')), /CR line endings/);
  assert.throws(() => decodePointer(text.replace('dvx: 1', 'dvx: 2')), /unsupported version/);
  assert.throws(() => decodePointer(text.replace(/sha256: .*/, 'sha256: xyz')), /sha256 must be/);
  assert.throws(() => decodePointer(text + 'extra: 1\n'), /canonical form at line 8/);
  assert.throws(() => decodePointer(text.replace('path: customers.csv', 'path: "customers.csv"')), /canonical form at line 3/);
  assert.throws(() => decodePointer(text.replace('path: customers.csv', 'path: ../x')), /path/);
  assert.throws(() => decodePointer(Buffer.alloc(100_000)), /too large for a pointer/);
});

test('pointer and data path names', () => {
  assert.equal(pointerPathOf('data/x.csv'), 'data/x.csv.dvx');
  assert.equal(dataPathOf('data/x.csv.dvx'), 'data/x.csv');
  assert.equal(dataPathOf('.dvx'), undefined);
  assert.equal(dataPathOf('x.csv'), undefined);
});

test('fuzz: any input is rejected with a FormatError or decodes canonically', () => {
  fuzzDecoder({
    decode: (b) => decodePointer(b),
    encode: (p) => Buffer.from(encodePointer(p)),
    samples: [Buffer.from(encodePointer(file)), Buffer.from(encodePointer(dir)), Buffer.from(encodePointer({ ...file, path: 'a b' }))],
  });
});

test('invalid UTF-8 is rejected, not replaced', () => {
  const bytes = Buffer.from(encodePointer({ ...file, path: 'a b' }));
  const at = bytes.indexOf('a b');
  bytes[at] = 0xe1; // a lone lead byte
  assert.throws(() => decodePointer(bytes), /not valid UTF-8/);
});
