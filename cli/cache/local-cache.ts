import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError, FormatError } from '../../core/errors.ts';
import { decodeFileManifest, type FileManifest } from '../../core/file-manifest.ts';
import { loadHashing } from '../../core/hash.ts';
import { BlobType } from '../../core/pack.ts';
import { decodeTreeManifest, type TreeManifest } from '../../core/tree-manifest.ts';
import type { Staging } from '../../core/staging.ts';
import { fsError } from '../fs-util.ts';
import { CacheIndex, type BlobLocation } from './cache-index.ts';
import { CacheLock } from './cache-lock.ts';
import { CacheWriter } from './cache-writer.ts';
import { PackFiles } from './pack-files.ts';

/**
 * The local chunk cache: packs on disk plus their index. Holds every chunk and
 * manifest this clone has added or fetched; a pointer's data can be checked out
 * when its manifest and all its chunks are here.
 */
export class LocalCache {
  readonly index: CacheIndex;
  readonly packs: PackFiles;

  private constructor(readonly dir: string, private readonly opts: { fsync?: boolean }, private readonly lock: CacheLock) {
    this.packs = new PackFiles(dir);
    this.index = new CacheIndex(LocalCache.indexPath(dir));
  }

  static indexPath(dir: string): string {
    return join(dir, 'index.sqlite');
  }

  /** Opens the cache; `exclusive` (for gc) waits for no one and keeps everyone else out. */
  static async open(dir: string, opts: { fsync?: boolean; exclusive?: boolean } = {}): Promise<LocalCache> {
    await loadHashing();
    try {
      mkdirSync(join(dir, 'packs'), { recursive: true });
      mkdirSync(join(dir, 'tmp'), { recursive: true });
    } catch (err) {
      throw fsError(err, dir, 'create the cache directory');
    }
    const lock = opts.exclusive ? CacheLock.exclusive(dir) : CacheLock.shared(dir);
    try {
      return new LocalCache(dir, opts, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** `staging`: blocks in the memory the chunks come from (Ingestor.staging), for a faster copy. */
  writer(opts: { staging?: Staging | undefined } = {}): CacheWriter {
    return new CacheWriter(this.index, this.packs, { ...this.opts, ...(opts.staging ? { staging: opts.staging } : {}) });
  }

  locate(id: string): BlobLocation | undefined {
    return this.index.locate(id);
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  readBlob(id: string, what = 'blob'): Buffer {
    return this.readAt(id, this.index.locate(id), what);
  }

  fileManifest(id: string): FileManifest {
    return this.fileManifestAt(id, this.index.locate(id));
  }

  /** The file manifest at a location already looked up (saves a second index query). */
  fileManifestAt(id: string, loc: BlobLocation | undefined): FileManifest {
    if (loc && loc.type !== BlobType.fileManifest) throw new DvxError('bad_format', `blob ${id} is not a file manifest`);
    try {
      return decodeFileManifest(this.readAt(id, loc, 'file manifest'));
    } catch (err) {
      if (err instanceof FormatError) throw new DvxError('cache_damaged', `file manifest ${id} in the cache is damaged: ${err.message}`, 'run `dvx fsck`');
      throw err;
    }
  }

  treeManifest(id: string): TreeManifest {
    return this.treeManifestAt(id, this.index.locate(id));
  }

  /** The tree manifest at a location already looked up. */
  treeManifestAt(id: string, loc: BlobLocation | undefined): TreeManifest {
    if (loc && loc.type !== BlobType.treeManifest) throw new DvxError('bad_format', `blob ${id} is not a tree manifest`);
    try {
      return decodeTreeManifest(this.readAt(id, loc, 'tree manifest'));
    } catch (err) {
      if (err instanceof FormatError) throw new DvxError('cache_damaged', `tree manifest ${id} in the cache is damaged: ${err.message}`, 'run `dvx fsck`');
      throw err;
    }
  }

  private readAt(id: string, loc: BlobLocation | undefined, what: string): Buffer {
    if (!loc) throw new DvxError('not_in_cache', `${what} ${id} is not in the local cache`, 'run `dvx pull` to fetch it from the remote');
    return Buffer.from(this.packs.read(loc.pack, loc.offset, loc.length));
  }

  /** Chunks of a file manifest that are not in the cache. */
  missingChunks(m: FileManifest): string[] {
    return m.chunks.filter((c) => !this.index.has(c.id)).map((c) => c.id);
  }

  close(): void {
    try {
      this.packs.close();
      this.index.close();
    } finally {
      this.lock.release();
    }
  }
}
