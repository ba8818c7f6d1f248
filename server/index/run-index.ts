import type * as z from '../../core/zod.ts';
import type { MetricPoint, runsSyncRequestSchema, runStatusSchema, SyncedModel } from '../../core/protocol.ts';
import { StoreRefusal } from '../store/errors.ts';
import type { Db } from './database.ts';

/**
 * The server's tracking store (docs/protocol.md "Runs, metrics, lineage and
 * models"): stage runs synced from clients with their params, metric points,
 * inputs, outputs and log tail, pipeline runs, and named model versions.
 *
 * Lists filter and sort on params and metrics through two narrow tables
 * (run_params, run_last_metrics) indexed by (key, value), so a page out of
 * tens of thousands of runs never reads the runs' JSON or their points.
 */
export type RunsSyncBody = z.output<typeof runsSyncRequestSchema>;
type SyncedRun = RunsSyncBody['runs'][number];
export type RunStatus = z.infer<typeof runStatusSchema>;

export type RunSortColumn = 'startedAt' | 'finishedAt' | 'duration' | 'stage' | 'status';
export type RunSort = { kind: 'column'; column: RunSortColumn } | { kind: 'param'; key: string } | { kind: 'metric'; key: string };
export type MetricOp = '>=' | '<=' | '>' | '<' | '=';

export interface RunFilter {
  status?: RunStatus;
  stage?: string;
  /** lowercase hex, 1 to 64 digits */
  commitPrefix?: string;
  pipelineRun?: string;
  /** equality on a param's value, given as canonical JSON (canonicalJson) */
  params?: { key: string; value: string }[];
  /** on the run's last value of the metric */
  metrics?: { key: string; op: MetricOp; value: number }[];
}

export interface RunSummary {
  id: string;
  pipelineRun: string;
  stage: string;
  attempt: number;
  status: RunStatus;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  exitCode: number | null;
  commit: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
}

/** as the client sends them (core/protocol.ts) */
export type Artifact = SyncedRun['inputs'][number];
export type { MetricPoint };

export interface RunDetail extends Omit<RunSummary, 'metrics'> {
  signal: string | null;
  cmd: string;
  error: string | null;
  /** every point, by key, in the order the client recorded them */
  metrics: MetricPoint[];
  inputs: Artifact[];
  outputs: Artifact[];
  log: string | null;
  /** the other attempts of the same stage in the same pipeline run */
  attempts: { id: string; attempt: number; status: RunStatus; startedAt: number; finishedAt: number | null; exitCode: number | null }[];
}

export interface MetricCurve {
  run: string;
  key: string;
  /** points recorded; `points` holds at most the number asked for */
  total: number;
  points: { value: number; step: number | null; time: number }[];
}

export interface ModelVersion extends SyncedModel {
  /** the run that produced the model, when the server has its record */
  producedBy: { id: string; stage: string; status: RunStatus; commit: string | null; pipelineRun: string; startedAt: number } | null;
}

/** A run as lineage draws it. */
export interface LineageRun extends RunSummary {
  /** the server's key, for artifacts() */
  key: number;
}

interface RunRow {
  run: number;
  id: string;
  pipeline_run: string;
  stage: string;
  attempt: number;
  status: RunStatus;
  started_at: number;
  finished_at: number | null;
  duration: number | null;
  exit_code: number | null;
  commit_sha: string | null;
  params: string;
}

interface ArtifactRow {
  direction: number;
  path: string;
  type: 'file' | 'dir';
  sha256: Buffer;
  manifest: Buffer | null;
  size: number | null;
}

const IN = 0;
const OUT = 1;
const SUMMARY_COLUMNS = 'r.run, r.id, r.pipeline_run, r.stage, r.attempt, r.status, r.started_at, r.finished_at, r.duration, r.exit_code, r.commit_sha, r.params';
const SORT_COLUMNS: Record<RunSortColumn, string> = { startedAt: 'r.started_at', finishedAt: 'r.finished_at', duration: 'r.duration', stage: 'r.stage', status: 'r.status' };
const NULLABLE: Record<RunSortColumn, boolean> = { startedAt: false, finishedAt: true, duration: true, stage: false, status: false };

const bin = (h: string) => Buffer.from(h, 'hex');
const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

/** A run that is finished outranks one still running; a record is replaced only by one of higher rank. */
export function finality(status: RunStatus): number {
  return status === 'running' ? 0 : 1;
}

