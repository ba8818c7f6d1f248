import type { BlobType, PackEntry, PackIndex } from '../../core/pack.ts';
import type { Db } from './database.ts';

/**
 * Which pack holds each blob stored on the server, whatever repository it
 * belongs to. Derived data: `dvx-server reindex` rebuilds it from the packs.
 * A blob is indexed once, at the first location it was stored at (a repack
 * moves it).
 */
export interface BlobLocation {
  readonly pack: string;
  readonly pid: number;
  readonly offset: number;
  readonly length: number;
  readonly type: BlobType;
}

export interface PackRow {
  readonly pid: number;
  readonly id: string;
  readonly bytes: number;
  readonly dataBytes: number;
  readonly blobs: number;
  readonly added: number;
  readonly retired: number | null;
}

const hex = (b: Buffer) => b.toString('hex');
const bin = (h: string) => Buffer.from(h, 'hex');

export class BlobIndex {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      has: db.prepare('SELECT 1 FROM blobs WHERE id = ?').pluck(),
      locateRaw: db.prepare('SELECT pid, offset, length, type FROM blobs WHERE id = ?').raw(),
      following: db.prepare('SELECT id, offset, length, type FROM blobs WHERE pid = ? AND offset > ? ORDER BY offset LIMIT ?').raw(),
      packIdOf: db.prepare('SELECT id FROM packs WHERE pid = ?').pluck(),
      pidOf: db.prepare('SELECT pid FROM packs WHERE id = ?').pluck(),
      insertPack: db.prepare('INSERT INTO packs (id, bytes, data_bytes, blobs, added) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING pid').pluck(),
      insertBlob: db.prepare('INSERT OR IGNORE INTO blobs (id, pid, offset, length, type) VALUES (?, ?, ?, ?, ?)'),
      packs: db.prepare('SELECT pid, id, bytes, data_bytes AS dataBytes, blobs, added, retired FROM packs ORDER BY pid'),
      pack: db.prepare('SELECT pid, id, bytes, data_bytes AS dataBytes, blobs, added, retired FROM packs WHERE id = ?'),
      blobsOfPack: db.prepare('SELECT id, offset, length, type FROM blobs WHERE pid = ? ORDER BY offset'),
      liveBytes: db.prepare('SELECT coalesce(sum(length), 0) FROM blobs WHERE pid = ?').pluck(),
      moveBlob: db.prepare('UPDATE blobs SET pid = ?, offset = ? WHERE id = ? AND pid = ?'),
      retire: db.prepare('UPDATE packs SET retired = ? WHERE pid = ? AND retired IS NULL'),
      deletePack: db.prepare('DELETE FROM packs WHERE pid = ?'),
      deleteBlobsOfPack: db.prepare('DELETE FROM blobs WHERE pid = ?'),
      deleteBlob: db.prepare('DELETE FROM blobs WHERE id = ?'),
      count: db.prepare('SELECT count(*) AS blobs, coalesce(sum(length), 0) AS bytes FROM blobs'),
      all: db.prepare('SELECT id, pid, type FROM blobs').raw(),
    };
  }

  has(id: string): boolean {
    return this.s.has.get(bin(id)) !== undefined;
  }

  /**
   * Pack ids by row id, cached per call only: `dvx-server reindex` renumbers
   * pack rows while a server may be running.
   */
  private packOf(pid: number, cache?: Map<number, string>): string {
    let id = cache?.get(pid);
    if (id === undefined) {
      const raw = this.s.packIdOf.get(pid) as Buffer | undefined;
      if (!raw) throw new Error(`index: blob refers to pack row ${pid}, which does not exist`);
      id = hex(raw);
      cache?.set(pid, id);
    }
    return id;
  }

  locate(id: string): BlobLocation | undefined {
    const row = this.s.locateRaw.get(bin(id)) as [number, number, number, BlobType] | undefined;
    return row && { pack: this.packOf(row[0]), pid: row[0], offset: row[1], length: row[2], type: row[3] };
  }

  /**
   * Locations of many blobs, in order. A file's chunks usually lie one after
   * another in a pack, so after each point lookup the blobs that follow it are
   * read in one range scan and matched against the next wanted ids.
   */
  locateMany(ids: readonly string[]): (BlobLocation | undefined)[] {
    const out: (BlobLocation | undefined)[] = new Array(ids.length);
    const packs = new Map<number, string>();
    let run: unknown[][] = [];
    let runAt = 0;
    let runPid = 0;
    for (let i = 0; i < ids.length; i++) {
      const want = ids[i]!;
      const next = run[runAt];
      if (next && hex(next[0] as Buffer) === want) {
        out[i] = { pack: this.packOf(runPid, packs), pid: runPid, offset: next[1] as number, length: next[2] as number, type: next[3] as BlobType };
        runAt++;
        continue;
      }
      const row = this.s.locateRaw.get(bin(want)) as [number, number, number, BlobType] | undefined;
      if (!row) {
        out[i] = undefined;
        continue;
      }
      out[i] = { pack: this.packOf(row[0], packs), pid: row[0], offset: row[1], length: row[2], type: row[3] };
      runPid = row[0];
      run = this.s.following.all(row[0], row[1], 1024) as unknown[][];
      runAt = 0;
    }
    return out;
  }

  /**
   * Records a stored pack and indexes its blobs that are not indexed yet. Call
   * inside a transaction with whatever makes the blobs visible. Returns the
   * pack's row id and whether the pack was new to the index.
   */
  addPack(index: PackIndex, now: number, entries: readonly PackEntry[] = index.entries): { pid: number; added: boolean } {
    let pid = this.s.insertPack.get(bin(index.packId), index.packBytes, index.dataBytes, index.entries.length, now) as number | undefined;
    const added = pid !== undefined;
    pid ??= this.s.pidOf.get(bin(index.packId)) as number;
    for (const e of entries) this.s.insertBlob.run(bin(e.id), pid, e.offset, e.length, e.type);
    return { pid, added };
  }

  pack(id: string): PackRow | undefined {
    const r = this.s.pack.get(bin(id)) as (Omit<PackRow, 'id'> & { id: Buffer }) | undefined;
    return r && { ...r, id: hex(r.id) };
  }

  packs(): PackRow[] {
    return (this.s.packs.all() as (Omit<PackRow, 'id'> & { id: Buffer })[]).map((r) => ({ ...r, id: hex(r.id) }));
  }

  blobsOfPack(pid: number): { id: string; offset: number; length: number; type: BlobType }[] {
    return (this.s.blobsOfPack.all(pid) as { id: Buffer; offset: number; length: number; type: BlobType }[]).map((r) => ({ ...r, id: hex(r.id) }));
  }

  /** Bytes of the blobs this pack is the indexed location of. */
  liveBytes(pid: number): number {
    return this.s.liveBytes.get(pid) as number;
  }

  /** Points blobs at their copy in another pack (repack); only those still at `fromPid`. */
  moveBlobs(fromPid: number, toPid: number, entries: readonly PackEntry[]): number {
    let moved = 0;
    for (const e of entries) moved += this.s.moveBlob.run(toPid, e.offset, bin(e.id), fromPid).changes;
    return moved;
  }

  retire(pid: number, now: number): void {
    this.s.retire.run(now, pid);
  }

  /** Forgets a pack and the blobs located in it. */
  deletePack(pid: number): void {
    this.s.deleteBlobsOfPack.run(pid);
    this.s.deletePack.run(pid);
  }

  deleteBlob(id: string): void {
    this.s.deleteBlob.run(bin(id));
  }

  count(): { blobs: number; bytes: number } {
    return this.s.count.get() as { blobs: number; bytes: number };
  }

  *all(): Generator<{ id: string; pid: number; type: BlobType }> {
    for (const r of this.s.all.iterate() as Iterable<[Buffer, number, BlobType]>) yield { id: hex(r[0]), pid: r[1], type: r[2] };
  }

  /** Drops every pack and blob row (reindex rebuilds them). */
  clear(): void {
    this.db.exec('DELETE FROM blobs; DELETE FROM packs;');
  }
}
