import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHashing, blake3Hex } from '../../core/hash.ts';
import { BlobType, PackBuilder } from '../../core/pack.ts';
import { PackFiles } from './pack-files.ts';

/** The check a cache writer runs on a pack it has just published: its tail, read back, byte for byte. */
test('tailMatches: a published pack reads back as written; a short, long or altered one does not', async (t) => {
  await loadHashing();
  const dir = mkdtempSync(join(tmpdir(), 'dvx-pack-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packs = new PackFiles(dir);
  mkdirSync(packs.tmpDir, { recursive: true });

  const blobs = [Buffer.from('first blob'), Buffer.alloc(5000, 7), Buffer.from('third')];
  const b = new PackBuilder();
  for (const data of blobs) b.add(blake3Hex(data), BlobType.chunk, data.length);
  const { tail, index } = b.finish();
  const bytes = Buffer.concat([...blobs, tail]);
  const write = (content: Buffer) => {
    const tmp = join(packs.tmpDir, `p${Math.random()}`);
    writeFileSync(tmp, content);
    packs.remove(index.packId);
    packs.publish(tmp, index.packId);
  };

  write(bytes);
  assert.equal(packs.tailMatches(index.packId, index.packBytes, tail), true);
  // A body byte is not the tail's business: chunks are checked by their hashes.
  const body = Buffer.from(bytes);
  body[3]! ^= 1;
  write(body);
  assert.equal(packs.tailMatches(index.packId, index.packBytes, tail), true);

  write(bytes);
  truncateSync(packs.path(index.packId), index.packBytes - 1);
  assert.equal(packs.tailMatches(index.packId, index.packBytes, tail), false, 'a short write');
  write(Buffer.concat([bytes, Buffer.alloc(1)]));
  assert.equal(packs.tailMatches(index.packId, index.packBytes, tail), false, 'bytes past the trailer');
  for (const at of [index.dataBytes, index.packBytes - 1, index.packBytes - 10]) {
    write(bytes);
    const fd = openSync(packs.path(index.packId), 'r+');
    writeSync(fd, Buffer.from([bytes[at]! ^ 0x80]), 0, 1, at);
    closeSync(fd);
    assert.equal(packs.tailMatches(index.packId, index.packBytes, tail), false, `a changed tail byte at ${at}`);
  }
  // A tail longer than the pack claims to be is a mismatch, not an exception.
  assert.equal(packs.tailMatches(index.packId, 4, tail), false);
});
