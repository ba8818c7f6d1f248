import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { FormatError } from '../../core/errors.ts';
import { blake3Hex } from '../../core/hash.ts';
import { BlobType, decodePackIndex, decodePackTrailer, PACK_TRAILER_BYTES, type PackEntry, type PackIndex } from '../../core/pack.ts';

/**
 * Reading whole packs blob by blob from a stream, in bounded memory: what
 * upload verification, fsck, reindex and repacking share. The pack format
 * (core/pack.ts) is read through its decoders; only the walking is here.
 */

/**
 * Yields each blob of a pack's data region, in index order, from a stream of
 * that region. A yielded view is valid until the next iteration.
 */
export async function* blobsOf(stream: AsyncIterable<Buffer>, entries: readonly PackEntry[]): AsyncGenerator<{ entry: PackEntry; bytes: Buffer }> {
  let parts: Buffer[] = [];
  let have = 0;
  let i = 0;
  for await (const chunk of stream) {
    let pos = 0;
    while (pos < chunk.length && i < entries.length) {
      const e = entries[i]!;
      if (have === 0 && chunk.length - pos >= e.length) {
        yield { entry: e, bytes: chunk.subarray(pos, pos + e.length) };
        pos += e.length;
        i++;
        continue;
      }
      const take = Math.min(e.length - have, chunk.length - pos);
      parts.push(chunk.subarray(pos, pos + take));
      have += take;
      pos += take;
      if (have === e.length) {
        yield { entry: e, bytes: Buffer.concat(parts, have) };
        parts = [];
        have = 0;
        i++;
      }
    }
    if (i === entries.length && pos < chunk.length) throw new FormatError('pack', 'more data than its index describes');
  }
  if (i < entries.length) throw new FormatError('pack', `truncated: blob ${entries[i]!.id} at offset ${entries[i]!.offset} is incomplete`);
}

export interface ScannedPack {
  readonly index: PackIndex;
  /** manifests (file and tree) found in the pack, by id, with their bytes */
  readonly manifests: Map<string, { type: BlobType; bytes: Buffer }>;
  /** blobs whose bytes do not hash to their id */
  readonly damaged: { id: string; offset: number; problem: string }[];
}

/**
 * Hashes every blob streamed from a pack's data region and keeps its manifests.
 * Damage is collected, not thrown, so fsck can name every damaged blob.
 */
export async function scanBlobs(stream: AsyncIterable<Buffer>, index: PackIndex): Promise<ScannedPack> {
  const manifests = new Map<string, { type: BlobType; bytes: Buffer }>();
  const damaged: ScannedPack['damaged'] = [];
  for await (const { entry, bytes } of blobsOf(stream, index.entries)) {
    const actual = blake3Hex(bytes);
    if (actual !== entry.id) {
      damaged.push({ id: entry.id, offset: entry.offset, problem: `content hashes to ${actual}` });
      continue;
    }
    if (entry.type !== BlobType.chunk) manifests.set(entry.id, { type: entry.type, bytes: Buffer.from(bytes) });
  }
  return { index, manifests, damaged };
}

/** Decodes a pack's index from its last bytes, read with `readAt`. */
export async function readPackIndex(size: number, readAt: (offset: number, length: number) => Promise<Buffer>): Promise<PackIndex> {
  if (size < PACK_TRAILER_BYTES) throw new FormatError('pack', `${size} bytes is too short to be a pack`);
  const { indexBytes } = decodePackTrailer(await readAt(size - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES), size);
  return decodePackIndex(await readAt(size - PACK_TRAILER_BYTES - indexBytes, indexBytes), size);
}

/**
 * Verifies a pack held in a local file (an upload): its index decodes and
 * hashes to `expectedId`, every blob hashes to its id. Throws a FormatError
 * naming the first problem.
 */
export async function verifyPackFile(path: string, size: number, expectedId: string): Promise<ScannedPack> {
  const fh = await open(path, 'r');
  let index: PackIndex;
  try {
    index = await readPackIndex(size, async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new FormatError('pack', 'truncated');
      return buf;
    });
  } finally {
    await fh.close();
  }
  if (index.packId !== expectedId) throw new FormatError('pack', `its index hashes to ${index.packId}, not the pack id ${expectedId} it was sent as`);
  if (index.dataBytes === 0) return { index, manifests: new Map(), damaged: [] };
  const scanned = await scanBlobs(createReadStream(path, { start: 0, end: index.dataBytes - 1, highWaterMark: 4 << 20 }), index);
  const d = scanned.damaged[0];
  if (d) throw new FormatError('pack', `${scanned.damaged.length} damaged blob(s), first ${d.id} at offset ${d.offset}: ${d.problem}`);
  return scanned;
}
