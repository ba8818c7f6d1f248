import { read as fsRead, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { checkChunkerParams, type ChunkerParams } from './chunker.ts';
import { DATA_OFFSET, WasmChunker } from './fastcdc.ts';
import { blake3, loadHashing, sha256 } from './hash.ts';
import { defaultHashPool, type HashPool } from './hash-pool.ts';
import { ChunkList } from './chunk-list.ts';
import { Staging, type StagingSpec } from './staging.ts';

/**
 * Ingest: turns a stream of bytes into chunks with ids, plus the whole stream's
 * size and SHA-256, in one pass and bounded memory, whatever the input size.
 *
 * Input is read in blocks into slots of a shared WebAssembly memory. The
 * calling thread only reads and finds cut points; a HashPool BLAKE3-hashes the
 * chunks where they lie, and one of its workers also keeps the running SHA-256
 * (it receives every block, in order). Chunks reach the caller in order, as
 * views into their slot; the slot is reused only after the promise the caller
 * returned for it settles, so the caller may write them out asynchronously.
 * A chunk still open at the end of a block is carried to the front of the next
 * slot, so cut points never depend on block or read sizes.
 */
export interface ByteSource {
  /** Fills up to `into.length` bytes; resolves 0 at end of input. */
  read(into: Uint8Array): number | Promise<number>;
}

export interface Chunk {
  readonly id: string;
  /** The id as its 32 bytes (what packs and indexes store): no hex round trip per chunk. */
  readonly key: Uint8Array;
  /** Valid only until the onChunks callback's promise settles. */
  readonly data: Uint8Array;
}

export interface IngestResult {
  readonly size: number;
  readonly sha256: string;
  readonly chunks: ChunkList;
}

export interface IngestOptions {
  params: ChunkerParams;
  /** Bytes read per block (default 12 MiB). */
  blockBytes?: number;
  /** null: hash on the calling thread only. Default: the process-wide pool. */
  pool?: HashPool | null;
  /**
   * A staging area for the writer of the chunks, in the same memory, so that
   * staging a chunk is a memmove (core/staging.ts). Default: none.
   */
  staging?: StagingSpec;
}

export type ChunkSink = (chunks: Chunk[]) => void | Promise<unknown>;

/** Blocks in the ring. Each block costs a message to each hash worker, and waking a worker is slow on small VMs, so blocks are large and few. */
const SLOTS = 3;
/** Inputs smaller than this are hashed inline: a worker round trip costs more. */
const INLINE_BYTES = 1 << 20;

interface Pending {
  slot: number;
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
  /** Blocks for whoever writes the chunks out (IngestOptions.staging). */
  readonly staging: Staging | undefined;

  private constructor(opts: IngestOptions) {
    const params = checkChunkerParams(opts.params);
    this.blockBytes = opts.blockBytes ?? 12 << 20;
    this.slotBytes = this.blockBytes + params.max;
    this.chunker = new WasmChunker(params, SLOTS * this.slotBytes, opts.staging ? Staging.bytesFor(opts.staging) : 0);
    if (opts.staging) this.staging = new Staging(this.chunker.memory, this.chunker.extraOffset, opts.staging, this.chunker.copy);
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
    const chunks = new ChunkList();
    const pending: Pending[] = [];
    /** per slot: settles when the caller is done with the slot's chunks */
    const released: Promise<unknown>[] = new Array(SLOTS).fill(Promise.resolve());
    let size = 0;
    let slot = 0;
    let carryAt = 0;
    let carryLen = 0;
    let eof = false;
    // Decided on the first block: small inputs are hashed inline, others by the pool.
    let inlineSha: ReturnType<typeof sha256> | undefined;
    let stream = 0;

    const drain = async () => {
      const p = pending.shift()!;
      const ids = await p.ids;
      const batch: Chunk[] = new Array(p.starts.length);
      for (let i = 0; i < p.starts.length; i++) {
        const idBytes = ids.subarray(32 * i, 32 * i + 32);
        chunks.push(idBytes, p.lengths[i]!);
        batch[i] = { id: Buffer.from(idBytes.buffer, idBytes.byteOffset, 32).toString('hex'), key: idBytes, data: mem.subarray(p.starts[i]!, p.starts[i]! + p.lengths[i]!) };
      }
      const done = batch.length > 0 ? Promise.resolve(onChunks(batch)) : Promise.resolve();
      // Awaited when the slot comes round again; until then a failure must not count as unhandled.
      done.catch(() => {});
      released[p.slot] = done;
    };

    try {
      while (!eof) {
        await released[slot];
        const base = DATA_OFFSET + slot * this.slotBytes;
        const limit = base + this.slotBytes;
        if (carryLen > 0) mem.copyWithin(base, carryAt, carryAt + carryLen);
        const fresh = base + carryLen;
        let filled = fresh;
        while (filled < limit) {
          const n = await source.read(mem.subarray(filled, limit));
          if (n === 0) {
            eof = true;
            break;
          }
          filled += n;
          size += n;
        }
        onProgress?.(size);
        if (!inlineSha && !stream) {
          if (this.pool && !(eof && size < INLINE_BYTES)) stream = this.pool.newShaStream();
          else inlineSha = sha256();
        }

        const starts: number[] = [];
        const lengths: number[] = [];
        let start = base;
        while (start < filled) {
          const cut = this.chunker.findCut(start, filled, eof);
          if (cut < 0) break;
          starts.push(start);
          lengths.push(cut - start);
          start = cut;
        }
        carryAt = start;
        carryLen = filled - start;
        const s = Uint32Array.from(starts);
        const l = Uint32Array.from(lengths);
        let ids: Promise<Uint8Array> | Uint8Array;
        if (inlineSha) {
          inlineSha.update(mem.subarray(fresh, filled));
          ids = new Uint8Array(32 * s.length);
          for (let i = 0; i < s.length; i++) ids.set(blake3(mem.subarray(s[i]!, s[i]! + l[i]!)), 32 * i);
        } else {
          ids = this.pool!.hash(this.chunker.memory.buffer as SharedArrayBuffer, s, l, { stream, offset: fresh, length: filled - fresh });
        }
        pending.push({ slot, starts: s, lengths: l, ids });
        // Keep the workers busy: hand results on once a slot or two are in flight.
        while (pending.length >= SLOTS - 1 || (eof && pending.length > 0)) await drain();
        slot = (slot + 1) % SLOTS;
      }
      await Promise.all(released);
    } catch (err) {
      // Let in-flight hashing and writes settle before the slots are reused by a later call.
      await Promise.allSettled([...pending.map((p) => p.ids), ...released]);
      if (stream) await this.pool!.shaDigest(stream).catch(() => {});
      throw err;
    }
    const digest = inlineSha ? inlineSha.digest('hex') : await this.pool!.shaDigest(stream);
    return { size, sha256: digest, chunks };
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
