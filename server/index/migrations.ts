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
    version: 2,
    name: 'commit records, refs and dataset history',
    sql: `
-- One row per git commit a repository recorded (docs/protocol.md "Commit records").
-- A commit's datasets are stored as changes relative to its first parent; a
-- commit whose first parent is not recorded, and every few commits along a
-- first-parent chain, also keeps a snapshot (commit_snapshots), so that the
-- datasets at any commit are one snapshot plus a bounded run of changes.
CREATE TABLE commits (
  cid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  sha TEXT NOT NULL,
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL,
  author_time INTEGER NOT NULL,
  author_tz TEXT NOT NULL,
  committer_name TEXT NOT NULL,
  committer_email TEXT NOT NULL,
  committer_time INTEGER NOT NULL,
  committer_tz TEXT NOT NULL,
  message TEXT NOT NULL,
  -- the recorded first parent, whose datasets the changes apply to (NULL: a root here)
  base_parent INTEGER,
  -- the commit holding the snapshot this one's datasets derive from (itself when it holds one)
  snapshot INTEGER NOT NULL,
  -- first-parent steps and change rows from the snapshot to here
  chain_len INTEGER NOT NULL,
  chain_rows INTEGER NOT NULL,
  -- how many datasets the commit names
  datasets INTEGER NOT NULL,
  -- SHA-256 of the canonical parents, author, committer and message; and an
  -- order-independent digest of the datasets: both equal means "the same record"
  meta_hash BLOB NOT NULL,
  state_digest BLOB NOT NULL,
  recorded INTEGER NOT NULL,
  UNIQUE (rid, sha)
);
CREATE INDEX commits_by_time ON commits(rid, committer_time);
CREATE TABLE commit_parents (
  cid INTEGER NOT NULL REFERENCES commits(cid) ON DELETE CASCADE,
  n INTEGER NOT NULL,
  sha TEXT NOT NULL,
  -- filled when the parent is recorded (before or after its child)
  parent INTEGER,
  PRIMARY KEY (cid, n)
) WITHOUT ROWID;
CREATE INDEX commit_parents_by_sha ON commit_parents(sha) WHERE parent IS NULL;
CREATE TABLE refs (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  cid INTEGER NOT NULL REFERENCES commits(cid) ON DELETE CASCADE,
  updated INTEGER NOT NULL,
  PRIMARY KEY (rid, name)
) WITHOUT ROWID;
CREATE INDEX refs_by_commit ON refs(cid);
-- every data path a repository ever tracked, and every version of each
CREATE TABLE dataset_paths (
  pid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  path TEXT NOT NULL,
  UNIQUE (rid, path)
);
CREATE TABLE dataset_versions (
  vid INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL REFERENCES dataset_paths(pid) ON DELETE CASCADE,
  type TEXT NOT NULL CHECK (type IN ('file', 'dir')),
  size INTEGER NOT NULL,
  files INTEGER,
  sha256 BLOB NOT NULL,
  manifest BLOB NOT NULL,
  UNIQUE (pid, manifest)
);
CREATE INDEX dataset_versions_by_sha256 ON dataset_versions(sha256);
-- what a commit changed relative to its recorded first parent (vid NULL: removed);
-- new_bytes: bytes of chunks the previous version of the path did not have
CREATE TABLE commit_changes (
  cid INTEGER NOT NULL REFERENCES commits(cid) ON DELETE CASCADE,
  pid INTEGER NOT NULL REFERENCES dataset_paths(pid) ON DELETE CASCADE,
  vid INTEGER REFERENCES dataset_versions(vid) ON DELETE CASCADE,
  new_bytes INTEGER,
  PRIMARY KEY (cid, pid)
) WITHOUT ROWID;
CREATE INDEX commit_changes_by_path ON commit_changes(pid, cid);
CREATE INDEX commit_changes_by_version ON commit_changes(vid);
-- the full dataset list at some commits (see commits.snapshot)
CREATE TABLE commit_snapshots (
  cid INTEGER NOT NULL REFERENCES commits(cid) ON DELETE CASCADE,
  pid INTEGER NOT NULL REFERENCES dataset_paths(pid) ON DELETE CASCADE,
  vid INTEGER NOT NULL REFERENCES dataset_versions(vid) ON DELETE CASCADE,
  PRIMARY KEY (cid, pid)
) WITHOUT ROWID;
CREATE INDEX commit_snapshots_by_version ON commit_snapshots(vid);
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
  {
    version: 3,
    name: 'tracking: pipeline runs, stage runs, params, metrics, inputs and outputs, logs, models',
    sql: `
