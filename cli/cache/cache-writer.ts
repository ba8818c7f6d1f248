import { close as closeCb, closeSync, fsyncSync, mkdirSync, openSync, rmSync, write as writeCb, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DvxError } from '../../core/errors.ts';
import { encodeFileManifest, encodeFileManifestEntries, fileManifestId, type FileManifest } from '../../core/file-manifest.ts';
import { BlobType, PackBuilder } from '../../core/pack.ts';
import { encodeTreeManifest, treeManifestId, treeSha256, type TreeManifest } from '../../core/tree-manifest.ts';
import { fsError } from '../fs-util.ts';
import type { CacheIndex } from './cache-index.ts';
import type { PackFiles } from './pack-files.ts';

/**
 * Adds blobs to a local cache, deduplicated against everything already indexed
 * and everything written in this session.
 *
 * Blobs go into a temp pack file with positional writes on libuv's thread
 * pool, so the thread that chunks and hashes never waits for the disk (or for
 * the kernel throttling dirty pages). A full pack is sealed and finished in the
 * background: once all its writes have landed, its index and trailer are
 * written, its tail read back and checked, the file published by rename, then
 * indexed. Nothing is indexed before its pack is complete and in place, so a
 * crash leaves at worst an unindexed temp file or pack, which
 * `dvx fsck --repair` cleans up or indexes.
 */
const write = promisify(writeCb);
const close = promisify(closeCb);

interface OpenPack {
  builder: PackBuilder;
  fd: number;
  tmpPath: string;
  /** every write into the pack, settled or not */
  writes: Promise<void>[];
  files: { sha256: string; manifest: string }[];
}

export interface WriterStats {
  /** blobs and bytes newly stored */
  newBlobs: number;
  newBytes: number;
  /** chunk bytes newly stored (what "new data" means to a user) */
  newChunkBytes: number;
  packs: number;
}

async function writeAt(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await write(fd, data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
    done += bytesWritten;
  }
}

export class CacheWriter {
  private current: OpenPack | undefined;
  /** full packs being finished: their blobs count as present until indexed */
  private readonly sealed = new Set<OpenPack>();
  private finishing: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;
  readonly stats: WriterStats = { newBlobs: 0, newBytes: 0, newChunkBytes: 0, packs: 0 };
  readonly publishedIds: string[] = [];

  constructor(
    private readonly index: CacheIndex,
    private readonly packs: PackFiles,
    private readonly opts: { fsync?: boolean } = {},
  ) {}

  has(id: string): boolean {
    if (this.current?.builder.has(id)) return true;
    for (const p of this.sealed) if (p.builder.has(id)) return true;
    return this.index.has(id);
  }

  /** Stores a blob unless present (copying `data`); returns whether it was new. */
  put(id: string, type: BlobType, data: Uint8Array): boolean {
    if (this.has(id)) return false;
    const pack = this.room(data.length);
    const entry = pack.builder.add(id, type, data.length);
    this.track(pack, writeAt(pack.fd, Buffer.from(data), entry.offset));
    this.count(type, data.length);
    return true;
  }

  /**
   * Stores the chunks not present yet. The returned promise resolves (with the
   * bytes newly stored) once their bytes are written: until then the views must
   * stay valid. Adjacent new chunks go out in one write.
   */
  putChunks(chunks: ReadonlyArray<{ id: string; data: Uint8Array }>): Promise<number> {
    this.throwIfFailed();
    const writes: Promise<void>[] = [];
    let fresh = 0;
    let run: { pack: OpenPack; start: number; view: Uint8Array } | undefined;
    const flushRun = () => {
      if (!run) return;
      writes.push(this.track(run.pack, writeAt(run.pack.fd, run.view, run.start)));
      run = undefined;
    };
    for (const c of chunks) {
      if (this.has(c.id)) continue;
      const before = this.current;
      const pack = this.room(c.data.length);
      if (pack !== before) flushRun();
      const entry = pack.builder.add(c.id, BlobType.chunk, c.data.length);
      const v = c.data;
      if (run && run.pack === pack && run.start + run.view.length === entry.offset && run.view.buffer === v.buffer && run.view.byteOffset + run.view.length === v.byteOffset) {
        run.view = new Uint8Array(v.buffer, run.view.byteOffset, run.view.length + v.length);
      } else {
        flushRun();
        run = { pack, start: entry.offset, view: v };
      }
      this.count(BlobType.chunk, v.length);
      fresh += v.length;
    }
    flushRun();
    return Promise.all(writes).then(() => fresh);
  }

