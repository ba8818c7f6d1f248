/**
 * The server index's schema, as numbered migrations applied in order inside one
 * transaction each. Never edit a released migration: add the next one. Later
 * issues add commits, refs, runs, lineage, LFS objects and locks here.
 *
 * Ids (blob, pack, sha256) are stored as 32-byte BLOBs: half the size of hex,
 * and compared bytewise. Times are milliseconds since the epoch.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'chunk store, repositories, tokens',
    sql: `
CREATE TABLE packs (
  pid INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  bytes INTEGER NOT NULL,
  data_bytes INTEGER NOT NULL,
  blobs INTEGER NOT NULL,
  added INTEGER NOT NULL,
  -- set when gc has copied the pack's live blobs elsewhere; deleted a grace period later
  retired INTEGER
);
-- one row per blob stored on the server, at its first (or repacked) location
CREATE TABLE blobs (
  id BLOB PRIMARY KEY,
  pid INTEGER NOT NULL REFERENCES packs(pid),
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  type INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blobs_by_pack ON blobs(pid, offset);
CREATE TABLE repos (
  rid INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);
-- which blobs each repository was given: all it can see (docs/protocol.md)
CREATE TABLE repo_blobs (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  id BLOB NOT NULL,
  PRIMARY KEY (rid, id)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_by_blob ON repo_blobs(id);
-- file contents a repository can serve by sha256
CREATE TABLE repo_files (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  sha256 BLOB NOT NULL,
  manifest BLOB NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (rid, sha256)
) WITHOUT ROWID;
CREATE TABLE tokens (
  tid INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
  repo TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  last_used INTEGER,
  revoked INTEGER
);
`,
  },
  {
    version: 4,
    name: 'git lfs locks',
    sql: `
-- Git LFS file locks (docs/protocol.md "Git LFS"): one lock per path per repository
CREATE TABLE lfs_locks (
  lid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  path TEXT NOT NULL,
  ref TEXT,
  owner TEXT NOT NULL,
  locked_at INTEGER NOT NULL,
  UNIQUE (rid, path)
);
`,
  },
];