/** JSON with object keys sorted, so that equal values have one text (param filters compare texts). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** What a param sorts by: numbers and strings as themselves, anything else by its JSON. */
function sortValue(value: unknown): number | string {
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return canonicalJson(value);
}

function toSummary(r: RunRow, metrics: Record<string, number>): RunSummary {
  return {
    id: r.id,
    pipelineRun: r.pipeline_run,
    stage: r.stage,
    attempt: r.attempt,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration,
    exitCode: r.exit_code,
    commit: r.commit_sha,
    params: JSON.parse(r.params) as Record<string, unknown>,
    metrics,
  };
}

const toArtifact = (a: ArtifactRow): Artifact => ({ path: a.path, type: a.type, sha256: hex(a.sha256)!, manifest: hex(a.manifest), size: a.size });

export class RunIndex {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      pipelineStatus: db.prepare('SELECT status FROM pipeline_runs WHERE rid = ? AND id = ?').pluck(),
      upsertPipeline: db.prepare(
        `INSERT INTO pipeline_runs (rid, id, commit_sha, trigger, started_at, finished_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (rid, id) DO UPDATE SET commit_sha = excluded.commit_sha, trigger = excluded.trigger, started_at = excluded.started_at, finished_at = excluded.finished_at, status = excluded.status`,
      ),
      existingRun: db.prepare('SELECT run, status FROM runs WHERE rid = ? AND id = ?'),
      deleteRun: db.prepare('DELETE FROM runs WHERE run = ?'),
      insertRun: db
        .prepare(
          `INSERT INTO runs (rid, id, pipeline_run, stage, attempt, status, started_at, finished_at, duration, exit_code, signal, cmd, commit_sha, params, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run`,
        )
        .pluck(),
      insertParam: db.prepare('INSERT INTO run_params (run, key, value, sort_value) VALUES (?, ?, ?, ?)'),
      insertLastMetric: db.prepare('INSERT INTO run_last_metrics (run, key, value) VALUES (?, ?, ?)'),
      insertPoint: db.prepare('INSERT INTO metric_points (run, key, seq, value, step, time) VALUES (?, ?, ?, ?, ?, ?)'),
      insertArtifact: db.prepare('INSERT OR REPLACE INTO run_artifacts (run, rid, direction, path, type, sha256, manifest, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      insertLog: db.prepare('INSERT INTO run_logs (run, log) VALUES (?, ?)'),
      modelSha: db.prepare('SELECT sha256 FROM models WHERE rid = ? AND name = ? AND version = ?').pluck(),
      insertModel: db.prepare('INSERT INTO models (rid, name, version, path, sha256, manifest, run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      dropAliases: db.prepare('DELETE FROM model_aliases WHERE rid = ? AND name = ? AND version = ? AND alias NOT IN (SELECT value FROM json_each(?))'),
      setAlias: db.prepare(
        'INSERT INTO model_aliases (rid, name, alias, version) VALUES (?, ?, ?, ?) ON CONFLICT (rid, name, alias) DO UPDATE SET version = excluded.version WHERE version <> excluded.version',
      ),
      lastMetricsOf: db.prepare('SELECT run, key, value FROM run_last_metrics WHERE run IN (SELECT value FROM json_each(?)) ORDER BY run, key'),
      runById: db.prepare(`SELECT ${SUMMARY_COLUMNS}, r.signal, r.cmd, r.error FROM runs r WHERE r.rid = ? AND r.id = ?`),
      points: db.prepare('SELECT key, value, step, time FROM metric_points WHERE run = ? ORDER BY key, seq'),
      curve: db.prepare('SELECT value, step, time FROM metric_points WHERE run = ? AND key = ? ORDER BY seq').raw(),
      artifacts: db.prepare('SELECT direction, path, type, sha256, manifest, size FROM run_artifacts WHERE run = ? ORDER BY direction, path'),
      artifactsIn: db.prepare('SELECT direction, path, type, sha256, manifest, size FROM run_artifacts WHERE run = ? AND direction = ? ORDER BY path'),
      log: db.prepare('SELECT log FROM run_logs WHERE run = ?').pluck(),
      attempts: db.prepare('SELECT id, attempt, status, started_at, finished_at, exit_code FROM runs WHERE rid = ? AND pipeline_run = ? AND stage = ? AND id <> ? ORDER BY attempt, started_at'),
      producer: db.prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM run_artifacts a JOIN runs r ON r.run = a.run
         WHERE a.rid = ? AND a.sha256 = ? AND a.path = ? AND a.direction = ${OUT} AND r.status = 'succeeded' ORDER BY r.started_at DESC, r.id DESC LIMIT 1`,
      ),
      consumers: db.prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM run_artifacts a JOIN runs r ON r.run = a.run
         WHERE a.rid = ? AND a.sha256 = ? AND a.path = ? AND a.direction = ${IN} AND r.status = 'succeeded' ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
      ),
      mention: db.prepare('SELECT type, manifest, size FROM run_artifacts WHERE rid = ? AND sha256 = ? AND path = ? LIMIT 1'),
      models: db.prepare(
        `SELECT m.name, m.version, m.path, m.sha256, m.manifest, m.run, m.created_at,
                (SELECT json_group_array(alias) FROM (SELECT x.alias FROM model_aliases x WHERE x.rid = m.rid AND x.name = m.name AND x.version = m.version ORDER BY x.alias)) AS aliases,
                r.stage, r.status, r.commit_sha, r.pipeline_run, r.started_at
         FROM models m LEFT JOIN runs r ON r.rid = m.rid AND r.id = m.run
         WHERE m.rid = @rid AND (@name IS NULL OR m.name = @name) ORDER BY m.name, m.version DESC`,
      ),
    };
  }

  /**
   * Records one sync request (the caller wraps it in a transaction with
   * anything else the request writes). Returns how many runs and model
   * versions were new or changed: sending the same records again records 0.
   */
  record(rid: number, body: RunsSyncBody): { runs: number; models: number } {
    for (const p of body.pipelineRuns) {
      const old = this.s.pipelineStatus.get(rid, p.id) as RunStatus | undefined;
      if (old !== undefined && finality(p.status) <= finality(old)) continue;
      this.s.upsertPipeline.run(rid, p.id, p.commit, p.trigger, p.startedAt, p.finishedAt, p.status);
    }
    let runs = 0;
    for (const r of body.runs) if (this.recordRun(rid, r)) runs++;
    let models = 0;
    for (const m of body.models) {
      const old = this.s.modelSha.get(rid, m.name, m.version) as Buffer | undefined;
      let changed = false;
      if (old === undefined) {
        this.s.insertModel.run(rid, m.name, m.version, m.path, bin(m.sha256), m.manifest === null ? null : bin(m.manifest), m.run, m.createdAt);
        changed = true;
      } else if (hex(old) !== m.sha256) {
        throw new StoreRefusal(
          409,
          'model_conflict',
          `model ${m.name} version ${m.version} is already recorded with other content (sha256 ${hex(old)}, not ${m.sha256}); register the new content under another model name`,
        );
      }
      changed = this.s.dropAliases.run(rid, m.name, m.version, JSON.stringify(m.aliases)).changes > 0 || changed;
      for (const alias of m.aliases) changed = this.s.setAlias.run(rid, m.name, alias, m.version).changes > 0 || changed;
      if (changed) models++;
    }
    return { runs, models };
  }

  private recordRun(rid: number, r: SyncedRun): boolean {
    const old = this.s.existingRun.get(rid, r.id) as { run: number; status: RunStatus } | undefined;
    if (old) {
      if (finality(r.status) <= finality(old.status)) return false;
      this.s.deleteRun.run(old.run);
    }
    const duration = r.finishedAt === null ? null : r.finishedAt - r.startedAt;
    const run = this.s.insertRun.get(rid, r.id, r.pipelineRun, r.stage, r.attempt, r.status, r.startedAt, r.finishedAt, duration, r.exitCode, r.signal, r.cmd, r.commit, canonicalJson(r.params), r.error) as number;
    for (const [key, value] of Object.entries(r.params)) {
      if (value === undefined) continue;
      this.s.insertParam.run(run, key, canonicalJson(value), sortValue(value));
    }
    const seq = new Map<string, number>();
    const last = new Map<string, number>();
    for (const p of r.metrics) {
      const n = seq.get(p.key) ?? 0;
      seq.set(p.key, n + 1);
      last.set(p.key, p.value);
      this.s.insertPoint.run(run, p.key, n, p.value, p.step, p.time);
    }
    for (const [key, value] of last) this.s.insertLastMetric.run(run, key, value);
    for (const [direction, list] of [[IN, r.inputs], [OUT, r.outputs]] as const) {
      for (const a of list) this.s.insertArtifact.run(run, rid, direction, a.path, a.type, bin(a.sha256), a.manifest === null ? null : bin(a.manifest), a.size);
    }
    if (r.log !== null) this.s.insertLog.run(run, r.log);
    return true;
  }

  /** One page of runs, filtered and sorted in SQL; `total` counts every run the filter keeps. */
  list(q: { rid: number; filter: RunFilter; sort: RunSort; order: 'asc' | 'desc'; limit: number; offset: number }): { total: number; runs: RunSummary[] } {
    const where: string[] = ['r.rid = ?'];
    const args: unknown[] = [q.rid];
    const f = q.filter;
    if (f.status !== undefined) (where.push('r.status = ?'), args.push(f.status));
    if (f.stage !== undefined) (where.push('r.stage = ?'), args.push(f.stage));
    if (f.pipelineRun !== undefined) (where.push('r.pipeline_run = ?'), args.push(f.pipelineRun));
    if (f.commitPrefix !== undefined) {
      // A range, not LIKE: LIKE is case-insensitive and would not use the index. "g" sorts after every hex digit.
      where.push('r.commit_sha >= ? AND r.commit_sha < ?');
      args.push(f.commitPrefix, `${f.commitPrefix}g`);
    }
    for (const p of f.params ?? []) {
      // Uncorrelated IN: SQLite builds the set once; a correlated EXISTS let it pick a range scan per run.
      where.push('r.run IN (SELECT p.run FROM run_params p WHERE p.key = ? AND p.value = ?)');
      args.push(p.key, p.value);
    }
    for (const m of f.metrics ?? []) {
      where.push(`r.run IN (SELECT m.run FROM run_last_metrics m WHERE m.key = ? AND m.value ${m.op} ?)`);
      args.push(m.key, m.value);
    }
    const whereSql = where.join(' AND ');
    const total = this.db.prepare(`SELECT count(*) FROM runs r WHERE ${whereSql}`).pluck().get(...args) as number;

    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    let join = '';
    const joinArgs: unknown[] = [];
    let order: string;
    if (q.sort.kind === 'column') {
      const col = SORT_COLUMNS[q.sort.column];
      // Runs without a value (still running) go last whichever the order.
      order = `${NULLABLE[q.sort.column] ? `${col} IS NULL, ` : ''}${col} ${dir}${q.sort.column === 'startedAt' ? '' : `, r.started_at ${dir}`}, r.id ${dir}`;
    } else {
      join = q.sort.kind === 'param' ? 'LEFT JOIN run_params s ON s.run = r.run AND s.key = ?' : 'LEFT JOIN run_last_metrics s ON s.run = r.run AND s.key = ?';
      joinArgs.push(q.sort.key);
      const col = q.sort.kind === 'param' ? 's.sort_value' : 's.value';
      order = `${col} IS NULL, ${col} ${dir}, r.started_at ${dir}, r.id ${dir}`;
    }
    const rows = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM runs r ${join} WHERE ${whereSql} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...joinArgs, ...args, q.limit, q.offset) as RunRow[];
    const metrics = this.lastMetrics(rows.map((r) => r.run));
    return { total, runs: rows.map((r) => toSummary(r, metrics.get(r.run) ?? {})) };
  }

  private lastMetrics(runs: number[]): Map<number, Record<string, number>> {
    const out = new Map<number, Record<string, number>>();
    if (runs.length === 0) return out;
    for (const m of this.s.lastMetricsOf.all(JSON.stringify(runs)) as { run: number; key: string; value: number }[]) {
      let o = out.get(m.run);
      if (!o) out.set(m.run, (o = {}));
      o[m.key] = m.value;
    }
    return out;
  }

  get(rid: number, id: string): RunDetail | undefined {
    const r = this.s.runById.get(rid, id) as (RunRow & { signal: string | null; cmd: string; error: string | null }) | undefined;
    if (!r) return undefined;
    const { metrics: _, ...summary } = toSummary(r, {});
    const artifacts = (this.s.artifacts.all(r.run) as ArtifactRow[]).map((a) => ({ direction: a.direction, artifact: toArtifact(a) }));
    const attempts = this.s.attempts.all(rid, r.pipeline_run, r.stage, r.id) as { id: string; attempt: number; status: RunStatus; started_at: number; finished_at: number | null; exit_code: number | null }[];
    return {
      ...summary,
      signal: r.signal,
      cmd: r.cmd,
      error: r.error,
      metrics: this.s.points.all(r.run) as MetricPoint[],
      inputs: artifacts.filter((a) => a.direction === IN).map((a) => a.artifact),
      outputs: artifacts.filter((a) => a.direction === OUT).map((a) => a.artifact),
      log: (this.s.log.get(r.run) as string | undefined) ?? null,
      attempts: attempts.map((a) => ({ id: a.id, attempt: a.attempt, status: a.status, startedAt: a.started_at, finishedAt: a.finished_at, exitCode: a.exit_code })),
    };
  }

  /**
   * One metric's curve, at most `points` points (>= 4): split into
   * points/4 buckets of consecutive points, each keeps its first, minimum,
   * maximum and last point (in recorded order), so spikes survive.
   */
  metricCurve(rid: number, id: string, key: string, points: number): MetricCurve | undefined {
    const run = this.s.existingRun.get(rid, id) as { run: number } | undefined;
    if (!run) return undefined;
    const all = this.s.curve.all(run.run, key) as [number, number | null, number][];
    const pt = (i: number) => ({ value: all[i]![0], step: all[i]![1], time: all[i]![2] });
    if (all.length <= points) return { run: id, key, total: all.length, points: all.map((_, i) => pt(i)) };
    const buckets = Math.floor(points / 4);
    const out: ReturnType<typeof pt>[] = [];
    for (let b = 0; b < buckets; b++) {
      const start = Math.floor((b * all.length) / buckets);
      const end = Math.floor(((b + 1) * all.length) / buckets);
      let min = start;
      let max = start;
      for (let i = start + 1; i < end; i++) {
        if (all[i]![0] < all[min]![0]) min = i;
        if (all[i]![0] > all[max]![0]) max = i;
      }
      for (const i of [...new Set([start, min, max, end - 1])].sort((x, y) => x - y)) out.push(pt(i));
    }
    return { run: id, key, total: all.length, points: out };
  }

  // ---- lineage ----

  /** The newest successful run that wrote (path, sha256), if any. */
  producer(rid: number, path: string, sha256: string): LineageRun | undefined {
    const r = this.s.producer.get(rid, bin(sha256), path) as RunRow | undefined;
    return r && this.lineageRuns([r])[0];
  }

  /** Successful runs that read (path, sha256), newest first, at most `limit`. */
  consumers(rid: number, path: string, sha256: string, limit: number): LineageRun[] {
    return this.lineageRuns(this.s.consumers.all(rid, bin(sha256), path, limit) as RunRow[]);
  }

  private lineageRuns(rows: RunRow[]): LineageRun[] {
    const metrics = this.lastMetrics(rows.map((r) => r.run));
    return rows.map((r) => ({ ...toSummary(r, metrics.get(r.run) ?? {}), key: r.run }));
  }

  artifacts(run: LineageRun, direction: 'in' | 'out'): Artifact[] {
    return (this.s.artifactsIn.all(run.key, direction === 'in' ? IN : OUT) as ArtifactRow[]).map(toArtifact);
  }

  /** How some run of the repository recorded (path, sha256), if any did. */
  mentioned(rid: number, path: string, sha256: string): Omit<Artifact, 'path' | 'sha256'> | undefined {
    const a = this.s.mention.get(rid, bin(sha256), path) as Pick<ArtifactRow, 'type' | 'manifest' | 'size'> | undefined;
    return a && { type: a.type, manifest: hex(a.manifest), size: a.size };
  }

  // ---- models ----

  /** Model versions, by name, newest version first. */
  models(rid: number, name?: string): ModelVersion[] {
    const rows = this.s.models.all({ rid, name: name ?? null }) as {
      name: string;
      version: number;
      path: string;
      sha256: Buffer;
      manifest: Buffer | null;
      run: string | null;
      created_at: number;
      aliases: string;
      stage: string | null;
      status: RunStatus | null;
      commit_sha: string | null;
      pipeline_run: string | null;
      started_at: number | null;
    }[];
    return rows.map((m) => ({
      name: m.name,
      version: m.version,
      aliases: JSON.parse(m.aliases) as string[],
      path: m.path,
      sha256: hex(m.sha256)!,
      manifest: hex(m.manifest),
      run: m.run,
      createdAt: m.created_at,
      producedBy: m.stage === null ? null : { id: m.run!, stage: m.stage, status: m.status!, commit: m.commit_sha, pipelineRun: m.pipeline_run!, startedAt: m.started_at! },
    }));
  }
}
