import Database from 'better-sqlite3';
import { statSync, type Stats } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import type { Pointer } from '../../core/pointer.ts';
import { isCorruption, moveAside } from '../damaged-sqlite.ts';
import { warn } from '../ui.ts';

/**
 * Remembers, per tracked file path, the stat signature (size, mtime, ctime,
 * inode) at which its content had a known sha256 (and file manifest), so that
 * unchanged files are not re-read by status, add or the pre-commit hook.
 *
 * It also remembers, per pointer file, the pointer parsed from it at a stat
 * signature, so that listing 10,000 tracked paths (the pre-commit hook) costs
 * a stat each, not a read and a parse each.
 *
 * And it remembers, per tracked path, the version (manifest id) that dvx last
 * made the data match, by adding or checking it out: when the pointer names
 * another version but the data is still that one, git changed the pointer (a
 * merge, cherry-pick or reset runs no checkout hook) and the data is outdated,
 * not edited: it must not be recorded over the pointer.
 *
 * A run of many lookups (status, pre-commit) reads each table once, in one
 * query, instead of one query per path.
 *
 * "Racy" entries, where the file was modified within RACY_MS of being hashed,
 * are never trusted: a second write in the same timestamp tick would leave the
 * signature unchanged (git's "racy clean" problem).
 */
const RACY_MS = 2000;
/** Lookups answered one query each before the whole table is read at once. */
const SINGLE_LOOKUPS = 64;

export interface KnownContent {
  readonly sha256: string;
  readonly manifest: string | undefined;
}

interface Signature {
  size: number;
  mtime: number;
  ctime: number;
  ino: number;
  recorded: number;
}

interface PointerRow extends Signature {
  json: string;
}

function signatureMatches(row: Signature, st: Stats): boolean {
  return row.size === st.size && row.mtime === st.mtimeMs && row.ctime === st.ctimeMs && row.ino === st.ino && row.recorded - row.mtime >= RACY_MS;
}

interface Row {
  size: number;
  mtime: number;
  ctime: number;
  ino: number;
  sha256: string;
  manifest: string | null;
  recorded: number;
}

export class StatCache {
  private db!: Database.Database;
  private getStmt!: Database.Statement;
  private putStmt!: Database.Statement;
  private delStmt!: Database.Statement;
  /** inode of the file this.db opened: another process may have replaced a damaged one already */
  private ino = 0;
  private pending: [string, Row][] = [];
  private pendingPointers: [string, PointerRow][] = [];
  private rows: Map<string, Row> | undefined;
  private singleLookups = 0;
  private pointerRows: Map<string, PointerRow> | undefined;
  private syncedRows: Map<string, string> | undefined;
  private pendingSynced: [string, string][] = [];

  constructor(private readonly path: string) {
    this.guard(() => this.open());
  }

