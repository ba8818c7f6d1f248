import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { MetricPoint, SyncedModel } from '../../core/protocol.ts';

/**
 * The local tracking store (.dvx/tracking.sqlite): pipeline runs, stage runs
 * (one row per attempt), their params, metrics (with step and time, so curves
 * can be drawn), inputs and outputs as (path, sha256, manifest), and named
 * model versions. Synced to the server on push; ids are UUIDs so records from
 * many clones never collide there.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'timeout' | 'upstream_failed' | 'cancelled';

export interface StageRun {
  id: string;
  pipelineRun: string;
  stage: string;
  attempt: number;
  status: RunStatus;
  startedAt: number;
  finishedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  cmd: string;
  commit: string | null;
  params: Record<string, unknown>;
  logPath: string | null;
  error: string | null;
}

export interface Artifact {
  direction: 'in' | 'out';
  path: string;
  type: 'file' | 'dir';
  sha256: string;
  manifest: string | null;
  size: number | null;
}

export type { MetricPoint };
/** a registered model version, as the server receives it */
export type ModelVersion = SyncedModel;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pipeline_runs (id TEXT PRIMARY KEY, commit_sha TEXT, trigger TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stage_runs (
  id TEXT PRIMARY KEY, pipeline_run TEXT NOT NULL, stage TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER, exit_code INTEGER, signal TEXT, cmd TEXT NOT NULL, commit_sha TEXT,
  params TEXT NOT NULL DEFAULT '{}', log_path TEXT, error TEXT, synced INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS stage_runs_started ON stage_runs(started_at);
CREATE INDEX IF NOT EXISTS stage_runs_pipeline ON stage_runs(pipeline_run);
CREATE TABLE IF NOT EXISTS metrics (run TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, step INTEGER, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run, key, step);
CREATE TABLE IF NOT EXISTS artifacts (run TEXT NOT NULL, direction TEXT NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL, sha256 TEXT NOT NULL, manifest TEXT, size INTEGER, PRIMARY KEY (run, direction, path)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS artifacts_sha ON artifacts(sha256, direction);
CREATE TABLE IF NOT EXISTS models (name TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, manifest TEXT, run TEXT, created_at INTEGER NOT NULL, synced INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS model_aliases (name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, alias));
`;

interface StageRunRow {
  id: string;
  pipeline_run: string;
  stage: string;
  attempt: number;
  status: RunStatus;
  started_at: number;
  finished_at: number | null;
  exit_code: number | null;
  signal: string | null;
  cmd: string;
  commit_sha: string | null;
  params: string;
  log_path: string | null;
  error: string | null;
}

const toRun = (r: StageRunRow): StageRun => ({
  id: r.id,
  pipelineRun: r.pipeline_run,
  stage: r.stage,
  attempt: r.attempt,
  status: r.status,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  exitCode: r.exit_code,
  signal: r.signal,
  cmd: r.cmd,
  commit: r.commit_sha,
  params: JSON.parse(r.params) as Record<string, unknown>,
  logPath: r.log_path,
  error: r.error,
});

export class TrackingStore {
  readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  startPipelineRun(trigger: string, commit: string | null, id: string = randomUUID()): string {
    this.db.prepare('INSERT OR IGNORE INTO pipeline_runs (id, commit_sha, trigger, started_at, status) VALUES (?, ?, ?, ?, ?)').run(id, commit, trigger, Date.now(), 'running');
    return id;
  }

  finishPipelineRun(id: string, status: RunStatus): void {
    this.db.prepare('UPDATE pipeline_runs SET finished_at = ?, status = ? WHERE id = ?').run(Date.now(), status, id);
  }

  startStageRun(r: { pipelineRun: string; stage: string; attempt: number; cmd: string; commit: string | null; params: Record<string, unknown>; logPath: string | null }): string {
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO stage_runs (id, pipeline_run, stage, attempt, status, started_at, cmd, commit_sha, params, log_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, r.pipelineRun, r.stage, r.attempt, 'running', Date.now(), r.cmd, r.commit, JSON.stringify(r.params), r.logPath);
    return id;
  }

  /** A stage that never started (its upstream failed, or the run was cancelled first). */
  recordSkipped(r: { pipelineRun: string; stage: string; cmd: string; commit: string | null; status: RunStatus; error: string }): string {
    const id = randomUUID();
    const now = Date.now();
    this.db
      .prepare('INSERT INTO stage_runs (id, pipeline_run, stage, attempt, status, started_at, finished_at, cmd, commit_sha, error) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?)')
      .run(id, r.pipelineRun, r.stage, r.status, now, now, r.cmd, r.commit, r.error);
    return id;
  }

  finishStageRun(id: string, r: { status: RunStatus; exitCode: number | null; signal: string | null; error?: string | null; finishedAt?: number }): void {
    this.db.prepare('UPDATE stage_runs SET status = ?, finished_at = ?, exit_code = ?, signal = ?, error = ? WHERE id = ?').run(r.status, r.finishedAt ?? Date.now(), r.exitCode, r.signal, r.error ?? null, id);
  }

  /** Pipeline runs a killed repro left `running`: failed, ending with their last stage run. */
  finishInterruptedPipelineRuns(): void {
    this.db
      .prepare(`UPDATE pipeline_runs SET status = 'failed', finished_at = max(started_at, coalesce((SELECT max(finished_at) FROM stage_runs WHERE pipeline_run = pipeline_runs.id), 0)) WHERE status = 'running'`)
      .run();
  }

  addArtifacts(run: string, artifacts: Artifact[]): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO artifacts (run, direction, path, type, sha256, manifest, size) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const a of artifacts) stmt.run(run, a.direction, a.path, a.type, a.sha256, a.manifest, a.size);
    })();
  }

  addMetrics(run: string, points: MetricPoint[]): void {
    const stmt = this.db.prepare('INSERT INTO metrics (run, key, value, step, time) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const p of points) stmt.run(run, p.key, p.value, p.step, p.time);
    })();
  }

  /** Runs whose id starts with `prefix`, taken literally (LIKE would read `%` and `_` as wildcards); none for an empty one. */
  runsByPrefix(prefix: string): StageRun[] {
    if (prefix.length === 0) return [];
    const rows = this.db.prepare('SELECT * FROM stage_runs WHERE id = ? OR substr(id, 1, length(?)) = ? LIMIT 2').all(prefix, prefix, prefix) as StageRunRow[];
    return rows.map(toRun);
  }

  runs(filter: { stage?: string; status?: string; limit?: number; pipelineRun?: string } = {}): StageRun[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.stage) (where.push('stage = ?'), args.push(filter.stage));
    if (filter.status) (where.push('status = ?'), args.push(filter.status));
    if (filter.pipelineRun) (where.push('pipeline_run = ?'), args.push(filter.pipelineRun));
    const sql = `SELECT * FROM stage_runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY started_at DESC, attempt DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1_000_000) as StageRunRow[]).map(toRun);
  }

  artifacts(run: string): Artifact[] {
    return this.db.prepare('SELECT direction, path, type, sha256, manifest, size FROM artifacts WHERE run = ? ORDER BY direction, path').all(run) as Artifact[];
  }

  metrics(run: string): MetricPoint[] {
    return this.db.prepare('SELECT key, value, step, time FROM metrics WHERE run = ? ORDER BY key, step, time').all(run) as MetricPoint[];
  }

  /** The last value of every metric of a run. */
  latestMetrics(run: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.metrics(run)) out[m.key] = m.value;
    return out;
  }

  /** Successful runs that produced (path, sha256): the runs that made this data version. */
  producers(path: string, sha256: string): StageRun[] {
    const rows = this.db
      .prepare(`SELECT r.* FROM artifacts a JOIN stage_runs r ON r.id = a.run WHERE a.direction = 'out' AND a.path = ? AND a.sha256 = ? AND r.status = 'succeeded' ORDER BY r.started_at DESC`)
      .all(path, sha256) as StageRunRow[];
    return rows.map(toRun);
  }

  /** Successful runs that read (path, sha256). */
  consumers(path: string, sha256: string): StageRun[] {
    const rows = this.db
      .prepare(`SELECT r.* FROM artifacts a JOIN stage_runs r ON r.id = a.run WHERE a.direction = 'in' AND a.path = ? AND a.sha256 = ? AND r.status = 'succeeded' ORDER BY r.started_at DESC`)
      .all(path, sha256) as StageRunRow[];
    return rows.map(toRun);
  }

  /** Finished runs not yet sent to the server, oldest first. */
  unsyncedRuns(limit: number): StageRun[] {
    return (this.db.prepare('SELECT * FROM stage_runs WHERE synced = 0 AND finished_at IS NOT NULL ORDER BY started_at LIMIT ?').all(limit) as StageRunRow[]).map(toRun);
  }

  pipelineRun(id: string): { id: string; commit: string | null; trigger: string; startedAt: number; finishedAt: number | null; status: RunStatus } | undefined {
    const r = this.db.prepare('SELECT * FROM pipeline_runs WHERE id = ?').get(id) as { id: string; commit_sha: string | null; trigger: string; started_at: number; finished_at: number | null; status: RunStatus } | undefined;
    return r && { id: r.id, commit: r.commit_sha, trigger: r.trigger, startedAt: r.started_at, finishedAt: r.finished_at, status: r.status };
  }

  markRunsSynced(ids: string[]): void {
    const stmt = this.db.prepare('UPDATE stage_runs SET synced = 1 WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(id)))();
  }

  unsyncedModels(): ModelVersion[] {
    const keys = new Set((this.db.prepare('SELECT name, version FROM models WHERE synced = 0').all() as { name: string; version: number }[]).map((r) => `${r.name}@${r.version}`));
    return this.models().filter((m) => keys.has(`${m.name}@${m.version}`));
  }

  markModelsSynced(models: ModelVersion[]): void {
    const stmt = this.db.prepare('UPDATE models SET synced = 1 WHERE name = ? AND version = ?');
    this.db.transaction(() => models.forEach((m) => stmt.run(m.name, m.version)))();
  }

  registerModel(m: { name: string; path: string; sha256: string; manifest: string | null; run: string | null; alias?: string }): ModelVersion {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT max(version) FROM models WHERE name = ?').pluck().get(m.name) as number | null;
      const existing = this.db.prepare('SELECT version FROM models WHERE name = ? AND sha256 = ?').pluck().get(m.name, m.sha256) as number | undefined;
      const version = existing ?? (last ?? 0) + 1;
      if (existing === undefined) {
        this.db.prepare('INSERT INTO models (name, version, path, sha256, manifest, run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(m.name, version, m.path, m.sha256, m.manifest, m.run, Date.now());
      }
      if (m.alias) {
        this.db.prepare('INSERT OR REPLACE INTO model_aliases (name, alias, version) VALUES (?, ?, ?)').run(m.name, m.alias, version);
        // Aliases move: every version of the model is sent again.
        this.db.prepare('UPDATE models SET synced = 0 WHERE name = ?').run(m.name);
      }
      return this.models(m.name).find((v) => v.version === version)!;
    })();
  }

  models(name?: string): ModelVersion[] {
    const rows = this.db.prepare(`SELECT * FROM models ${name ? 'WHERE name = ?' : ''} ORDER BY name, version`).all(...(name ? [name] : [])) as { name: string; version: number; path: string; sha256: string; manifest: string | null; run: string | null; created_at: number }[];
    const aliases = this.db.prepare('SELECT name, alias, version FROM model_aliases').all() as { name: string; alias: string; version: number }[];
    return rows.map((r) => ({
      name: r.name,
      version: r.version,
      aliases: aliases.filter((a) => a.name === r.name && a.version === r.version).map((a) => a.alias),
      path: r.path,
      sha256: r.sha256,
      manifest: r.manifest,
      run: r.run,
      createdAt: r.created_at,
    }));
  }
}
