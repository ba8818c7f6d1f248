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

/** Reads of up to this much are merged from adjacent blobs (buffered reads, and a streamed response's first read). */
export const SEGMENT_BYTES = 2 << 20;
/**
 * Streamed reads (object stores) go up to this much in one request: each
 * request costs a round trip and per-request work in the store, and a stream
 * holds no buffer of its own.
 */
export const STREAM_SEGMENT_BYTES = 64 << 20;

/** Appends a whole blob to a list of segments, merging it into the last one when adjacent in the same pack. */
export class SegmentPlanner {
  readonly segments: Segment[] = [];
  private made = 0;

  /** `first` bounds the first segment, `max` the others. */
  constructor(private readonly max = SEGMENT_BYTES, private readonly first = max) {}

  add(id: string, pack: string, offset: number, length: number, from = 0, to = length): void {
    const last = this.segments[this.segments.length - 1] as { -readonly [K in keyof Segment]: Segment[K] } | undefined;
    const limit = this.made <= 1 ? this.first : this.max;
    if (last && last.pack === pack && last.offset + last.length === offset && last.to === last.length && from === 0 && last.length + length <= limit) {
      (last.blobs as { id: string; length: number }[]).push({ id, length });
      last.to = last.length + to;
      last.length += length;
      return;
    }
    this.segments.push({ pack, offset, length, blobs: [{ id, length }], from, to });
    this.made++;
  }
}

/** The planner a backend reads best with. */
export function plannerFor(backend: StorageBackend): SegmentPlanner {
  return backend.kind === 'azure' ? new SegmentPlanner(STREAM_SEGMENT_BYTES, SEGMENT_BYTES) : new SegmentPlanner();
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
  private readonly segments: Iterator<Segment>;
  private next_: Segment | undefined;
  private exhausted = false;
  private first = true;
  private cancelled = false;
  /** object stores: segments after the first are streamed, not buffered */
  private readonly streamed: boolean;
  private current: AsyncIterator<Buffer> | undefined;
  private prefetched: { seg: Segment; stream: Promise<AsyncIterable<Buffer>> } | undefined;
  private readonly pooled = new WeakSet<Buffer>();
  /** bytes handed out so far */
  sent = 0;

  constructor(
    private readonly backend: StorageBackend,
    segments: Iterable<Segment>,
    private readonly opts: SourceOptions,
  ) {
    this.segments = segments[Symbol.iterator]();
    this.ahead = opts.ahead ?? (backend.kind === 'azure' ? 3 : 2);
    // One buffer more than the reads in flight: the one the socket is still sending.
    this.pool = new BufferPool(SEGMENT_BYTES, this.ahead + 1);
    this.streamed = backend.kind === 'azure';
  }

  private peek(): Segment | undefined {
    if (this.next_ === undefined && !this.exhausted) {
      const r = this.segments.next();
      if (r.done) this.exhausted = true;
      else this.next_ = r.value;
    }
    return this.next_;
  }

  private fill(): void {
    if (this.streamed && !this.first) return;
    for (let seg = this.peek(); !this.cancelled && this.queue.length < this.ahead && seg && !(this.streamed && !this.first); seg = this.peek()) {
      const buf = this.pool.take(seg.length);
      if (!buf) return;
      this.next_ = undefined;
      const verify = this.opts.verify === 'all' || this.first;
      this.first = false;
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
    if (this.streamed && !this.first && this.queue.length === 0) return this.nextStreamed();
    for (;;) {
      this.fill();
      const head = this.queue.shift();
      if (head) {
        const view = await head.done;
        this.pooled.add(view);
        this.fill();
        this.sent += view.length;
        return view;
      }
      if (this.peek() === undefined || this.cancelled) return null;
      await this.pool.released();
    }
  }

  release(view: Buffer): void {
    if (!this.pooled.has(view)) return;
    this.pooled.delete(view);
    this.pool.give(Buffer.from(view.buffer, 0, view.buffer.byteLength));
  }

  /** Streams segment after segment straight from storage; blobs are re-hashed on the way when verify is 'all'. */
  private async nextStreamed(): Promise<Buffer | null> {
    for (;;) {
      if (this.cancelled) return null;
      if (!this.current) {
        const seg = this.peek();
        if (!seg) return null;
        this.next_ = undefined;
        const opened = this.prefetched?.seg === seg ? this.prefetched.stream : this.open(seg);
        this.prefetched = undefined;
        this.current = this.streamSegment(seg, opened)[Symbol.asyncIterator]();
        // Ask for the next segment now: its first bytes arrive while this one drains (TCP backpressure bounds what waits).
        const after = this.peek();
        if (after) this.prefetched = { seg: after, stream: this.open(after) };
      }
      const r = await this.current.next();
      if (!r.done) {
        this.sent += r.value.length;
        return r.value;
      }
      this.current = undefined;
    }
  }

  private open(seg: Segment): Promise<AsyncIterable<Buffer>> {
    const p = this.backend.readStream(packKey(seg.pack), seg.offset, seg.length).then(
      (r) => r as AsyncIterable<Buffer>,
      (err) => {
        throw err instanceof ObjectMissing ? new PackMissing(seg.pack) : err;
      },
    );
    p.catch(() => {}); // a prefetch never consumed must not be an unhandled rejection
    return p;
  }

  private async *streamSegment(seg: Segment, opened: Promise<AsyncIterable<Buffer>>): AsyncGenerator<Buffer> {
    const stream = await opened;
    const verify = this.opts.verify === 'all';
    let at = 0; // offset in the segment of the next byte from storage
    let bi = 0;
    let held: Buffer[] = [];
    let heldBytes = 0;
    for await (const chunk of stream) {
      if (!verify) {
        const lo = Math.max(seg.from - at, 0);
        const hi = Math.min(seg.to - at, chunk.length);
        at += chunk.length;
        if (hi > lo) yield chunk.subarray(lo, hi);
        continue;
      }
      // Hold each blob's bytes until it is whole and checked.
      held.push(chunk);
      heldBytes += chunk.length;
      while (bi < seg.blobs.length && heldBytes >= seg.blobs[bi]!.length) {
        const all = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        const b = seg.blobs[bi++]!;
        const bytes = all.subarray(0, b.length);
        const actual = blake3Hex(bytes);
        if (actual !== b.id) throw new PackDamaged(seg.pack, `blob ${b.id} at offset ${seg.offset + at} hashes to ${actual}`);
        const lo = Math.max(seg.from - at, 0);
        const hi = Math.min(seg.to - at, b.length);
        if (hi > lo) yield bytes.subarray(lo, hi);
        at += b.length;
        const rest = all.subarray(b.length);
        held = rest.length > 0 ? [rest] : [];
        heldBytes = rest.length;
      }
    }
    const expected = verify ? seg.length - at - heldBytes : seg.length - at;
    if (expected !== 0) throw new PackDamaged(seg.pack, `it is shorter than the index says (a read at ${seg.offset} ended early)`);
  }

  cancel(): void {
    this.cancelled = true;
    // An opened stream nobody will read must not hold its connection.
    void this.prefetched?.stream.then((st) => (st as unknown as { destroy?: () => void }).destroy?.(), () => {});
    this.prefetched = undefined;
    void this.current?.return?.(undefined);
  }
}
