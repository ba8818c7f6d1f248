import { mkdirSync, rmSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { encodeFileManifest, encodeFileManifestEntries, fileManifestId, type FileManifest } from '../../core/file-manifest.ts';
import { BlobType, PackBuilder, type PackIndex } from '../../core/pack.ts';
import { Staging } from '../../core/staging.ts';
import { encodeTreeManifest, treeManifestId, treeSha256, type TreeManifest } from '../../core/tree-manifest.ts';
import { fsError } from '../fs-util.ts';
import type { CacheIndex } from './cache-index.ts';
import type { PackFiles } from './pack-files.ts';
import { StagedFile } from './staged-file.ts';

/**
 * Adds blobs to a local cache, deduplicated against everything already indexed
 * and everything written in this session.
 *
 * Blobs are appended to a temp pack file through a staging area
 * (./staged-file.ts: whole aligned blocks, direct I/O, on libuv's thread pool),
 * so the thread that chunks and hashes never waits for the disk. A full pack is
 * sealed (its index and trailer appended) and finished in the background: once
 * all its writes have landed it is published by rename, its tail read back and
 * checked, and it joins the packs waiting to be indexed. Those are indexed a
 * few at a time in one transaction (one per pack rewrote most of the index's
 * pages each time: ~80 MB of SQLite writes for a 1 GiB file). Nothing is
 * indexed before its pack is complete and in place, so a crash leaves at worst
 * an unindexed temp file or a few unindexed packs, which `dvx fsck --repair`
 * cleans up or indexes.
 */
interface OpenPack {
  builder: PackBuilder;
  file: StagedFile;
  tmpPath: string;
  files: { sha256: string; manifest: string }[];
  /** set when sealed: every byte appended, writes finishing */
  ended?: Promise<void>;
  index?: PackIndex;
  /** the index and trailer as appended, to compare with what reads back */
  tail?: Buffer;
}

export interface WriterStats {
  /** blobs and bytes newly stored */
  newBlobs: number;
  newBytes: number;
  /** chunk bytes newly stored (what "new data" means to a user) */
  newChunkBytes: number;
  packs: number;
}

/** Published packs indexed together (each transaction rewrites the index pages it touches). */
const INDEX_BATCH = 8;

export class CacheWriter {
  private current: OpenPack | undefined;
  /** full packs being finished: their blobs count as present until indexed */
  private readonly sealed = new Set<OpenPack>();
  private finishing: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;
  readonly stats: WriterStats = { newBlobs: 0, newBytes: 0, newChunkBytes: 0, packs: 0 };
  readonly publishedIds: string[] = [];

  /** published, not yet indexed (their blobs count as present) */
  private readonly unindexed: OpenPack[] = [];
  /** ids of every blob put and not indexed yet: one lookup, not one per pack in flight */
  private readonly unindexedIds = new Set<string>();
  private staging: Staging | undefined;

  constructor(
    private readonly index: CacheIndex,
    private readonly packs: PackFiles,
    private readonly opts: { fsync?: boolean; staging?: Staging } = {},
  ) {
    this.staging = opts.staging;
  }

  /** `key`, when given, is `id` as its 32 bytes: the index is then asked without parsing the hex. */
  has(id: string, key?: Uint8Array): boolean {
    return this.unindexedIds.has(id) || (key ? this.index.hasKey(key) : this.index.has(id));
  }

  /** Stores a blob unless present (copying `data`); returns whether it was new. */
  put(id: string, type: BlobType, data: Uint8Array): boolean {
    if (this.has(id)) return false;
    const pack = this.room(data.length);
    pack.builder.add(id, type, data.length);
    this.unindexedIds.add(id);
    // Callers may reuse `data` at once: if the append must wait for a block, it waits on a copy.
    pack.file.append(data, { copyIfWaiting: true });
    this.count(type, data.length);
    return true;
  }

  /**
   * Stores the chunks not present yet. The returned promise resolves (with the
   * bytes newly stored) once their bytes are staged: until then the views must
   * stay valid.
   */
  putChunks(chunks: ReadonlyArray<{ id: string; key?: Uint8Array; data: Uint8Array }>): Promise<number> {
    this.throwIfFailed();
    const waits: Promise<void>[] = [];
    let fresh = 0;
    for (const c of chunks) {
      if (this.has(c.id, c.key)) continue;
      const pack = this.room(c.data.length);
      pack.builder.add(c.id, BlobType.chunk, c.data.length, c.key);
      this.unindexedIds.add(c.id);
      const w = pack.file.append(c.data);
      if (w) waits.push(w);
      this.count(BlobType.chunk, c.data.length);
      fresh += c.data.length;
    }
    return waits.length === 0 ? Promise.resolve(fresh) : Promise.all(waits).then(() => fresh);
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

  /** The open pack, sealing it first if `length` more bytes would not fit. */
  private room(length: number): OpenPack {
    this.throwIfFailed();
    if (this.current && length > 0 && !this.current.builder.fits(length)) this.seal();
    if (this.current) return this.current;
    const tmpDir = this.packs.tmpDir;
    const tmpPath = this.packs.newTempPath();
    try {
      mkdirSync(tmpDir, { recursive: true });
      this.staging ??= Staging.standalone();
      this.current = { builder: new PackBuilder(), file: StagedFile.create(tmpPath, this.staging), tmpPath, files: [] };
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
    if (pack.builder.count > 0) {
      const { tail, index } = pack.builder.finish();
      pack.index = index;
      pack.tail = tail;
      pack.file.append(tail, { copyIfWaiting: true });
    }
    pack.ended = pack.file.end({ fsync: this.opts.fsync });
    pack.ended.catch(() => {});
    this.finishing = this.finishing
      .then(() => this.finish(pack))
      .catch((err) => {
        this.failure ??= { err };
      });
  }

  private async finish(pack: OpenPack): Promise<void> {
    try {
      await pack.ended;
    } catch (err) {
      throw fsError(err, pack.tmpPath, 'write');
    } finally {
      await pack.file.close();
    }
    if (!pack.index) {
      // Only file-manifest mappings: nothing to pack.
      rmSync(pack.tmpPath, { force: true });
      this.unindexed.push(pack);
      this.indexPublished(false);
      return;
    }
    const index = pack.index;
    this.packs.publish(pack.tmpPath, index.packId);
    // Read the published tail back, as the next reader will: catches short and misplaced writes.
    if (!this.packs.tailMatches(index.packId, index.packBytes, pack.tail!)) {
      this.packs.remove(index.packId);
      throw new DvxError('pack_write_failed', `pack ${index.packId} did not read back as written`, 'check the disk and run the command again');
    }
    this.unindexed.push(pack);
    this.publishedIds.push(index.packId);
    this.stats.packs++;
    this.indexPublished(false);
  }

  /** Indexes the published packs in one transaction, once there are enough of them (or all, with `all`). */
  private indexPublished(all: boolean): void {
    if (this.unindexed.length === 0 || (!all && this.unindexed.length < INDEX_BATCH)) return;
    const batch = this.unindexed.splice(0);
    this.index.addPacks(batch.map((p) => ({ index: p.index, indexBytes: p.tail, files: p.files })));
    for (const p of batch) {
      this.sealed.delete(p);
      for (const e of p.index?.entries ?? []) this.unindexedIds.delete(e.id);
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  /** Finishes every pack: after this every put blob is indexed (or the first failure is thrown). */
  async flush(): Promise<void> {
    this.seal();
    await this.finishing;
    this.throwIfFailed();
    this.indexPublished(true);
  }

  /**
   * Drops what is not finished (on error). Blobs in finished packs stay: they
   * are valid, and are indexed here.
   */
  async discard(): Promise<void> {
    const open = [...(this.current ? [this.current] : []), ...this.sealed].filter((p) => !this.unindexed.includes(p));
    this.current = undefined;
    await Promise.all(open.map((p) => p.file.close()));
    await this.finishing;
    for (const pack of open) {
      rmSync(pack.tmpPath, { force: true });
      this.sealed.delete(pack);
    }
    try {
      this.indexPublished(true);
    } catch {
      // an unindexed published pack is found and indexed by `dvx fsck --repair`
    }
    this.unindexedIds.clear();
  }
}