  private open(): void {
    const db = new Database(this.path);
    try {
      this.ino = statSync(this.path).ino;
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 10000');
      db.exec(`CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, size INTEGER, mtime REAL, ctime REAL, ino INTEGER, sha256 TEXT, manifest TEXT, recorded REAL) WITHOUT ROWID`);
      db.exec(`CREATE TABLE IF NOT EXISTS pointer (path TEXT PRIMARY KEY, size INTEGER, mtime REAL, ctime REAL, ino INTEGER, recorded REAL, json TEXT) WITHOUT ROWID`);
      db.exec(`CREATE TABLE IF NOT EXISTS synced (path TEXT PRIMARY KEY, manifest TEXT) WITHOUT ROWID`);
      this.getStmt = db.prepare('SELECT size, mtime, ctime, ino, sha256, manifest, recorded FROM stat WHERE path = ?');
      this.putStmt = db.prepare('INSERT OR REPLACE INTO stat (path, size, mtime, ctime, ino, sha256, manifest, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      this.delStmt = db.prepare('DELETE FROM stat WHERE path = ?');
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  /**
   * Runs `fn`; when SQLite finds the file damaged, moves it aside, starts a new
   * one and runs `fn` again. What it holds can be had again (hashes by reading
   * the files; see recover), so a damaged file is no reason to stop a command
   * or a hook. Writes not yet flushed are kept and go to the new file.
   */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (!isCorruption(err)) throw err;
      this.recover(err);
      try {
        return fn();
      } catch (again) {
        if (!isCorruption(again)) throw again;
        throw new DvxError('state_damaged', `${this.path} is damaged and a new one could not be started (${(again as Error).message})`, `delete ${this.path} (it is a cache dvx rebuilds) and check the disk`, { cause: again });
      }
    }
  }

  private recover(err: unknown): void {
    try {
      this.db?.close();
    } catch {
      // a damaged file may fail to close cleanly; it is moved aside all the same
    }
    let aside: string | undefined;
    if (statSync(this.path, { throwIfNoEntry: false })?.ino === this.ino) {
      try {
        aside = moveAside(this.path);
      } catch (e) {
        throw new DvxError('state_damaged', `${this.path} is damaged (${(err as Error).message}) and could not be moved aside: ${(e as Error).message}`, `delete ${this.path} (it is a cache dvx rebuilds), then run the command again`, { cause: err });
      }
      warn(
        `${this.path} was damaged (${(err as Error).message}); it is kept as ${aside} and a new one was started. ` +
          'It held file hashes (the next status or add reads the data again) and the version last checked out at each path (until the next checkout, data left behind by a merge or reset shows as modified, not outdated): nothing tracked is lost; delete the old file when done with it.',
      );
    }
    this.rows = this.pointerRows = this.syncedRows = undefined;
    this.singleLookups = 0;
    this.open();
  }

  /** What the content at `path` is known to be, if its stat signature still matches. */
  lookup(path: string, st: Stats): KnownContent | undefined {
    return this.guard(() => this.lookupRow(path, st));
  }

  private lookupRow(path: string, st: Stats): KnownContent | undefined {
    if (!this.rows && ++this.singleLookups > SINGLE_LOOKUPS) {
      this.rows = new Map();
      const all = this.db.prepare('SELECT path, size, mtime, ctime, ino, sha256, manifest, recorded FROM stat').raw().all() as [string, number, number, number, number, string, string | null, number][];
      for (const [p, size, mtime, ctime, ino, sha256, manifest, recorded] of all) this.rows.set(p, { size, mtime, ctime, ino, sha256, manifest, recorded });
      for (const [p, r] of this.pending) this.rows.set(p, r);
    }
    const row = this.rows ? this.rows.get(path) : (this.getStmt.get(path) as Row | undefined);
    if (!row || !signatureMatches(row, st)) return undefined;
    return { sha256: row.sha256, manifest: row.manifest ?? undefined };
  }

  /** The pointer last parsed from the pointer file at `path`, if its stat signature still matches. */
  knownPointer(path: string, st: Stats): Pointer | undefined {
    this.pointerRows ??= this.guard(() => {
      const rows = new Map<string, PointerRow>();
      const all = this.db.prepare('SELECT path, size, mtime, ctime, ino, recorded, json FROM pointer').raw().all() as [string, number, number, number, number, number, string][];
      for (const [p, size, mtime, ctime, ino, recorded, json] of all) rows.set(p, { size, mtime, ctime, ino, recorded, json });
      return rows;
    });
    const row = this.pointerRows.get(path);
    if (!row || !signatureMatches(row, st)) return undefined;
    return JSON.parse(row.json) as Pointer;
  }

  /** Records the pointer parsed from the pointer file at `path` as of `st` (the stat taken before reading it). Buffered until flush(). */
  recordPointer(path: string, st: Stats, pointer: Pointer): void {
    const row: PointerRow = { size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino, recorded: Date.now(), json: JSON.stringify(pointer) };
    this.pendingPointers.push([path, row]);
    this.pointerRows?.set(path, row);
    if (this.pendingPointers.length >= 5000) this.flush();
  }

  /** The version (manifest id) dvx last made the data at `path` match. */
  synced(path: string): string | undefined {
    if (!this.syncedRows) {
      this.syncedRows = new Map(this.guard(() => this.db.prepare('SELECT path, manifest FROM synced').raw().all() as [string, string][]));
      for (const [p, m] of this.pendingSynced) this.syncedRows.set(p, m);
    }
    return this.syncedRows.get(path);
  }

  /** Records that the data at `path` now is version `manifest`. Buffered until flush(). */
  recordSynced(path: string, manifest: string): void {
    this.pendingSynced.push([path, manifest]);
    this.syncedRows?.set(path, manifest);
  }

  /** Records a content for `path` as of `st` (the stat taken before reading it). Buffered until flush(). */
  record(path: string, st: Stats, content: KnownContent): void {
    const row: Row = { size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino, sha256: content.sha256, manifest: content.manifest ?? null, recorded: Date.now() };
    this.pending.push([path, row]);
    this.rows?.set(path, row);
    if (this.pending.length >= 5000) this.flush();
  }

  /**
   * Forgets the files recorded with one of these file manifests, so that add
   * reads them again instead of trusting a manifest whose chunks the cache
   * lost (storing those chunks again).
   */
  forgetManifests(manifests: Iterable<string>): void {
    const ids = new Set(manifests);
    if (ids.size === 0) return;
    this.flush();
    this.guard(() => {
      const rows = this.db.prepare('SELECT path, manifest FROM stat WHERE manifest IS NOT NULL').raw().all() as [string, string][];
      this.db.transaction(() => {
        for (const [path, manifest] of rows) {
          if (!ids.has(manifest)) continue;
          this.delStmt.run(path);
          this.rows?.delete(path);
        }
      })();
    });
  }

  forget(path: string): void {
    this.flush();
    this.guard(() => this.delStmt.run(path));
    this.rows?.delete(path);
  }

  flush(): void {
    if (this.pending.length === 0 && this.pendingPointers.length === 0 && this.pendingSynced.length === 0) return;
    const rows = this.pending;
    const pointers = this.pendingPointers;
    const synced = this.pendingSynced;
    // Cleared only once written: a damaged file is replaced and the same rows written to the new one.
    this.guard(() => this.db.transaction(() => {
      if (synced.length > 0) {
        const put = this.db.prepare('INSERT OR REPLACE INTO synced (path, manifest) VALUES (?, ?)');
        for (const [p, m] of synced) put.run(p, m);
      }
      for (const [p, r] of rows) this.putStmt.run(p, r.size, r.mtime, r.ctime, r.ino, r.sha256, r.manifest, r.recorded);
      if (pointers.length > 0) {
        const put = this.db.prepare('INSERT OR REPLACE INTO pointer (path, size, mtime, ctime, ino, recorded, json) VALUES (?, ?, ?, ?, ?, ?, ?)');
        for (const [p, r] of pointers) put.run(p, r.size, r.mtime, r.ctime, r.ino, r.recorded, r.json);
      }
    })());
    this.pending = [];
    this.pendingPointers = [];
    this.pendingSynced = [];
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