  putFileManifest(m: FileManifest): string {
    return this.putEncodedFileManifest(encodeFileManifest(m), m.sha256);
  }

  /** As putFileManifest, from entries in their encoded form (core/chunk-list.ts). */
  putFileManifestEntries(meta: Omit<FileManifest, 'chunks'>, entries: Uint8Array): string {
    return this.putEncodedFileManifest(encodeFileManifestEntries(meta, entries), meta.sha256);
  }

  private putEncodedFileManifest(bytes: Buffer, sha256: string): string {
    const id = fileManifestId(bytes);
    this.put(id, BlobType.fileManifest, bytes);
    // Recorded even when the manifest existed: the sha256 may be new to the index.
    this.room(0).files.push({ sha256, manifest: id });
    return id;
  }

  putTreeManifest(t: TreeManifest): { id: string; sha256: string } {
    const bytes = encodeTreeManifest(t);
    const id = treeManifestId(bytes);
    this.put(id, BlobType.treeManifest, bytes);
    return { id, sha256: treeSha256(bytes) };
  }

  private count(type: BlobType, bytes: number): void {
    this.stats.newBlobs++;
    this.stats.newBytes += bytes;
    if (type === BlobType.chunk) this.stats.newChunkBytes += bytes;
  }

  /** Registers a write with its pack; its failure fails the writer (and is not "unhandled"). */
  private track(pack: OpenPack, w: Promise<void>): Promise<void> {
    const handled = w.catch((err) => {
      this.failure ??= { err: fsError(err, pack.tmpPath, 'write') };
      throw this.failure.err;
    });
    handled.catch(() => {});
    pack.writes.push(handled);
    return handled;
  }

  /** The open pack, sealing it first if `length` more bytes would not fit. */
  private room(length: number): OpenPack {
    this.throwIfFailed();
    if (this.current && length > 0 && !this.current.builder.fits(length)) this.seal();
    if (this.current) return this.current;
    const tmpDir = this.packs.tmpDir;
    const tmpPath = join(tmpDir, `pack-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(tmpDir, { recursive: true });
      this.current = { builder: new PackBuilder(), fd: openSync(tmpPath, 'wx'), tmpPath, writes: [], files: [] };
    } catch (err) {
      throw fsError(err, tmpPath, 'create');
    }
    return this.current;
  }

  private seal(): void {
    const pack = this.current;
    if (!pack) return;
    this.current = undefined;
    this.sealed.add(pack);
    this.finishing = this.finishing
      .then(() => this.finish(pack))
      .catch((err) => {
        this.failure ??= { err };
      });
  }

  private async finish(pack: OpenPack): Promise<void> {
    await Promise.all(pack.writes);
    if (pack.builder.count === 0) {
      // Only file-manifest mappings: nothing to pack.
      this.index.addFiles(pack.files);
      await close(pack.fd);
      rmSync(pack.tmpPath, { force: true });
      this.sealed.delete(pack);
      return;
    }
    const { tail, index } = pack.builder.finish();
    try {
      writeSync(pack.fd, tail, 0, tail.length, index.dataBytes);
      if (this.opts.fsync) fsyncSync(pack.fd);
      closeSync(pack.fd);
    } catch (err) {
      throw fsError(err, pack.tmpPath, 'write');
    }
    this.packs.publish(pack.tmpPath, index.packId);
    // Read the published tail back, as the next reader will: catches short writes.
    const check = this.packs.readIndex(index.packId);
    if (check.packId !== index.packId || check.packBytes !== index.packBytes) {
      this.packs.remove(index.packId);
      throw new DvxError('pack_write_failed', `pack ${index.packId} did not read back as written`, 'check the disk and run the command again');
    }
    this.index.addPack(index, pack.files);
    this.sealed.delete(pack);
    this.publishedIds.push(index.packId);
    this.stats.packs++;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  /** Finishes every pack: after this every put blob is indexed (or the first failure is thrown). */
  async flush(): Promise<void> {
    this.seal();
    await this.finishing;
    this.throwIfFailed();
  }

  /** Drops what is not finished (on error). Blobs in finished packs stay: they are valid. */
  async discard(): Promise<void> {
    const open = [...(this.current ? [this.current] : []), ...this.sealed];
    this.current = undefined;
    await this.finishing;
    for (const pack of open) {
      await Promise.allSettled(pack.writes);
      try {
        closeSync(pack.fd);
      } catch {
        // already closed
      }
      rmSync(pack.tmpPath, { force: true });
      this.sealed.delete(pack);
    }
  }
}
