import type { Db } from './database.ts';

/**
 * Git LFS file locks: at most one per path in a repository, owned by a name
 * (the token's description, see auth/auth.ts). Ids are the row ids, which also
 * serve as list cursors (locks are listed in id order).
 */
export interface LockRow {
  readonly id: number;
  readonly path: string;
  readonly ref: string | null;
  readonly owner: string;
  readonly lockedAt: number;
}

export class LockStore {
  private readonly s;

  constructor(db: Db) {
    const cols = 'lid AS id, path, ref, owner, locked_at AS lockedAt';
    this.s = {
      insert: db.prepare('INSERT INTO lfs_locks (rid, path, ref, owner, locked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(rid, path) DO NOTHING RETURNING lid').pluck(),
      byPath: db.prepare(`SELECT ${cols} FROM lfs_locks WHERE rid = ? AND path = ?`),
      byId: db.prepare(`SELECT ${cols} FROM lfs_locks WHERE rid = ? AND lid = ?`),
      page: db.prepare(`SELECT ${cols} FROM lfs_locks WHERE rid = ? AND lid >= ? ORDER BY lid LIMIT ?`),
      delete: db.prepare('DELETE FROM lfs_locks WHERE rid = ? AND lid = ?'),
    };
  }

  /** Creates the lock, or returns the one already held on the path. */
  create(opts: { rid: number; path: string; ref: string | null; owner: string; now: number }): { created: boolean; lock: LockRow } {
    const id = this.s.insert.get(opts.rid, opts.path, opts.ref, opts.owner, opts.now) as number | undefined;
    if (id !== undefined) return { created: true, lock: { id, path: opts.path, ref: opts.ref, owner: opts.owner, lockedAt: opts.now } };
    return { created: false, lock: this.s.byPath.get(opts.rid, opts.path) as LockRow };
  }

  byId(rid: number, id: number): LockRow | undefined {
    return this.s.byId.get(rid, id) as LockRow | undefined;
  }

  byPath(rid: number, path: string): LockRow | undefined {
    return this.s.byPath.get(rid, path) as LockRow | undefined;
  }

  /** Up to `limit` locks from id `cursor` on, and the cursor of the next page if there is one. */
  page(rid: number, cursor: number, limit: number): { locks: LockRow[]; next: number | undefined } {
    const rows = this.s.page.all(rid, cursor, limit + 1) as LockRow[];
    const next = rows.length > limit ? rows[limit]!.id : undefined;
    return { locks: rows.slice(0, limit), next };
  }

  delete(rid: number, id: number): boolean {
    return this.s.delete.run(rid, id).changes > 0;
  }
}
