import { ByteReader, ByteWriter } from './byte-reader.ts';
import { CHUNKER_ALGORITHM_FASTCDC_V1, checkChunkerParams, type ChunkerParams } from './chunker.ts';
import { DvxError, FormatError } from './errors.ts';
import { blake3Hex } from './hash.ts';
import { assertId } from './hex.ts';

/**
 * File manifest, format version 1: how one file's bytes are made of chunks.
 *
 *   offset  size  field
 *   0       4     magic "DVXF"
 *   4       1     version = 1
 *   5       1     chunker algorithm = 1 (FastCDC v1, chunker.ts)
 *   6       2     reserved, zero
 *   8       4     chunker min   (u32 LE)
 *   12      4     chunker avg   (u32 LE)
 *   16      4     chunker max   (u32 LE)
 *   20      8     file size     (u64 LE)
 *   28      32    file SHA-256
 *   60      4     chunk count n (u32 LE)
 *   64      36*n  n x (chunk id: BLAKE3-256 (32), chunk length u32 LE)
 *
 * Canonical: nothing else decodes. Lengths sum to the size; every chunk is
 * 1..max bytes and every chunk but the last longer than min (what the chunker
 * produces); an empty file has no chunks. The manifest id is BLAKE3-256 of these
 * bytes.
 */
const MAGIC = Buffer.from('DVXF', 'latin1');
const VERSION = 1;
const HEADER = 64;
const ENTRY = 36;
const WHAT = 'file manifest';

export interface ChunkRef {
  readonly id: string;
  readonly length: number;
}

export interface FileManifest {
  readonly chunker: ChunkerParams;
  readonly size: number;
  readonly sha256: string;
  readonly chunks: readonly ChunkRef[];
}

function check(m: FileManifest, idsFromBytes = false): void {
  checkChunkerParams(m.chunker);
  assertId(m.sha256, `${WHAT} sha256`);
  let total = 0;
  m.chunks.forEach((c, i) => {
    // Ids decoded from bytes are hex by construction; only encoded input needs the check.
    if (!idsFromBytes) assertId(c.id, `${WHAT} chunk ${i} id`);
    const last = i === m.chunks.length - 1;
    if (!Number.isInteger(c.length) || c.length < 1 || c.length > m.chunker.max || (!last && c.length <= m.chunker.min)) {
      throw new FormatError(WHAT, `chunk ${i} has length ${c.length}, outside what the chunker ${JSON.stringify(m.chunker)} produces`);
    }
    total += c.length;
  });
  if (total !== m.size) throw new FormatError(WHAT, `chunk lengths sum to ${total}, not the file size ${m.size}`);
}

export function encodeFileManifest(m: FileManifest): Buffer {
  check(m);
  const w = new ByteWriter(HEADER + ENTRY * m.chunks.length)
    .raw(MAGIC).u8(VERSION).u8(CHUNKER_ALGORITHM_FASTCDC_V1).u16(0)
    .u32(m.chunker.min).u32(m.chunker.avg).u32(m.chunker.max)
    .u64(m.size).hex(m.sha256).u32(m.chunks.length);
  for (const c of m.chunks) w.hex(c.id).u32(c.length);
  return w.done();
}

/**
 * Encodes a manifest from entries already in their encoded form (ChunkList),
 * checking them as encodeFileManifest does, without materializing objects.
 */
export function encodeFileManifestEntries(meta: Omit<FileManifest, 'chunks'>, entries: Uint8Array): Buffer {
  checkChunkerParams(meta.chunker);
  assertId(meta.sha256, `${WHAT} sha256`);
  if (entries.length % ENTRY !== 0) throw new FormatError(WHAT, 'ragged chunk entries');
  const n = entries.length / ENTRY;
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const length = view.getUint32(i * ENTRY + 32, true);
    if (length < 1 || length > meta.chunker.max || (i < n - 1 && length <= meta.chunker.min)) {
      throw new FormatError(WHAT, `chunk ${i} has length ${length}, outside what the chunker ${JSON.stringify(meta.chunker)} produces`);
    }
    total += length;
  }
  if (total !== meta.size) throw new FormatError(WHAT, `chunk lengths sum to ${total}, not the file size ${meta.size}`);
  return new ByteWriter(HEADER + entries.length)
    .raw(MAGIC).u8(VERSION).u8(CHUNKER_ALGORITHM_FASTCDC_V1).u16(0)
    .u32(meta.chunker.min).u32(meta.chunker.avg).u32(meta.chunker.max)
    .u64(meta.size).hex(meta.sha256).u32(n)
    .raw(entries)
    .done();
}

export function decodeFileManifest(bytes: Uint8Array): FileManifest {
  const r = new ByteReader(bytes, WHAT);
  r.expectMagic(MAGIC);
  const version = r.u8('version');
  if (version !== VERSION) throw new FormatError(WHAT, `unsupported version ${version} (this dvx reads version ${VERSION}; upgrade dvx)`);
  const algo = r.u8('chunker algorithm');
  if (algo !== CHUNKER_ALGORITHM_FASTCDC_V1) throw new FormatError(WHAT, `unknown chunker algorithm ${algo}`);
  r.expectZero(2, 'reserved');
  const chunker = { min: r.u32('min'), avg: r.u32('avg'), max: r.u32('max') };
  try {
    checkChunkerParams(chunker);
  } catch (err) {
    throw new FormatError(WHAT, (err as DvxError).message);
  }
  const size = r.u64('size');
  const sha256 = r.hex32('sha256');
  const n = r.u32('chunk count');
  if (r.remaining !== n * ENTRY) throw new FormatError(WHAT, `${n} chunks need ${n * ENTRY} bytes of entries, found ${r.remaining}`);
  // One hex conversion for all entries; each id is a slice of it (cheap in V8).
  const at = r.offset;
  const all = Buffer.from(bytes.buffer, bytes.byteOffset + at, n * ENTRY);
  const hexAll = all.toString('hex');
  const chunks: ChunkRef[] = new Array(n);
  for (let i = 0; i < n; i++) chunks[i] = { id: hexAll.slice(i * 2 * ENTRY, i * 2 * ENTRY + 64), length: all.readUInt32LE(i * ENTRY + 32) };
  r.bytes_(n * ENTRY, 'chunk entries');
  r.end();
  const m = { chunker, size, sha256, chunks };
  check(m, true);
  return m;
}

export function fileManifestId(encoded: Uint8Array): string {
  return blake3Hex(encoded);
}
