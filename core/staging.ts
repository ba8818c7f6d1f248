import { copyableMemory } from './fastcdc.ts';

/**
 * A staging area: a few fixed-size blocks, aligned for direct I/O, in a shared
 * WebAssembly memory, that file writers fill and hand to the kernel whole.
 *
 * Why blocks in that memory: a store's writes go out with O_DIRECT (no page
 * cache: on a VM whose host lazily backs guest memory, filling new page-cache
 * pages cost 0.3–4 CPU-s per GiB, direct writes ~0.1), which needs aligned
 * buffers; and bytes that already lie in the same memory (chunks the Ingestor
 * found) are copied in by WebAssembly's memory.copy, a memmove, where a
 * typed-array copy out of shared memory goes byte by byte whenever source and
 * target are differently aligned (~4x slower).
 *
 * Blocks are lent out (acquire/release) so that several files share one area;
 * a borrower waits when all are out, which paces producers to the disk.
 */
export const DIRECT_ALIGN = 4096;

export interface StagingSpec {
  blockBytes: number;
  blocks: number;
}

export const DEFAULT_STAGING: StagingSpec = { blockBytes: 2 << 20, blocks: 4 };

export class Staging {
  readonly blockBytes: number;
  readonly blocks: number;
  private readonly bytes: Uint8Array;
  private readonly free: number[] = [];
  /** holders of each lent block: it comes back when the last one releases it */
  private readonly holders: number[];
  private readonly waiters: ((block: number) => void)[] = [];

  /**
   * `base`: where the area starts in `memory` (a multiple of DIRECT_ALIGN);
   * `copy`: memmove on absolute offsets of `memory`.
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly base: number,
    spec: StagingSpec,
    private readonly copy: (dst: number, src: number, n: number) => void,
  ) {
    if (base % DIRECT_ALIGN !== 0) throw new Error(`staging base ${base} is not ${DIRECT_ALIGN}-aligned`);
    if (spec.blockBytes <= 0 || spec.blockBytes % DIRECT_ALIGN !== 0) throw new Error(`staging block size ${spec.blockBytes} is not a positive multiple of ${DIRECT_ALIGN}`);
    if (spec.blocks < 2) throw new Error('staging needs at least two blocks (one filling, one being written)');
    this.blockBytes = spec.blockBytes;
    this.blocks = spec.blocks;
    this.bytes = new Uint8Array(memory.buffer);
    if (base + spec.blocks * spec.blockBytes > this.bytes.length) throw new Error('staging area does not fit its memory');
    for (let i = spec.blocks - 1; i >= 0; i--) this.free.push(i);
    this.holders = new Array<number>(spec.blocks).fill(0);
  }

  /** A staging area in a memory of its own (writers not fed by an Ingestor). */
  static standalone(spec: StagingSpec = DEFAULT_STAGING): Staging {
    const { memory, copy } = copyableMemory(spec.blockBytes * spec.blocks);
    return new Staging(memory, 0, spec, copy);
  }

  static bytesFor(spec: StagingSpec): number {
    return spec.blockBytes * spec.blocks;
  }

  /** A view of block `i` (its address is DIRECT_ALIGN-aligned). */
  block(i: number): Uint8Array {
    return this.bytes.subarray(this.base + i * this.blockBytes, this.base + (i + 1) * this.blockBytes);
  }

  /** Copies `src` into block `i` at `at` (the caller keeps within the block). */
  copyIn(i: number, at: number, src: Uint8Array): void {
    const dst = this.base + i * this.blockBytes + at;
    if (src.buffer === this.memory.buffer) this.copy(dst, src.byteOffset, src.length);
    else this.bytes.set(src, dst);
  }

  /** The offset of block `i` in the memory's buffer (for a worker given the buffer). */
  offsetOf(i: number): number {
    return this.base + i * this.blockBytes;
  }

  /** The memory's buffer, shareable with workers. */
  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as SharedArrayBuffer;
  }

  tryAcquire(): number | undefined {
    const b = this.free.pop();
    if (b !== undefined) this.holders[b] = 1;
    return b;
  }

  acquire(): Promise<number> {
    const b = this.tryAcquire();
    if (b !== undefined) return Promise.resolve(b);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** One more holder of a lent block (e.g. a hash of it in flight while it is written). */
  retain(i: number): void {
    if (this.holders[i]! < 1) throw new Error(`staging block ${i} is not lent out`);
    this.holders[i]!++;
  }

  release(i: number): void {
    if (this.holders[i]! < 1) throw new Error(`staging block ${i} released twice`);
    if (--this.holders[i]! > 0) return;
    const next = this.waiters.shift();
    if (next) {
      this.holders[i] = 1;
      next(i);
    } else this.free.push(i);
  }
}
