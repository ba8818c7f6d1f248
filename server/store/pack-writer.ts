import { open, type FileHandle } from 'node:fs/promises';
import { DvxError } from '../../core/errors.ts';
import { BlobType, PackBuilder, type PackIndex } from '../../core/pack.ts';
import { packKey } from './pack-keys.ts';
import { readPackIndex } from './pack-scan.ts';
import type { Store } from './store.ts';

/**
 * Packs the server builds itself (plain uploads, gc repacks): blobs are written
 * to a temp file; a full pack is finished, its tail read back and checked,
 * stored, and its pack and blob rows indexed. Indexing a pack makes its blobs
 * exist on the server but visible to no repository: the caller adds membership
 * once everything a manifest needs is stored.
 *
 * Blobs the server already indexes are skipped (deduplication across repositories).
 */
interface OpenPack {
  builder: PackBuilder;
  fh: FileHandle;
  path: string;
  position: number;
}

export class PackWriter {
  private current: OpenPack | undefined;
  private readonly written = new Set<string>();
  readonly published: PackIndex[] = [];
  /** chunk bytes newly stored by this writer */
  newChunkBytes = 0;

  constructor(private readonly store: Store, private readonly opts: { dedup?: boolean } = {}) {}

  /** Whether the server has the blob already, or this writer holds it. */
  has(id: string): boolean {
    return this.written.has(id) || (this.current?.builder.has(id) ?? false) || (this.opts.dedup !== false && this.store.blobs.has(id));
  }

  /** settles when the operations started so far have */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Operations run one at a time in call order. Callers may start the next
   * before the last settles (core/ingest hands over a slot's chunks while the
   * previous slot's are still being written); interleaved, two of them would
   * write into the same open pack at the same position.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Adds blobs unless present. Views in `blobs` may be reused once the promise
   * settles. Returns the bytes newly written.
   */
  addMany(blobs: ReadonlyArray<{ id: string; type: BlobType; data: Uint8Array }>): Promise<number> {
    return this.serial(() => this.addNow(blobs));
  }

  private async addNow(blobs: ReadonlyArray<{ id: string; type: BlobType; data: Uint8Array }>): Promise<number> {
    let fresh = 0;
    let run: Uint8Array[] = [];
    const flushRun = async () => {
      for (const v of mergeAdjacent(run)) await this.write(v);
      run = [];
    };
    for (const b of blobs) {
      if (this.has(b.id)) continue;
      let pack = await this.open();
      if (!pack.builder.fits(b.data.length)) {
        await flushRun();
        await this.finishPack();
        pack = await this.open();
      }
      pack.builder.add(b.id, b.type, b.data.length);
      run.push(b.data);
      fresh += b.data.length;
      if (b.type === BlobType.chunk) this.newChunkBytes += b.data.length;
    }
    await flushRun();
    return fresh;
  }

  add(id: string, type: BlobType, data: Uint8Array): Promise<number> {
    return this.addMany([{ id, type, data }]);
  }

  private async open(): Promise<OpenPack> {
    if (this.current) return this.current;
    const path = this.store.tmp.path('pack');
    this.current = { builder: new PackBuilder(), fh: await open(path, 'wx+'), path, position: 0 };
    return this.current;
  }

  private async write(data: Uint8Array): Promise<void> {
    const pack = this.current!;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await pack.fh.write(data, done, data.length - done, pack.position + done);
      done += bytesWritten;
    }
    pack.position += data.length;
  }

  private async finishPack(): Promise<void> {
    const pack = this.current;
    if (!pack) return;
    this.current = undefined;
    try {
      if (pack.builder.count === 0) return;
      const { tail, index } = pack.builder.finish();
      this.current = pack;
      await this.write(tail);
      this.current = undefined;
      // Read the tail back as a reader will: catches short writes before anything is stored.
      const check = await readPackIndex(index.packBytes, async (offset, length) => {
        const buf = Buffer.alloc(length);
        await pack.fh.read(buf, 0, length, offset);
        return buf;
      });
      if (check.packId !== index.packId) throw new DvxError('pack_write_failed', `pack ${index.packId} did not read back as written`);
      await pack.fh.close();
      await this.store.backend.putFile(packKey(index.packId), pack.path, index.packBytes);
      const now = Date.now();
      this.store.transaction(() => this.store.blobs.addPack(index, now));
      for (const e of index.entries) this.written.add(e.id);
      this.published.push(index);
    } finally {
      await pack.fh.close().catch(() => {});
      await this.store.tmp.remove(pack.path);
    }
  }

  /** Stores the open pack, if any: after this every added blob is stored and indexed. */
  flush(): Promise<void> {
    return this.serial(() => this.finishPack());
  }

  /** Drops the unfinished pack (on error). */
  discard(): Promise<void> {
    return this.serial(() => this.discardNow());
  }

  private async discardNow(): Promise<void> {
    const pack = this.current;
    this.current = undefined;
    if (!pack) return;
    await pack.fh.close().catch(() => {});
    await this.store.tmp.remove(pack.path);
  }
}

/** Views lying back to back in one buffer become one write. */
function mergeAdjacent(views: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const v of views) {
    const last = out[out.length - 1];
    if (last && last.buffer === v.buffer && last.byteOffset + last.byteLength === v.byteOffset) {
      out[out.length - 1] = new Uint8Array(v.buffer, last.byteOffset, last.byteLength + v.byteLength);
    } else out.push(v);
  }
  return out;
}
