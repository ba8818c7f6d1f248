import { join } from 'node:path';
import { FormatError } from '../../core/errors.ts';
import { decodeFileManifest, type FileManifest } from '../../core/file-manifest.ts';
import { blake3Hex, loadHashing } from '../../core/hash.ts';
import { BlobType } from '../../core/pack.ts';
import { decodeTreeManifest, type TreeManifest } from '../../core/tree-manifest.ts';
import type { Config } from '../config.ts';
import { BlobIndex, type BlobLocation } from '../index/blob-index.ts';
import { CommitIndex } from '../index/commit-index.ts';
import { openDatabase, type Db } from '../index/database.ts';
import { RepoIndex } from '../index/repo-index.ts';
import { TokenStore } from '../index/token-store.ts';
import type { StorageBackend } from '../storage/backend.ts';
import { ObjectMissing, ObjectTruncated } from '../storage/errors.ts';
import { openBackend } from '../storage/open-backend.ts';
import { PackDamaged, PackMissing } from './errors.ts';
import { Lru } from './lru.ts';
import { packKey } from './pack-keys.ts';
import { plannerFor, type Segment } from './segment-source.ts';
import { TempFiles } from './temp-files.ts';

/**
 * The server's chunk store: the storage backend (bytes) plus the SQLite index
 * (where each blob is, and what each repository was given). Everything that
 * reads or writes content goes through here or the modules beside it.
 */
export interface FilePlan {
  readonly manifest: FileManifest;
  /** file offset of chunk i; one more entry, the size, at the end */
  readonly starts: Float64Array;
  readonly locations: readonly BlobLocation[];
}

export class Store {
  readonly blobs: BlobIndex;
  readonly repos: RepoIndex;
  readonly commits: CommitIndex;
  readonly tokens: TokenStore;
  readonly tmp: TempFiles;
  private readonly manifests = new Lru<string, FileManifest | TreeManifest>(64 << 20);
  // Plans name pack locations, which gc may move: kept well under the gc grace period.
  private readonly plans = new Lru<string, FilePlan>(64 << 20, 30_000);

  private constructor(readonly config: Config, readonly db: Db, readonly backend: StorageBackend) {
    this.blobs = new BlobIndex(db);
    this.repos = new RepoIndex(db);
    this.commits = new CommitIndex(db);
    this.tokens = new TokenStore(db);
    this.tmp = new TempFiles(join(config.dataDir, 'tmp'));
  }

  static async open(config: Config, opts: { backend?: StorageBackend } = {}): Promise<Store> {
    await loadHashing();
    const db = openDatabase(join(config.dataDir, 'index.sqlite'));
    return new Store(config, db, opts.backend ?? (await openBackend(config)));
  }

  /** Opens only the index (token commands: no storage needed). */
  static indexOnly(config: Config): { db: Db; tokens: TokenStore; repos: RepoIndex; close(): void } {
    const db = openDatabase(join(config.dataDir, 'index.sqlite'));
    return { db, tokens: new TokenStore(db), repos: new RepoIndex(db), close: () => db.close() };
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Reads one whole blob and checks its hash. */
  async readBlob(id: string, loc: BlobLocation): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(loc.length);
    try {
      await this.backend.readInto(packKey(loc.pack), loc.offset, loc.length, buf);
    } catch (err) {
      if (err instanceof ObjectMissing) throw new PackMissing(loc.pack);
      if (err instanceof ObjectTruncated) throw new PackDamaged(loc.pack, 'it is shorter than the index says');
      throw err;
    }
    const actual = blake3Hex(buf);
    if (actual !== id) throw new PackDamaged(loc.pack, `blob ${id} at offset ${loc.offset} hashes to ${actual}`);
    return buf;
  }

  private async manifest(id: string, type: BlobType): Promise<FileManifest | TreeManifest> {
    const cached = this.manifests.get(id);
    if (cached) return cached;
    const loc = this.blobs.locate(id);
    if (!loc) throw new PackMissing(`(none: manifest ${id} is not indexed)`);
    const bytes = await this.readBlob(id, loc);
    let m: FileManifest | TreeManifest;
    try {
      m = type === BlobType.fileManifest ? decodeFileManifest(bytes) : decodeTreeManifest(bytes);
    } catch (err) {
      if (err instanceof FormatError) throw new PackDamaged(loc.pack, `manifest ${id} does not decode: ${err.message}`);
      throw err;
    }
    this.rememberManifest(id, m, bytes.length);
    return m;
  }

  /** A manifest just verified and indexed (an upload), kept decoded as if it had been read. */
  rememberManifest(id: string, manifest: FileManifest | TreeManifest, encodedBytes: number): void {
    this.manifests.set(id, manifest, 200 + encodedBytes * 3);
  }

  fileManifest(id: string): Promise<FileManifest> {
    return this.manifest(id, BlobType.fileManifest) as Promise<FileManifest>;
  }

  treeManifest(id: string): Promise<TreeManifest> {
    return this.manifest(id, BlobType.treeManifest) as Promise<TreeManifest>;
  }

  /** Where every chunk of a file is, with the offsets to serve byte ranges. */
  async filePlan(manifestId: string): Promise<FilePlan> {
    const cached = this.plans.get(manifestId);
    if (cached) return cached;
    const manifest = await this.fileManifest(manifestId);
    const n = manifest.chunks.length;
    const starts = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) starts[i + 1] = starts[i]! + manifest.chunks[i]!.length;
    const found = this.blobs.locateMany(manifest.chunks.map((c) => c.id));
    const locations: BlobLocation[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const loc = found[i];
      const c = manifest.chunks[i]!;
      // The manifest was accepted only with all its chunks; a gap now is damage.
      if (!loc) throw new PackMissing(`(none: chunk ${c.id} of manifest ${manifestId} is not indexed)`);
      if (loc.length !== c.length) throw new PackDamaged(loc.pack, `chunk ${c.id} is ${loc.length} bytes in the index, ${c.length} in manifest ${manifestId}`);
      locations[i] = loc;
    }
    const plan = { manifest, starts, locations };
    this.plans.set(manifestId, plan, 64 + n * 80);
    return plan;
  }

  /**
   * Segments that serve bytes [start, end) of a planned file, made lazily as
   * the stream reads ahead: a GiB file is 65,000 chunks, and eight clients
   * must not each hold a plan of all of them.
   */
  *fileSegments(plan: FilePlan, start = 0, end = plan.manifest.size): Generator<Segment> {
    if (end <= start) return;
    // First chunk that ends after `start` (binary search over the offsets).
    let lo = 0;
    let hi = plan.locations.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (plan.starts[mid + 1]! <= start) lo = mid + 1;
      else hi = mid;
    }
    const planner = plannerFor(this.backend);
    for (let i = lo; i < plan.locations.length && plan.starts[i]! < end; i++) {
      const loc = plan.locations[i]!;
      const cs = plan.starts[i]!;
      planner.add(plan.manifest.chunks[i]!.id, loc.pack, loc.offset, loc.length, Math.max(0, start - cs), Math.min(loc.length, end - cs));
      // Every segment but the last one being built is final.
      while (planner.segments.length > 1) yield planner.segments.shift()!;
    }
    yield* planner.segments;
  }

  async close(): Promise<void> {
    this.tmp.close();
    await this.backend.close();
    this.db.close();
  }
}
