import { ByteReader, ByteWriter } from './byte-reader.ts';
import { FormatError } from './errors.ts';
import { blake3Hex } from './hash.ts';

/**
 * Pack, format version 1: immutable container of blobs (chunks and manifests),
 * so that storage holds few large objects instead of one per chunk.
 *
 *   pack    = blob* index trailer
 *   blob    = the object's bytes, back to back, in index order, nothing between
 *   index   = n entries of 44 bytes:
 *               0   32  blob id: BLAKE3-256 of the blob's bytes
 *               32  1   type: 1 chunk, 2 file manifest, 3 tree manifest
 *               33  3   reserved, zero
 *               36  4   offset in the pack (u32 LE)
 *               40  4   length (u32 LE), at least 1
 *   trailer = magic "DVXPACK1" (8 bytes), index length in bytes = 44n (u32 LE)
 *
 * The pack id is BLAKE3-256 of the index bytes. Since the index names every blob
 * by the hash of its bytes and the blobs tile the pack exactly (offset of blob
 * i+1 = offset of blob i + its length, the first at 0, the index right after the
 * last), checking the index hash and every blob hash checks every byte of the
 * pack, without a second hash over the whole of it. Ids are unique in a pack;
 * n >= 1; a pack is at most MAX_PACK_BYTES.
 *
 * A pack describes itself: the last 12 bytes give the index, the index gives
 * every blob, so a store's index can be rebuilt from its packs alone.
 */
export const PACK_MAGIC = Buffer.from('DVXPACK1', 'latin1');
export const PACK_TRAILER_BYTES = 12;
export const PACK_ENTRY_BYTES = 44;
/** Writers close a pack once it would grow past this. */
export const PACK_TARGET_BYTES = 32 * 1024 * 1024;
/** Readers refuse larger packs (a chunk is at most 8 MiB, so a writer never gets near). */
export const MAX_PACK_BYTES = 128 * 1024 * 1024;
const WHAT = 'pack';

export const BlobType = { chunk: 1, fileManifest: 2, treeManifest: 3 } as const;
export type BlobType = (typeof BlobType)[keyof typeof BlobType];
const TYPES = new Set<number>(Object.values(BlobType));

export interface PackEntry {
  readonly id: string;
  readonly type: BlobType;
  readonly offset: number;
  readonly length: number;
}

export interface PackIndex {
  /** BLAKE3-256 of the index bytes */
  readonly packId: string;
  readonly entries: readonly PackEntry[];
  /** bytes of blob data, i.e. where the index starts */
  readonly dataBytes: number;
  /** whole pack size */
  readonly packBytes: number;
}

/**
 * Lays out a pack while its blobs are written elsewhere (a file, a request
 * body): add() says where each blob goes, finish() returns the index and
 * trailer to write after them, and the pack id.
 */
export class PackBuilder {
  private readonly entries: PackEntry[] = [];
  /** ids as bytes where the caller had them (entry by entry), so the index is not re-parsed from hex */
  private readonly keys: (Uint8Array | undefined)[] = [];
  private readonly ids = new Set<string>();
  private offset = 0;

  get dataBytes(): number { return this.offset; }
  get count(): number { return this.entries.length; }
  /** Size of the finished pack if nothing more were added. */
  get packBytes(): number { return this.offset + PACK_ENTRY_BYTES * this.entries.length + PACK_TRAILER_BYTES; }
  has(id: string): boolean { return this.ids.has(id); }
  /** Whether adding `length` more bytes keeps the pack within the target size. */
  fits(length: number): boolean { return this.entries.length === 0 || this.packBytes + length + PACK_ENTRY_BYTES <= PACK_TARGET_BYTES; }

  /** `key`, when given, is `id` as 32 bytes (the caller vouches that they agree). */
  add(id: string, type: BlobType, length: number, key?: Uint8Array): PackEntry {
    if (this.ids.has(id)) throw new Error(`blob ${id} added twice to one pack`);
    if (length < 1) throw new Error('empty blob');
    if (key !== undefined && key.length !== 32) throw new Error(`blob ${id}: key of ${key.length} bytes, not 32`);
    const entry = { id, type, offset: this.offset, length };
    this.entries.push(entry);
    this.keys.push(key);
    this.ids.add(id);
    this.offset += length;
    return entry;
  }

  finish(): { tail: Buffer; index: PackIndex } {
    if (this.entries.length === 0) throw new Error('a pack needs at least one blob');
    const tail = encodePackTail(this.entries, this.keys);
    const indexBytes = tail.subarray(0, tail.length - PACK_TRAILER_BYTES);
    return {
      tail,
      index: { packId: blake3Hex(indexBytes), entries: this.entries, dataBytes: this.offset, packBytes: this.offset + tail.length },
    };
  }
}

function encodePackTail(entries: readonly PackEntry[], keys: readonly (Uint8Array | undefined)[] = []): Buffer {
  const indexLen = entries.length * PACK_ENTRY_BYTES;
  const w = new ByteWriter(indexLen + PACK_TRAILER_BYTES);
  entries.forEach((e, i) => {
    const key = keys[i];
    (key ? w.raw(key) : w.hex(e.id)).u8(e.type).u8(0).u16(0).u32(e.offset).u32(e.length);
  });
  return w.raw(PACK_MAGIC).u32(indexLen).done();
}

/**
 * The id of entry `i` as its 32 bytes, read from an encoded index (or a pack
 * tail, which starts with it): entries are PACK_ENTRY_BYTES apart, id first.
 */
