import { read as fsRead, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { checkChunkerParams, type ChunkerParams } from './chunker.ts';
import { DATA_OFFSET, WasmChunker } from './fastcdc.ts';
import { blake3, loadHashing, sha256 } from './hash.ts';
import { defaultHashPool, type HashPool } from './hash-pool.ts';
import type { ChunkRef } from './file-manifest.ts';

/**
 * Ingest: turns a stream of bytes into chunks with ids, plus the whole stream's
 * size and SHA-256, in one pass and bounded memory, whatever the input size.
 *
 * Input is read in blocks into slots of a shared WebAssembly memory. For each
 * block the main thread updates SHA-256 and finds cut points; a HashPool hashes
 * the chunks where they lie, while the main thread reads and cuts the next
 * block. Chunks are handed to the caller in order, as views into the slot that
 * stay valid until the callback's promise settles. A chunk still open at the
 * end of a block is carried to the front of the next slot, so cut points never
 * depend on block or read sizes.
 */
export interface ByteSource {
  /** Fills up to `into.length` bytes; resolves 0 at end of input. */
  read(into: Uint8Array): number | Promise<number>;
}

export interface Chunk {
  readonly id: string;
  /** Valid only until the onChunks callback's promise settles. */
  readonly data: Uint8Array;
}

export interface IngestResult {
  readonly size: number;
  readonly sha256: string;
  readonly chunks: ChunkRef[];
}

export interface IngestOptions {
  params: ChunkerParams;
  /** Bytes read per block (default 4 MiB). */
  blockBytes?: number;
  /** null: hash on the calling thread only. Default: the process-wide pool. */
  pool?: HashPool | null;
}

export type ChunkSink = (chunks: Chunk[]) => void | Promise<void>;

/** Slots of the ring: one being filled, the others waiting on hash workers or the sink. */
const SLOTS = 3;
/** Blocks with less chunk data than this are hashed inline: a worker round trip costs more. */
const INLINE_BYTES = 1 << 20;

interface Pending {
  starts: Uint32Array;
  lengths: Uint32Array;
  ids: Promise<Uint8Array> | Uint8Array;
}

export class Ingestor {
  private readonly chunker: WasmChunker;
  private readonly blockBytes: number;
  private readonly slotBytes: number;
  private readonly pool: HashPool | null;
  private busy = false;

  private constructor(opts: IngestOptions) {
    const params = checkChunkerParams(opts.params);
    this.blockBytes = opts.blockBytes ?? 4 << 20;
    this.slotBytes = this.blockBytes + params.max;
    this.chunker = new WasmChunker(params, SLOTS * this.slotBytes);
    this.pool = opts.pool === undefined ? defaultHashPool() : opts.pool;
  }

  static async create(opts: IngestOptions): Promise<Ingestor> {
    await loadHashing();
    return new Ingestor(opts);
  }

  get params(): ChunkerParams {
    return this.chunker.params;
  }

  /**
   * Reads `source` to its end. `onChunks` receives every chunk in order, in
   * batches; `onProgress` the bytes read so far.
   */
  async ingest(source: ByteSource, onChunks: ChunkSink, onProgress?: (bytesRead: number) => void): Promise<IngestResult> {
    if (this.busy) throw new Error('an Ingestor ingests one source at a time');
    this.busy = true;
    try {
      return await this.run(source, onChunks, onProgress);
    } finally {
      this.busy = false;
    }
  }

  private async run(source: ByteSource, onChunks: ChunkSink, onProgress?: (n: number) => void): Promise<IngestResult> {
    const mem = this.chunker.bytes;
    const sha = sha256();
    const refs: ChunkRef[] = [];
    const pending: Pending[] = [];
    let size = 0;
    let slot = 0;
    let carryAt = 0;
    let carryLen = 0;
    let eof = false;

    const drain = async () => {
      const p = pending.shift()!;
      const ids = await p.ids;
      const chunks: Chunk[] = new Array(p.starts.length);
      for (let i = 0; i < p.starts.length; i++) {
        const id = Buffer.from(ids.buffer, ids.byteOffset + 32 * i, 32).toString('hex');
        chunks[i] = { id, data: mem.subarray(p.starts[i]!, p.starts[i]! + p.lengths[i]!) };
        refs.push({ id, length: p.lengths[i]! });
      }
      if (chunks.length > 0) await onChunks(chunks);
    };

    try {
      while (!eof) {
        const base = DATA_OFFSET + slot * this.slotBytes;
        const limit = base + this.slotBytes;
        if (carryLen > 0) mem.copyWithin(base, carryAt, carryAt + carryLen);
        let filled = base + carryLen;
        while (filled < limit) {
          const n = await source.read(mem.subarray(filled, limit));
          if (n === 0) {
            eof = true;
            break;
          }
          sha.update(mem.subarray(filled, filled + n));
          filled += n;
          size += n;
        }
        onProgress?.(size);

        const starts: number[] = [];
        const lengths: number[] = [];
        let start = base;
        let bytes = 0;
        while (start < filled) {
          const cut = this.chunker.findCut(start, filled, eof);
          if (cut < 0) break;
          starts.push(start);
          lengths.push(cut - start);
          bytes += cut - start;
          start = cut;
        }
        carryAt = start;
        carryLen = filled - start;
        const s = Uint32Array.from(starts);
        const l = Uint32Array.from(lengths);
        pending.push({ starts: s, lengths: l, ids: this.hash(s, l, bytes) });
        // The next slot to fill must be drained; the carried bytes' slot stays pending until copied.
        while (pending.length >= SLOTS || (eof && pending.length > 0)) await drain();
        slot = (slot + 1) % SLOTS;
      }
    } catch (err) {
      // Let in-flight hashing settle before the slots are reused by a later call.
      await Promise.allSettled(pending.map((p) => p.ids));
      throw err;
    }
    return { size, sha256: sha.digest('hex'), chunks: refs };
  }

  private hash(starts: Uint32Array, lengths: Uint32Array, bytes: number): Promise<Uint8Array> | Uint8Array {
    if (this.pool && bytes >= INLINE_BYTES) return this.pool.hash(this.chunker.memory.buffer as SharedArrayBuffer, starts, lengths);
    const mem = this.chunker.bytes;
    const ids = new Uint8Array(32 * starts.length);
    for (let i = 0; i < starts.length; i++) ids.set(blake3(mem.subarray(starts[i]!, starts[i]! + lengths[i]!)), 32 * i);
    return ids;
  }

  close(): void {
    this.pool?.release(this.chunker.memory.buffer as SharedArrayBuffer);
  }
}

const readAsync = promisify(fsRead);

/** Reads an open file descriptor from its current position (sync reads: fastest from page cache; CLI only). */
export function fdSourceSync(fd: number): ByteSource {
  return { read: (into) => readSync(fd, into, 0, into.length, null) };
}

/** Reads an open file descriptor without blocking the event loop (servers). */
export function fdSource(fd: number): ByteSource {
  return { read: async (into) => (await readAsync(fd, into, 0, into.length, null)).bytesRead };
}

/** Adapts any async iterable of byte arrays (an HTTP request, a Readable). */
export function iterableSource(iterable: AsyncIterable<Uint8Array>): ByteSource {
  const it = iterable[Symbol.asyncIterator]();
  let rest: Uint8Array = new Uint8Array(0);
  return {
    async read(into) {
      while (rest.length === 0) {
        const next = await it.next();
        if (next.done) return 0;
        rest = next.value;
      }
      const take = Math.min(rest.length, into.length);
      into.set(rest.subarray(0, take));
      rest = rest.subarray(take);
      return take;
    },
  };
}

/** A whole in-memory buffer as a source (tests, small objects). */
export function bufferSource(data: Uint8Array): ByteSource {
  let at = 0;
  return {
    read(into) {
      const n = Math.min(into.length, data.length - at);
      into.set(data.subarray(at, at + n));
      at += n;
      return n;
    },
  };
}
