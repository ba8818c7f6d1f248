import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Bloom } from './bloom.ts';
import { indexDamaged, isCorruption } from './damaged-index.ts';
import { entryIdBytes, type BlobType, type PackIndex } from '../../core/pack.ts';

/**
 * The local cache's index (SQLite): which pack holds each blob, and which file
 * manifest describes each file content (by sha256). It is derived data: the
 * packs alone can rebuild it (`dvx fsck --repair`).
 */
export interface BlobLocation {
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
  readonly type: BlobType;
}

export interface PackRow {
  readonly id: string;
  readonly bytes: number;
  readonly blobs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS packs (pid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, bytes INTEGER NOT NULL, blobs INTEGER NOT NULL, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (id BLOB PRIMARY KEY, pid INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, type INTEGER NOT NULL) WITHOUT ROWID;
DROP INDEX IF EXISTS blobs_pack_order;
-- Covering: reading a pack's blobs in order (restore, gc) never touches the table itself.
CREATE INDEX IF NOT EXISTS blobs_pack_scan ON blobs(pid, offset, length, type);
CREATE TABLE IF NOT EXISTS files (sha256 BLOB PRIMARY KEY, manifest BLOB NOT NULL) WITHOUT ROWID;
-- blob_generation: bumped by every transaction that adds blobs (the Bloom filter's freshness, cli/cache/bloom.ts)
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

const hex = (b: Buffer) => b.toString('hex');
const bin = (h: string) => Buffer.from(h, 'hex');

function statements(db: Database.Database) {
  return {
    has: db.prepare('SELECT 1 FROM blobs WHERE id = ?').pluck(),
    locate: db.prepare('SELECT p.id AS pack, b.offset, b.length, b.type FROM blobs b JOIN packs p ON p.pid = b.pid WHERE b.id = ?'),
    locateRaw: db.prepare('SELECT pid, offset, length, type FROM blobs WHERE id = ?').raw(),
    following: db.prepare('SELECT lower(hex(id)), offset, length, type FROM blobs WHERE pid = ? AND offset > ? ORDER BY offset LIMIT ?').raw(),
    packIdOf: db.prepare('SELECT id FROM packs WHERE pid = ?').pluck(),
    insertPack: db.prepare('INSERT INTO packs (id, bytes, blobs, added) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING pid').pluck(),
    insertBlob: db.prepare('INSERT OR IGNORE INTO blobs (id, pid, offset, length, type) VALUES (?, ?, ?, ?, ?)'),
    insertFile: db.prepare('INSERT OR IGNORE INTO files (sha256, manifest) VALUES (?, ?)'),
    fileManifest: db.prepare('SELECT manifest FROM files WHERE sha256 = ?').pluck(),
    packs: db.prepare('SELECT id, bytes, blobs FROM packs'),
    packPid: db.prepare('SELECT pid FROM packs WHERE id = ?').pluck(),
    deleteBlobs: db.prepare('DELETE FROM blobs WHERE pid = ?'),
    deletePack: db.prepare('DELETE FROM packs WHERE pid = ?'),
    blobsOfPack: db.prepare('SELECT id, offset, length, type FROM blobs WHERE pid = ? ORDER BY offset'),
    allBlobs: db.prepare('SELECT b.id, p.id AS pack, b.type FROM blobs b JOIN packs p ON p.pid = b.pid'),
    blobCount: db.prepare('SELECT count(*) FROM blobs').pluck(),
    files: db.prepare('SELECT sha256, manifest FROM files'),
    deleteFile: db.prepare('DELETE FROM files WHERE sha256 = ?'),
    allIds: db.prepare('SELECT id FROM blobs').pluck(),
    generation: db.prepare("SELECT value FROM meta WHERE key = 'blob_generation'").pluck(),
    bumpGeneration: db.prepare("INSERT INTO meta (key, value) VALUES ('blob_generation', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1 RETURNING value").pluck(),
  };
}

/**
 * Every public method turns SQLite's "not a database" and "malformed" errors
 * into one that names the file and the repair (./damaged-index.ts): a damaged
 * page may be met by any query, not only when opening.
 */
export class CacheIndex {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof statements>;
  private bloom: Bloom | undefined;
  readonly bloomPath: string;
  /** bloom.bin denies blobs the index holds: not loaded, and not overwritten but by dropSavedFilter() */
  private savedFilterDamaged = false;

  constructor(private readonly path: string) {
    this.bloomPath = join(dirname(path), 'bloom.bin');
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 10000');
      // Lookups hit random keys: a roomy page cache helps; no mmap, whose touched
      // pages would count against add's memory budget as the index grows.
      db.pragma('cache_size = -32768');
      db.exec(SCHEMA);
      this.stmt = statements(db);
      this.db = db;
    } catch (err) {
      db?.close();
      throw this.checked(err);
    }
  }

  /** `err`, or the error naming this index as damaged when SQLite found it so. */
  private checked(err: unknown): unknown {
    return isCorruption(err) ? indexDamaged(this.path, err) : err;
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.checked(err);
    }
  }

  private generation(): number {
    return (this.stmt.generation.get() as number | undefined) ?? 0;
  }

  /** The Bloom filter: the saved one if it holds the index's current generation, else rebuilt from the index. */
  private filter(): Bloom {
    if (this.bloom) return this.bloom;
    let b = this.savedFilterDamaged ? undefined : Bloom.load(this.bloomPath);
    if (!b || b.generation !== this.generation() || b.full) {
      // One read transaction: the ids and the generation they make up must agree.
      b = this.db.transaction(() => {
        const fresh = Bloom.empty(Math.max(1 << 18, this.blobCount() * 4));
        for (const id of this.stmt.allIds.iterate() as Iterable<Buffer>) fresh.add(id);
        fresh.generation = this.generation();
        return fresh;
      })();
    }
    this.bloom = b;
    return b;
  }

  /**
   * How many indexed blobs the saved Bloom filter denies, if it is one that
   * commands trust (it claims the index's current generation): bit damage in
   * a file whose header still reads, which makes add store blobs again and
   * callers of has() think them missing. This process then stops trusting the
   * file; replacing it is for dropSavedFilter() (`dvx fsck --repair`).
   */
  savedFilterMisses(): number {
    return this.guard(() => this.db.transaction(() => {
      const saved = Bloom.load(this.bloomPath);
      if (!saved || saved.generation !== this.generation() || saved.full) return 0;
      let misses = 0;
      for (const id of this.stmt.allIds.iterate() as Iterable<Buffer>) if (!saved.mightHave(id)) misses++;
      if (misses > 0) {
        this.savedFilterDamaged = true;
        this.bloom = undefined;
      }
      return misses;
    })());
  }

  /** Deletes the saved Bloom filter: the next lookup builds one from the index, saved on close. */
  dropSavedFilter(): void {
    rmSync(this.bloomPath, { force: true });
    this.savedFilterDamaged = false;
    this.bloom = undefined;
  }

  has(id: string): boolean {
    return this.hasKey(bin(id));
  }

  /** As has(), for an id given as its 32 bytes. */
  hasKey(key: Uint8Array): boolean {
    // Inline rather than guard(): add asks this for every chunk.
    try {
      if (!this.filter().mightHave(key)) return false;
      return this.stmt.has.get(Buffer.from(key.buffer, key.byteOffset, key.length)) !== undefined;
    } catch (err) {
      throw this.checked(err);
    }
  }

  locate(id: string): BlobLocation | undefined {
    const row = this.guard(() => this.stmt.locate.get(bin(id))) as { pack: Buffer; offset: number; length: number; type: BlobType } | undefined;
    return row && { pack: hex(row.pack), offset: row.offset, length: row.length, type: row.type };
  }

  /**
   * Locations of many blobs, in order. The blobs of one file usually sit one
   * after another in a pack, so once two looked-up blobs turn out to be
   * neighbours, the blobs that follow them in their pack are read in range
   * scans and matched against the next wanted ids: about one query per run
   * instead of one per blob.
   */
  locateMany(ids: readonly string[]): (BlobLocation | undefined)[] {
    return this.guard(() => this.findMany(ids));
  }

  private findMany(ids: readonly string[]): (BlobLocation | undefined)[] {
    const out: (BlobLocation | undefined)[] = new Array(ids.length);
    const packIds = new Map<number, string>();
    const packOf = (pid: number) => {
      let id = packIds.get(pid);
      if (id === undefined) packIds.set(pid, (id = hex(this.stmt.packIdOf.get(pid) as Buffer)));
      return id;
    };
    // Blobs are usually asked for in the order they were written (a file's
    // chunks), so after one lookup the next ids are read as a run of the same
    // pack. The run window starts small and doubles while the ids keep
    // following it: ids in no particular order (many small files) then cost
    // one short read each, not 4,096 rows each.
    let run: unknown[][] = [];
    let runAt = 0;
    let runPid = 0;
    let window = 16;
    let prev: [number, number, number, BlobType] | undefined;
    for (let i = 0; i < ids.length; i++) {
      const want = ids[i]!;
      if (runAt === run.length && run.length === window && window > 0) {
        const last = run[run.length - 1]!;
        window = Math.min(window * 2, 4096);
        run = this.stmt.following.all(runPid, last[1] as number, window) as unknown[][];
        runAt = 0;
      }
      const next = run[runAt];
      if (next && next[0] === want) {
        out[i] = { pack: packOf(runPid), offset: next[1] as number, length: next[2] as number, type: next[3] as BlobType };
        runAt++;
        continue;
      }
      const row = this.stmt.locateRaw.get(bin(want)) as [number, number, number, BlobType] | undefined;
      if (!row) {
        out[i] = undefined;
        prev = undefined;
        continue;
      }
      out[i] = { pack: packOf(row[0]), offset: row[1], length: row[2], type: row[3] };
      // Only ids that turn out to follow each other in a pack start a run:
      // ids in no particular order (a push's manifests, commit by commit)
      // then cost one point lookup each, not a lookup and a wasted scan.
      if (prev && prev[0] === row[0] && prev[1] + prev[2] === row[1]) {
        runPid = row[0];
        window = 16;
        run = this.stmt.following.all(row[0], row[1], window) as unknown[][];
      } else {
        run = [];
      }
      runAt = 0;
      prev = row;
    }
    return out;
  }

  /**
   * Records a published pack and its blobs, and file contents whose manifests
   * it holds, in one transaction. Blobs already indexed elsewhere keep their
   * first location.
   */
  addPack(index: PackIndex, files: ReadonlyArray<{ sha256: string; manifest: string }> = []): void {
    this.addPacks([{ index, files }]);
  }

  /**
   * As addPack for several packs (and file mappings without a pack), in one
   * transaction. `indexBytes`, when given, is the pack's encoded index (or its
   * tail): ids are then read from it as bytes rather than parsed from hex.
   * The packs in `replacing` leave the index in the same transaction.
   */
  addPacks(packs: ReadonlyArray<{ index?: PackIndex | undefined; indexBytes?: Uint8Array | undefined; files: ReadonlyArray<{ sha256: string; manifest: string }> }>, replacing: readonly string[] = []): void {
    const keysOf = (index: PackIndex, indexBytes: Uint8Array | undefined): Buffer[] => index.entries.map((e, i) => (indexBytes ? entryIdBytes(indexBytes, i) : bin(e.id)));
    const keys = packs.map((p) => (p.index ? keysOf(p.index, p.indexBytes) : []));
    let generation = 0;
    this.guard(() => this.db.transaction(() => {
      for (const id of replacing) this.deletePack(id);
      packs.forEach(({ index, files }, p) => {
        if (index) {
          let pid = this.stmt.insertPack.get(bin(index.packId), index.packBytes, index.entries.length, Date.now()) as number | undefined;
          pid ??= this.stmt.packPid.get(bin(index.packId)) as number;
          const k = keys[p]!;
          index.entries.forEach((e, i) => this.stmt.insertBlob.run(k[i], pid, e.offset, e.length, e.type));
        }
        for (const f of files) this.stmt.insertFile.run(bin(f.sha256), bin(f.manifest));
      });
      if (packs.some((p) => p.index)) generation = this.stmt.bumpGeneration.get() as number;
    })());
    if (generation === 0 || !this.bloom) return;
    // Our filter follows our own additions only while no other process added in between.
    if (this.bloom.generation === generation - 1) {
      for (const k of keys) for (const key of k) this.bloom.add(key);
      this.bloom.generation = generation;
    } else this.bloom = undefined;
    if (this.bloom?.full) this.bloom = undefined;
  }

  addFiles(files: ReadonlyArray<{ sha256: string; manifest: string }>): void {
    this.guard(() => this.db.transaction(() => {
      for (const f of files) this.stmt.insertFile.run(bin(f.sha256), bin(f.manifest));
    })());
  }

  /**
   * Indexes a rewrite of a pack in place of the pack, in one transaction: a
   * crash leaves the old rows, never neither (its blobs would then be lost to
   * a damaged pack's only index).
   */
  replacePack(oldId: string, index: PackIndex, files: ReadonlyArray<{ sha256: string; manifest: string }>): void {
    this.addPacks([{ index, files }], [oldId]);
  }

  removePack(packId: string): void {
    this.guard(() => this.db.transaction(() => this.deletePack(packId))());
  }

  private deletePack(packId: string): void {
    const pid = this.stmt.packPid.get(bin(packId)) as number | undefined;
    if (pid === undefined) return;
    this.stmt.deleteBlobs.run(pid);
    this.stmt.deletePack.run(pid);
  }

  removeFile(sha256: string): void {
    this.guard(() => this.stmt.deleteFile.run(bin(sha256)));
  }

  /** The file manifest id of a content this cache can reproduce, if any. */
  fileManifest(sha256: string): string | undefined {
    const m = this.guard(() => this.stmt.fileManifest.get(bin(sha256))) as Buffer | undefined;
    return m && hex(m);
  }

  packs(): PackRow[] {
    return (this.guard(() => this.stmt.packs.all()) as { id: Buffer; bytes: number; blobs: number }[]).map((r) => ({ id: hex(r.id), bytes: r.bytes, blobs: r.blobs }));
  }

  blobsOfPack(packId: string): { id: string; offset: number; length: number; type: BlobType }[] {
    return this.guard(() => {
      const pid = this.stmt.packPid.get(bin(packId)) as number | undefined;
      if (pid === undefined) return [];
      return (this.stmt.blobsOfPack.all(pid) as { id: Buffer; offset: number; length: number; type: BlobType }[]).map((r) => ({ ...r, id: hex(r.id) }));
    });
  }

  *allBlobs(): Generator<{ id: string; pack: string; type: BlobType }> {
    try {
      for (const r of this.stmt.allBlobs.iterate() as Iterable<{ id: Buffer; pack: Buffer; type: BlobType }>) yield { id: hex(r.id), pack: hex(r.pack), type: r.type };
    } catch (err) {
      throw this.checked(err);
    }
  }

  *files(): Generator<{ sha256: string; manifest: string }> {
    try {
      for (const r of this.stmt.files.iterate() as Iterable<{ sha256: Buffer; manifest: Buffer }>) yield { sha256: hex(r.sha256), manifest: hex(r.manifest) };
    } catch (err) {
      throw this.checked(err);
    }
  }

  blobCount(): number {
    return this.guard(() => this.stmt.blobCount.get()) as number;
  }

  transaction<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn)());
  }

  close(): void {
    // Packs removed since loading leave stale bits: harmless "maybe"s, checked in SQLite.
    if (this.bloom?.dirty && !this.savedFilterDamaged) {
      try {
        this.bloom.save(this.bloomPath);
      } catch {
        // a missing filter is rebuilt next time
      }
    }
    this.guard(() => this.db.close());
  }
}