export function entryIdBytes(indexBytes: Uint8Array, i: number): Buffer {
  const at = indexBytes.byteOffset + i * PACK_ENTRY_BYTES;
  if ((i + 1) * PACK_ENTRY_BYTES > indexBytes.length) throw new RangeError(`entry ${i} is beyond an index of ${indexBytes.length} bytes`);
  return Buffer.from(indexBytes.buffer, at, 32);
}

/** From a pack's last 12 bytes: how long its index is. */
export function decodePackTrailer(trailer: Uint8Array, packBytes: number): { indexBytes: number } {
  if (trailer.length !== PACK_TRAILER_BYTES) throw new FormatError(WHAT, `trailer must be ${PACK_TRAILER_BYTES} bytes`);
  if (packBytes > MAX_PACK_BYTES) throw new FormatError(WHAT, `${packBytes} bytes is larger than the ${MAX_PACK_BYTES}-byte limit`);
  const r = new ByteReader(trailer, WHAT);
  r.expectMagic(PACK_MAGIC, 'trailer magic (not a dvx pack, or truncated)');
  const indexBytes = r.u32('index length');
  if (indexBytes === 0 || indexBytes % PACK_ENTRY_BYTES !== 0) throw new FormatError(WHAT, `index length ${indexBytes} is not a positive multiple of ${PACK_ENTRY_BYTES}`);
  if (indexBytes + PACK_TRAILER_BYTES > packBytes) throw new FormatError(WHAT, `index length ${indexBytes} exceeds the pack size ${packBytes}`);
  return { indexBytes };
}

/**
 * Decodes and validates a pack's index (the `indexBytes` bytes before the
 * trailer), given the whole pack's size. Checks tiling, types and uniqueness;
 * blob hashes are checked by verifyPackBlobs.
 */
export function decodePackIndex(indexBytes: Uint8Array, packBytes: number): PackIndex {
  const r = new ByteReader(indexBytes, WHAT);
  const n = indexBytes.length / PACK_ENTRY_BYTES;
  if (!Number.isInteger(n) || n === 0) throw new FormatError(WHAT, 'empty or ragged index');
  const dataBytes = packBytes - indexBytes.length - PACK_TRAILER_BYTES;
  const entries: PackEntry[] = new Array(n);
  const ids = new Set<string>();
  let expect = 0;
  for (let i = 0; i < n; i++) {
    const id = r.hex32('blob id');
    const type = r.u8('blob type');
    r.expectZero(3, 'reserved');
    const offset = r.u32('offset');
    const length = r.u32('length');
    if (!TYPES.has(type)) throw new FormatError(WHAT, `entry ${i} has unknown type ${type}`);
    if (offset !== expect) throw new FormatError(WHAT, `entry ${i} starts at ${offset}, expected ${expect} (blobs must tile the pack)`);
    if (length < 1) throw new FormatError(WHAT, `entry ${i} is empty`);
    if (ids.has(id)) throw new FormatError(WHAT, `blob ${id} appears twice`);
    ids.add(id);
    entries[i] = { id, type: type as BlobType, offset, length };
    expect = offset + length;
  }
  r.end();
  if (expect !== dataBytes) throw new FormatError(WHAT, `blobs cover ${expect} bytes but the data region is ${dataBytes}`);
  return { packId: blake3Hex(indexBytes), entries, dataBytes, packBytes };
}

/** Decodes the index of a whole pack held in memory. */
export function decodePack(pack: Uint8Array): PackIndex {
  if (pack.length < PACK_TRAILER_BYTES) throw new FormatError(WHAT, `${pack.length} bytes is too short to be a pack`);
  const { indexBytes } = decodePackTrailer(pack.subarray(pack.length - PACK_TRAILER_BYTES), pack.length);
  const start = pack.length - PACK_TRAILER_BYTES - indexBytes;
  return decodePackIndex(pack.subarray(start, start + indexBytes), pack.length);
}

export interface PackDamage {
  readonly id: string;
  readonly offset: number;
  readonly problem: string;
}

/**
 * Re-hashes every blob of an in-memory pack; returns the blobs whose bytes do
 * not match their id. The entries may come from elsewhere than the pack's own
 * index (a damaged pack's blobs as a store's index places them), so a blob
 * that ends past the pack is reported too.
 */
export function verifyPackBlobs(pack: Uint8Array, index: Pick<PackIndex, 'entries'>): PackDamage[] {
  const damaged: PackDamage[] = [];
  for (const e of index.entries) {
    if (e.offset + e.length > pack.length) {
      damaged.push({ id: e.id, offset: e.offset, problem: `ends at ${e.offset + e.length}, past the end of the ${pack.length}-byte pack` });
      continue;
    }
    const actual = blake3Hex(pack.subarray(e.offset, e.offset + e.length));
    if (actual !== e.id) damaged.push({ id: e.id, offset: e.offset, problem: `content hashes to ${actual}` });
  }
  return damaged;
}

/**
 * Full check of an in-memory pack against the id it is stored or sent under:
 * throws a FormatError naming the first problem.
 */
export function verifyPack(pack: Uint8Array, expectedId?: string): PackIndex {
  const index = decodePack(pack);
  if (expectedId !== undefined && index.packId !== expectedId) {
    throw new FormatError(WHAT, `index hashes to ${index.packId}, not the pack id ${expectedId}`);
  }
  const damaged = verifyPackBlobs(pack, index);
  if (damaged.length > 0) {
    throw new FormatError(WHAT, `${damaged.length} damaged blob(s), first ${damaged[0]!.id} at offset ${damaged[0]!.offset}: ${damaged[0]!.problem}`);
  }
  return index;
}
