import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '../../core/errors.ts';
import { blake3Hex, loadHashing } from '../../core/hash.ts';
import { BlobType, decodePack, PackBuilder } from '../../core/pack.ts';
import { blobsOf, scanBlobs } from './pack-scan.ts';

await loadHashing();

function pack(sizes: number[]) {
  const b = new PackBuilder();
  const datas = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  datas.forEach((d) => b.add(blake3Hex(d), BlobType.chunk, d.length));
  const { tail } = b.finish();
  const bytes = Buffer.concat([...datas, tail]);
  return { bytes, index: decodePack(bytes), datas };
}

function* pieces(buf: Buffer, sizes: number[]) {
  let at = 0;
  for (let i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield buf.subarray(at, at + n);
    at += n;
  }
}

test('blobsOf yields every blob whole, however the stream is cut', async () => {
  const { bytes, index, datas } = pack([1, 5000, 3, 70000, 16384]);
  const data = bytes.subarray(0, index.dataBytes);
  for (const cut of [[1], [7], [4096], [100000], [3, 65536, 11]]) {
    const got: Buffer[] = [];
    for await (const { bytes: b } of blobsOf((async function* () { yield* pieces(data, cut); })(), index.entries)) got.push(Buffer.from(b));
    assert.deepEqual(got, datas, `pieces of ${cut}`);
  }
});

test('a truncated data region is a FormatError; damage is reported per blob', async () => {
  const { bytes, index } = pack([1000, 2000, 3000]);
  await assert.rejects(async () => {
    for await (const _ of blobsOf((async function* () { yield bytes.subarray(0, 2500); })(), index.entries));
  }, FormatError);
  const damaged = Buffer.from(bytes.subarray(0, index.dataBytes));
  damaged[1500]! ^= 1;
  const r = await scanBlobs((async function* () { yield damaged; })(), index);
  assert.deepEqual(r.damaged.map((d) => d.id), [index.entries[1]!.id]);
});
