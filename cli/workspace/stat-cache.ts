import Database from 'better-sqlite3';
import type { Stats } from 'node:fs';

/**
 * Remembers, per tracked file path, the stat signature (size, mtime, ctime,
 * inode) at which its content had a known sha256 (and file manifest), so that
 * unchanged files are not re-read by status, add or the pre-commit hook.
 *
 * "Racy" entries, where the file was modified within RACY_MS of being hashed,
 * are never trusted: a second write in the same timestamp tick would leave the
 * signature unchanged (git's "racy clean" problem).
 */
const RACY_MS = 2000;

export interface KnownContent {
  readonly sha256: string;
  readonly manifest: string | undefined;
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
  private readonly db: Database.Database;
  private readonly getStmt;
  private readonly putStmt;
  private readonly delStmt;
  private pending: [string, Row][] = [];

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, size INTEGER, mtime REAL, ctime REAL, ino INTEGER, sha256 TEXT, manifest TEXT, recorded REAL) WITHOUT ROWID`);
    this.getStmt = this.db.prepare('SELECT size, mtime, ctime, ino, sha256, manifest, recorded FROM stat WHERE path = ?');
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO stat (path, size, mtime, ctime, ino, sha256, manifest, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.delStmt = this.db.prepare('DELETE FROM stat WHERE path = ?');
  }

  /** What the content at `path` is known to be, if its stat signature still matches. */
  lookup(path: string, st: Stats): KnownContent | undefined {
    const row = this.getStmt.get(path) as Row | undefined;
    if (!row) return undefined;
    if (row.size !== st.size || row.mtime !== st.mtimeMs || row.ctime !== st.ctimeMs || row.ino !== st.ino) return undefined;
    if (row.recorded - row.mtime < RACY_MS) return undefined;
    return { sha256: row.sha256, manifest: row.manifest ?? undefined };
  }

  /** Records a content for `path` as of `st` (the stat taken before reading it). Buffered until flush(). */
  record(path: string, st: Stats, content: KnownContent): void {
    this.pending.push([path, { size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino, sha256: content.sha256, manifest: content.manifest ?? null, recorded: Date.now() }]);
    if (this.pending.length >= 5000) this.flush();
  }

  forget(path: string): void {
    this.flush();
    this.delStmt.run(path);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const [p, r] of rows) this.putStmt.run(p, r.size, r.mtime, r.ctime, r.ino, r.sha256, r.manifest, r.recorded);
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