-- Ids made by clients (UUIDs) are unique per repository only: the same run may
-- be pushed to two servers' repositories, and a token sees one repository.
CREATE TABLE pipeline_runs (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  id TEXT NOT NULL,
  commit_sha TEXT,
  trigger TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  status TEXT NOT NULL,
  PRIMARY KEY (rid, id)
) WITHOUT ROWID;
-- one row per stage run attempt; "run" is the server's own key for the child tables
CREATE TABLE runs (
  run INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  id TEXT NOT NULL,
  pipeline_run TEXT NOT NULL,
  stage TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  -- finished_at - started_at, stored so that sorting by duration uses an index
  duration INTEGER,
  exit_code INTEGER,
  signal TEXT,
  cmd TEXT NOT NULL,
  commit_sha TEXT,
  params TEXT NOT NULL,
  error TEXT,
  UNIQUE (rid, id)
);
CREATE INDEX runs_by_started ON runs(rid, started_at, id);
CREATE INDEX runs_by_finished ON runs(rid, finished_at);
CREATE INDEX runs_by_duration ON runs(rid, duration);
CREATE INDEX runs_by_stage ON runs(rid, stage, started_at);
CREATE INDEX runs_by_status ON runs(rid, status, started_at);
CREATE INDEX runs_by_commit ON runs(rid, commit_sha);
CREATE INDEX runs_by_pipeline ON runs(rid, pipeline_run, stage, attempt);
-- params one row per key, for filtering (value: canonical JSON) and sorting
-- (sort_value: the number or string itself, JSON text for anything else)
CREATE TABLE run_params (
  run INTEGER NOT NULL REFERENCES runs(run) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  sort_value, -- no declared type: no affinity, so "007" stays text
  PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX run_params_by_value ON run_params(key, value);
CREATE INDEX run_params_by_sort ON run_params(key, sort_value);
-- the last value of every metric of a run: what lists show, filter and sort on
CREATE TABLE run_last_metrics (
  run INTEGER NOT NULL REFERENCES runs(run) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX run_last_metrics_by_value ON run_last_metrics(key, value);
-- every point, in the order the client sent them (seq) within a key
CREATE TABLE metric_points (
  run INTEGER NOT NULL REFERENCES runs(run) ON DELETE CASCADE,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  value REAL NOT NULL,
  step INTEGER,
  time REAL NOT NULL,
  PRIMARY KEY (run, key, seq)
) WITHOUT ROWID;
-- inputs (direction 0) and outputs (1) as data versions; rid repeated so that
-- lineage finds a data version's producers and consumers with one index
CREATE TABLE run_artifacts (
  run INTEGER NOT NULL REFERENCES runs(run) ON DELETE CASCADE,
  rid INTEGER NOT NULL,
  direction INTEGER NOT NULL CHECK (direction IN (0, 1)),
  path TEXT NOT NULL,
  type TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  manifest BLOB,
  size INTEGER,
  PRIMARY KEY (run, direction, path)
) WITHOUT ROWID;
CREATE INDEX run_artifacts_by_data ON run_artifacts(rid, sha256, path, direction);
-- the tail of a run's log (up to 1 MiB), apart so that run rows stay small to scan
CREATE TABLE run_logs (
  run INTEGER PRIMARY KEY REFERENCES runs(run) ON DELETE CASCADE,
  log TEXT NOT NULL
);
CREATE TABLE models (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  path TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  manifest BLOB,
  run TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (rid, name, version)
) WITHOUT ROWID;
-- an alias names one version of a model at a time
CREATE TABLE model_aliases (
  rid INTEGER NOT NULL,
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (rid, name, alias),
  FOREIGN KEY (rid, name, version) REFERENCES models(rid, name, version) ON DELETE CASCADE
) WITHOUT ROWID;
`,
  },
  {
    version: 5,
    name: 'git lfs removed objects',
    sql: `
-- Git LFS objects an admin removed from a repository (docs/protocol.md "Git LFS"):
-- their repo_files row is gone; this tombstone makes downloads answer 410 (not
-- 404) until the same content is uploaded again, which deletes it
CREATE TABLE lfs_removed (
  rid INTEGER NOT NULL REFERENCES repos(rid) ON DELETE CASCADE,
  sha256 BLOB NOT NULL,
  size INTEGER NOT NULL,
  removed_at INTEGER NOT NULL,
  by TEXT NOT NULL,
  PRIMARY KEY (rid, sha256)
) WITHOUT ROWID;
`,
  },
];
