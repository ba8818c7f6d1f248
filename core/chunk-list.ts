import type { ChunkRef } from './file-manifest.ts';

/**
 * The chunks of a file as they are found, kept as the file manifest's own
 * entry encoding (32-byte id + u32 LE length = 36 bytes per chunk) in a
 * growing buffer: a 1 GiB file at 16 KiB chunks costs 2.3 MB here, where an
 * array of objects with hex ids would cost about ten times more.
 */
export const CHUNK_ENTRY_BYTES = 36;

export class ChunkList {
  private buf = Buffer.allocUnsafe(CHUNK_ENTRY_BYTES * 1024);
  private n = 0;

  get count(): number {
    return this.n;
  }

  push(id: Uint8Array, length: number): void {
    if ((this.n + 1) * CHUNK_ENTRY_BYTES > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.n * CHUNK_ENTRY_BYTES);
      this.buf = bigger;
    }
    const at = this.n * CHUNK_ENTRY_BYTES;
    this.buf.set(id, at);
    this.buf.writeUInt32LE(length, at + 32);
    this.n++;
  }

  /** The entries, encoded: what follows a file manifest's header. */
  entries(): Buffer {
    return this.buf.subarray(0, this.n * CHUNK_ENTRY_BYTES);
  }

  id(i: number): string {
    return this.buf.toString('hex', i * CHUNK_ENTRY_BYTES, i * CHUNK_ENTRY_BYTES + 32);
  }

  length(i: number): number {
    return this.buf.readUInt32LE(i * CHUNK_ENTRY_BYTES + 32);
  }

  refs(): ChunkRef[] {
    const out: ChunkRef[] = new Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = { id: this.id(i), length: this.length(i) };
    return out;
  }
}
