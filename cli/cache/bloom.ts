import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs-util.ts';

/**
 * A Bloom filter of every blob id in a cache, kept beside its index
 * (bloom.bin), so that asking "is this chunk stored already?" for new data
 * costs a few bit tests instead of a SQLite lookup each (~5-15 µs here).
 *
 * "No" is final; "maybe" is checked in SQLite. So the filter must hold every
 * blob of the index it answers for. The index counts its blob additions (a
 * generation, bumped in the same transaction as the rows); a filter records
 * the generation it holds everything up to, follows its own process's
 * additions, and is rebuilt from the index when the generations differ:
 * another process added blobs (two `dvx add`s at once), or a crash came
 * before the filter was saved. Removed blobs leave harmless "maybe"s. It is
 * grown fourfold when it fills up.
 *
 *   file = "DVXBLOOM" (8) | version u32 = 2 | k u32 | bits u32 (log2 of m) |
 *          generation u32 (of the index, when saved) | count u64 | m/8 bytes
 *
 * Version 1 recorded a pack count instead, which two writers could match
 * while each filter lacked the other's blobs; such files are rebuilt.
 *
 * Ids are BLAKE3 outputs, so their bytes already are independent uniform
 * hashes: probe i uses the u32 at byte 4i of the id.
 */
const MAGIC = Buffer.from('DVXBLOOM', 'latin1');
const VERSION = 2;
const HEADER = 32;
const K = 7;
const BITS_PER_ENTRY = 10;

export class Bloom {
  private constructor(
    private bits: Uint8Array,
    private log2m: number,
    private n: number,
    /** the index generation this filter holds every blob of */
    public generation: number,
    public dirty: boolean,
  ) {
    // Probes are 32-bit words of the id: past 2^32 bits the rest of the filter is never probed, which is harmless.
    this.mask = log2m >= 32 ? 0xffffffff : 2 ** log2m - 1;
  }

  /** bit-index mask, computed once: `2 ** log2m` per probe showed up in profiles */
  private readonly mask: number;

  static empty(capacity: number): Bloom {
    const log2m = Math.max(16, Math.ceil(Math.log2(capacity * BITS_PER_ENTRY)));
    return new Bloom(new Uint8Array(2 ** (log2m - 3)), log2m, 0, 0, true);
  }

  /** The saved filter, or undefined when missing or unreadable (then: rebuild). */
  static load(path: string): Bloom | undefined {
    if (!existsSync(path)) return undefined;
    try {
      const b = readFileSync(path);
      if (b.length < HEADER || !b.subarray(0, 8).equals(MAGIC) || b.readUInt32LE(8) !== VERSION || b.readUInt32LE(12) !== K) return undefined;
      const log2m = b.readUInt32LE(16);
      if (log2m < 16 || log2m > 34 || b.length !== HEADER + 2 ** (log2m - 3)) return undefined;
      return new Bloom(new Uint8Array(b.buffer, b.byteOffset + HEADER, 2 ** (log2m - 3)), log2m, Number(b.readBigUInt64LE(24)), b.readUInt32LE(20), false);
    } catch {
      return undefined;
    }
  }

  get count(): number {
    return this.n;
  }

  /** Whether it holds as many entries as it was sized for. */
  get full(): boolean {
    return this.n * BITS_PER_ENTRY > 2 ** this.log2m;
  }

  private probe(id: Uint8Array, i: number): number {
    const at = 4 * i;
    // the id's i-th little-endian 32-bit word (ids are uniform hashes: any bits will do)
    return ((id[at]! | (id[at + 1]! << 8) | (id[at + 2]! << 16) | (id[at + 3]! << 24)) & this.mask) >>> 0;
  }

  add(id: Uint8Array): void {
    for (let i = 0; i < K; i++) {
      const bit = this.probe(id, i);
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
    }
    this.n++;
    this.dirty = true;
  }

  mightHave(id: Uint8Array): boolean {
    for (let i = 0; i < K; i++) {
      const bit = this.probe(id, i);
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  save(path: string): void {
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(VERSION, 8);
    header.writeUInt32LE(K, 12);
    header.writeUInt32LE(this.log2m, 16);
    header.writeUInt32LE(this.generation >>> 0, 20);
    header.writeBigUInt64LE(BigInt(this.n), 24);
    writeFileAtomic(path, Buffer.concat([header, this.bits]));
    this.dirty = false;
  }
}
