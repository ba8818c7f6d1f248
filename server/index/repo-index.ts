import type { BlobType } from '../../core/pack.ts';
import type { Db } from './database.ts';

/**
 * Repositories and what each was given. A repository sees only its own blobs
 * (docs/protocol.md), so every answer about content goes through membership:
 * a blob counts for a repository when it is a member *and* still indexed.
 */
export interface RepoRow {
  readonly rid: number;
  readonly name: string;
  readonly created: number;
}

const hex = (b: Buffer) => b.toString('hex');
const bin = (h: string) => Buffer.from(h, 'hex');

export class RepoIndex {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      get: db.prepare('SELECT rid, name, created FROM repos WHERE name = ?'),
      insert: db.prepare('INSERT INTO repos (name, created) VALUES (?, ?) ON CONFLICT(name) DO NOTHING RETURNING rid').pluck(),
      list: db.prepare('SELECT rid, name, created FROM repos ORDER BY name'),
      delete: db.prepare('DELETE FROM repos WHERE rid = ?'),
      member: db.prepare('SELECT b.type FROM repo_blobs r JOIN blobs b ON b.id = r.id WHERE r.rid = ? AND r.id = ?').pluck(),
      addMember: db.prepare('INSERT OR IGNORE INTO repo_blobs (rid, id) VALUES (?, ?)'),
      addFile: db.prepare('INSERT INTO repo_files (rid, sha256, manifest, size) VALUES (?, ?, ?, ?) ON CONFLICT(rid, sha256) DO UPDATE SET manifest = excluded.manifest, size = excluded.size'),
      file: db.prepare('SELECT f.manifest, f.size FROM repo_files f JOIN repo_blobs r ON r.rid = f.rid AND r.id = f.manifest JOIN blobs b ON b.id = f.manifest WHERE f.rid = ? AND f.sha256 = ?'),
      info: db.prepare('SELECT count(*) AS blobs, coalesce(sum(b.length), 0) AS bytes FROM repo_blobs r JOIN blobs b ON b.id = r.id WHERE r.rid = ?'),
      manifests: db.prepare('SELECT DISTINCT r.id FROM repo_blobs r JOIN blobs b ON b.id = r.id WHERE b.type IN (2, 3)').pluck(),
      membersOfRepo: db.prepare('SELECT r.id FROM repo_blobs r WHERE r.rid = ?').pluck(),
      pruneMembers: db.prepare('DELETE FROM repo_blobs WHERE id NOT IN (SELECT id FROM blobs)'),
      pruneFiles: db.prepare('DELETE FROM repo_files WHERE NOT EXISTS (SELECT 1 FROM repo_blobs r WHERE r.rid = repo_files.rid AND r.id = repo_files.manifest)'),
      fileRow: db.prepare('SELECT size FROM repo_files WHERE rid = ? AND sha256 = ?').pluck(),
      deleteFile: db.prepare('DELETE FROM repo_files WHERE rid = ? AND sha256 = ?'),
      addRemoved: db.prepare('INSERT INTO lfs_removed (rid, sha256, size, removed_at, by) VALUES (?, ?, ?, ?, ?) ON CONFLICT(rid, sha256) DO NOTHING'),
      removed: db.prepare('SELECT size, removed_at AS removedAt, by FROM lfs_removed WHERE rid = ? AND sha256 = ?'),
      clearRemoved: db.prepare('DELETE FROM lfs_removed WHERE rid = ? AND sha256 = ?'),
      dangling: db.prepare('SELECT p.name, r.id FROM repo_blobs r JOIN repos p ON p.rid = r.rid WHERE r.id NOT IN (SELECT id FROM blobs) LIMIT ?').raw(),
    };
  }

  get(name: string): RepoRow | undefined {
    return this.s.get.get(name) as RepoRow | undefined;
  }

  /** The repository named `name`, created if missing. */
  ensure(name: string, now: number): { repo: RepoRow; created: boolean } {
    const rid = this.s.insert.get(name, now) as number | undefined;
    if (rid !== undefined) return { repo: { rid, name, created: now }, created: true };
    return { repo: this.get(name)!, created: false };
  }

  list(): RepoRow[] {
    return this.s.list.all() as RepoRow[];
  }

  delete(rid: number): void {
    this.s.delete.run(rid);
  }

  /** The blob's type if the repository has it, else undefined. */
  memberType(rid: number, id: string): BlobType | undefined {
    return this.s.member.get(rid, bin(id)) as BlobType | undefined;
  }

  has(rid: number, id: string): boolean {
    return this.memberType(rid, id) !== undefined;
  }

  /** Makes blobs known to a repository; returns how many were new to it. */
  addMembers(rid: number, ids: Iterable<string>): number {
    let added = 0;
    for (const id of ids) added += this.s.addMember.run(rid, bin(id)).changes;
    return added;
  }

  /** Makes content servable by sha256; content an admin removed (removeFile) is restored by being uploaded again, whatever the route. */
  addFile(rid: number, sha256: string, manifest: string, size: number): void {
    this.s.addFile.run(rid, bin(sha256), bin(manifest), size);
    this.s.clearRemoved.run(rid, bin(sha256));
  }

  /**
   * Withdraws content from the repository (Git LFS object removal): it is no
   * longer served by sha256, and a tombstone says who removed it and when.
   * Returns 'removed', 'already' (a tombstone exists: kept as it was) or
   * 'unknown' (the repository never had it). Run inside a transaction.
   *
   * Only the sha256 → manifest entry goes. The manifest and its chunks stay
   * members of the repository (repo_blobs), so they stay gc roots: a
   * dvx-tracked file, a directory tree or a commit record of the repository
   * may name the same manifest, and taking membership away would break them.
   * So gc keeps the bytes while the repository exists (deleting the
   * repository releases them, as for every other removal); downloads of the
   * content by sha256 answer 410 meanwhile.
   */
  removeFile(opts: { rid: number; sha256: string; by: string; now: number }): 'removed' | 'already' | 'unknown' {
    const key = bin(opts.sha256);
    const size = this.s.fileRow.get(opts.rid, key) as number | undefined;
    if (size === undefined) return this.s.removed.get(opts.rid, key) ? 'already' : 'unknown';
    this.s.deleteFile.run(opts.rid, key);
    this.s.addRemoved.run(opts.rid, key, size, opts.now, opts.by);
    return 'removed';
  }

  /** Who removed content from the repository, and when; undefined unless removed (and not uploaded again since). */
  removedFile(rid: number, sha256: string): { size: number; removedAt: number; by: string } | undefined {
    return this.s.removed.get(rid, bin(sha256)) as { size: number; removedAt: number; by: string } | undefined;
  }

  /** The file manifest of content the repository can serve, by sha256. */
  fileBySha256(rid: number, sha256: string): { manifest: string; size: number } | undefined {
    const r = this.s.file.get(rid, bin(sha256)) as { manifest: Buffer; size: number } | undefined;
    return r && { manifest: hex(r.manifest), size: r.size };
  }

  info(rid: number): { blobs: number; bytes: number } {
    return this.s.info.get(rid) as { blobs: number; bytes: number };
  }

  /** Every manifest known to some repository: the roots of gc, for now. */
  *allManifests(): Generator<string> {
    for (const id of this.s.manifests.iterate() as Iterable<Buffer>) yield hex(id);
  }

  /** Membership that points at blobs no longer indexed (after reindex or gc). */
  dangling(limit = 100): { repo: string; id: string }[] {
    return (this.s.dangling.all(limit) as [string, Buffer][]).map(([repo, id]) => ({ repo, id: hex(id) }));
  }

  /** Drops membership of blobs no longer indexed, and file entries whose manifest went with them. */
  prune(): { members: number; files: number } {
    return { members: this.s.pruneMembers.run().changes, files: this.s.pruneFiles.run().changes };
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
