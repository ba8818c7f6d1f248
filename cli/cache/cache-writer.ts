import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { encodeFileManifest, fileManifestId, type FileManifest } from '../../core/file-manifest.ts';
import { BlobType, PackBuilder, type PackIndex } from '../../core/pack.ts';
import { encodeTreeManifest, treeManifestId, treeSha256, type TreeManifest } from '../../core/tree-manifest.ts';
import { fsError } from '../fs-util.ts';
import type { CacheIndex } from './cache-index.ts';
import type { PackFiles } from './pack-files.ts';

/**
 * Adds blobs to a local cache, deduplicated against everything already indexed
 * and everything written in this session. Blobs go into a temp pack file; a full
 * pack is finished (index + trailer), its tail read back and checked, published
 * by rename, then indexed. Nothing is indexed before its pack is complete and
 * in place, so a crash leaves at worst an unindexed temp file or pack, which
 * `dvx fsck --repair` cleans up or indexes.
 */
/** Queued bytes are written once this much accumulates. */
const QUEUE_BYTES = 4 << 20;

interface OpenPack {
  builder: PackBuilder;
  fd: number;
  tmpPath: string;
  /** Views to write, adjacent ones merged: writev over SharedArrayBuffer views is ~8x slower than write. */
  queued: Uint8Array[];
  queuedBytes: number;
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

export class CacheWriter {
  private current: OpenPack | undefined;
  readonly stats: WriterStats = { newBlobs: 0, newBytes: 0, newChunkBytes: 0, packs: 0 };
  /** Ids in packs finished by this writer: lets has() skip the database for them. */
  private readonly written = new Set<string>();
  readonly published: PackIndex[] = [];

  constructor(
    private readonly index: CacheIndex,
    private readonly packs: PackFiles,
    private readonly opts: { fsync?: boolean } = {},
  ) {}

  has(id: string): boolean {
    return this.written.has(id) || (this.current?.builder.has(id) ?? false) || this.index.has(id);
  }

  /** Stores a blob unless present; returns whether it was new. `data` may be reused after the call. */
  put(id: string, type: BlobType, data: Uint8Array): boolean {
    if (this.has(id)) return false;
    this.append(id, type, data, true);
    return true;
  }

  /**
   * Stores a batch of chunks whose views stay valid only until this returns:
   * queued writes are flushed before returning.
   */
  putChunks(chunks: ReadonlyArray<{ id: string; data: Uint8Array }>): number {
    let fresh = 0;
    for (const c of chunks) {
      if (this.has(c.id)) continue;
      this.append(c.id, BlobType.chunk, c.data, false);
      fresh += c.data.length;
    }
    this.flushQueued();
    return fresh;
  }

  putFileManifest(m: FileManifest): string {
    const bytes = encodeFileManifest(m);
    const id = fileManifestId(bytes);
    this.put(id, BlobType.fileManifest, bytes);
    // Recorded even when the manifest existed: the sha256 may be new to the index.
    this.open().files.push({ sha256: m.sha256, manifest: id });
    return id;
  }

  putTreeManifest(t: TreeManifest): { id: string; sha256: string } {
    const bytes = encodeTreeManifest(t);
    const id = treeManifestId(bytes);
    this.put(id, BlobType.treeManifest, bytes);
    return { id, sha256: treeSha256(bytes) };
  }

  private open(): OpenPack {
    if (this.current) return this.current;
    const tmpDir = this.packs.tmpDir;
    const tmpPath = join(tmpDir, `pack-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(tmpDir, { recursive: true });
      this.current = { builder: new PackBuilder(), fd: openSync(tmpPath, 'wx'), tmpPath, queued: [], queuedBytes: 0, files: [] };
    } catch (err) {
      throw fsError(err, tmpPath, 'create');
    }
    return this.current;
  }

  private append(id: string, type: BlobType, data: Uint8Array, copy: boolean): void {
    let pack = this.open();
    if (!pack.builder.fits(data.length)) {
      this.finishPack();
      pack = this.open();
    }
    pack.builder.add(id, type, data.length);
    const last = pack.queued[pack.queued.length - 1];
    if (!copy && last && last.buffer === data.buffer && last.byteOffset + last.byteLength === data.byteOffset) {
      pack.queued[pack.queued.length - 1] = new Uint8Array(data.buffer, last.byteOffset, last.byteLength + data.byteLength);
    } else {
      pack.queued.push(copy ? Buffer.from(data) : data);
    }
    pack.queuedBytes += data.length;
    if (pack.queuedBytes >= QUEUE_BYTES) this.flushQueued();
    this.stats.newBlobs++;
    this.stats.newBytes += data.length;
    if (type === BlobType.chunk) this.stats.newChunkBytes += data.length;
  }

  private flushQueued(): void {
    const pack = this.current;
    if (!pack || pack.queued.length === 0) return;
    try {
      writeAll(pack.fd, pack.queued);
    } catch (err) {
      throw fsError(err, pack.tmpPath, 'write');
    } finally {
      pack.queued = [];
      pack.queuedBytes = 0;
    }
  }

  private finishPack(): void {
    const pack = this.current;
    if (!pack) return;
    if (pack.builder.count === 0) {
      // Only file-manifest mappings: nothing to pack.
      this.index.addFiles(pack.files);
      this.discard();
      return;
    }
    this.flushQueued();
    const { tail, index } = pack.builder.finish();
    try {
      writeAll(pack.fd, [tail]);
      if (this.opts.fsync) fsyncSync(pack.fd);
      closeSync(pack.fd);
    } catch (err) {
      throw fsError(err, pack.tmpPath, 'write');
    }
    this.current = undefined;
    this.packs.publish(pack.tmpPath, index.packId);
    // Read the published tail back, as the next reader will: catches short writes.
    const check = this.packs.readIndex(index.packId);
    if (check.packId !== index.packId || check.packBytes !== index.packBytes) {
      this.packs.remove(index.packId);
      throw new DvxError('pack_write_failed', `pack ${index.packId} did not read back as written`, 'check the disk and run the command again');
    }
    this.index.addPack(index, pack.files);
    for (const e of index.entries) this.written.add(e.id);
    this.published.push(index);
    this.stats.packs++;
  }

  /** Finishes the open pack, if any: after this every put blob is indexed. */
  flush(): void {
    this.finishPack();
  }

  /** Drops the unfinished pack (on error). Blobs in finished packs stay: they are valid. */
  discard(): void {
    const pack = this.current;
    if (!pack) return;
    this.current = undefined;
    try {
      closeSync(pack.fd);
    } catch {
      // already closed
    }
    rmSync(pack.tmpPath, { force: true });
  }
}

function writeAll(fd: number, buffers: Uint8Array[]): void {
  for (const b of buffers) {
    let done = 0;
    while (done < b.length) {
      const n = writeSync(fd, b, done, b.length - done);
      if (n === 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      done += n;
    }
  }
}
