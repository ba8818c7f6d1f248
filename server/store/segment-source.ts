import { blake3Hex } from '../../core/hash.ts';
import type { StorageBackend } from '../storage/backend.ts';
import { ObjectMissing, ObjectTruncated } from '../storage/errors.ts';
import { PackDamaged, PackMissing } from './errors.ts';
import { packKey } from './pack-keys.ts';

/**
 * Streams bytes that live in packs, in bounded memory: the engine behind file
 * GETs, tar streams and fetch packs.
 *
 * Output is described as segments: one ranged read of whole blobs lying next to
 * each other in one pack, of which `from..to` is sent (a Range request trims the
 * first and last). Segments are read ahead into a small pool of buffers; a
 * buffer returns to the pool only when the socket has taken its bytes (the
 * write callback), so a slow client holds at most `pool` buffers and never
 * makes the server buffer more.
 */
export interface Segment {
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
  /** the whole blobs the read covers, in order, to re-hash */
  readonly blobs: readonly { readonly id: string; readonly length: number }[];
  /** the part of the read to send */
  readonly from: number;
  readonly to: number;
}

/** Reads of up to this much are merged from adjacent blobs. */
export const SEGMENT_BYTES = 4 << 20;

/** Appends a whole blob to a list of segments, merging it into the last one when adjacent in the same pack. */
export class SegmentPlanner {
  readonly segments: Segment[] = [];

  add(id: string, pack: string, offset: number, length: number, from = 0, to = length): void {
    const last = this.segments[this.segments.length - 1] as { -readonly [K in keyof Segment]: Segment[K] } | undefined;
    if (last && last.pack === pack && last.offset + last.length === offset && last.to === last.length && from === 0 && last.length + length <= SEGMENT_BYTES) {
      (last.blobs as { id: string; length: number }[]).push({ id, length });
      last.to = last.length + to;
      last.length += length;
      return;
    }
    this.segments.push({ pack, offset, length, blobs: [{ id, length }], from, to });
  }
}

class BufferPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private waiter: (() => void) | undefined;

  constructor(private readonly size: number, private readonly max: number) {}

  /** A buffer of at least `length` bytes, or undefined when all are out. */
  take(length: number): Buffer | undefined {
    if (length > this.size) return Buffer.allocUnsafeSlow(length);
    const b = this.free.pop();
    if (b) return b;
    if (this.allocated >= this.max) return undefined;
    this.allocated++;
    return Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    if (buf.length === this.size) this.free.push(buf);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  released(): Promise<void> {
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

export interface SourceOptions {
  /** re-hash the blobs of every segment, or only of the first (which is read before a response starts) */
  verify: 'first' | 'all';
  /** reads in flight */
  ahead?: number;
}

interface Pending {
  buf: Buffer;
  done: Promise<Buffer>;
}

export class SegmentSource {
  private readonly pool: BufferPool;
  private readonly queue: Pending[] = [];
  private readonly ahead: number;
  private index = 0;
  private cancelled = false;
  /** bytes handed out so far */
  sent = 0;

  constructor(
    private readonly backend: StorageBackend,
    private readonly segments: readonly Segment[],
    private readonly opts: SourceOptions,
  ) {
    this.ahead = opts.ahead ?? (backend.kind === 'azure' ? 3 : 2);
    this.pool = new BufferPool(SEGMENT_BYTES, this.ahead + 2);
  }

  get total(): number {
    return this.segments.reduce((n, s) => n + (s.to - s.from), 0);
  }

  private fill(): void {
    while (!this.cancelled && this.queue.length < this.ahead && this.index < this.segments.length) {
      const seg = this.segments[this.index]!;
      const buf = this.pool.take(seg.length);
      if (!buf) return;
      const verify = this.opts.verify === 'all' || this.index === 0;
      this.index++;
      const done = this.read(seg, buf, verify);
      // A read that fails after the consumer has gone must not become an unhandled rejection.
      done.catch(() => {});
      this.queue.push({ buf, done });
    }
  }

  private async read(seg: Segment, buf: Buffer, verify: boolean): Promise<Buffer> {
    try {
      await this.backend.readInto(packKey(seg.pack), seg.offset, seg.length, buf);
    } catch (err) {
      if (err instanceof ObjectMissing) throw new PackMissing(seg.pack);
      if (err instanceof ObjectTruncated) throw new PackDamaged(seg.pack, `it is shorter than the index says (${err.message})`);
      throw err;
    }
    if (verify) {
      let at = 0;
      for (const b of seg.blobs) {
        const actual = blake3Hex(buf.subarray(at, at + b.length));
        if (actual !== b.id) throw new PackDamaged(seg.pack, `blob ${b.id} at offset ${seg.offset + at} hashes to ${actual}`);
        at += b.length;
      }
    }
    return buf.subarray(seg.from, seg.to);
  }

  /** The next bytes to send, or null at the end. Give the view back with release() once written. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      this.fill();
      const head = this.queue.shift();
      if (head) {
        const view = await head.done;
        this.fill();
        this.sent += view.length;
        return view;
      }
      if (this.index >= this.segments.length || this.cancelled) return null;
      await this.pool.released();
    }
  }

  release(view: Buffer): void {
    this.pool.give(Buffer.from(view.buffer, 0, view.buffer.byteLength));
  }

  cancel(): void {
    this.cancelled = true;
  }
}
