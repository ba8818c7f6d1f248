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
  // Version 2 (commit records) comes from another branch; openDatabase applies
  // every migration above the recorded version, so the gap is harmless.
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
];
