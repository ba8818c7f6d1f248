import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DvxError, errorMessage } from '../../core/errors.ts';
import { Ingestor } from '../../core/ingest.ts';
import { durationSeconds, type LockedFile, type LockedStage, type Pipeline, type Stage } from '../../core/pipeline.ts';
import type { CacheWriter } from '../cache/cache-writer.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { pointerPathOf } from '../../core/pointer.ts';
import { gitAdd } from '../git.ts';
import { readMetricsFile, readMetricsStream } from '../tracking/metrics.ts';
import type { Artifact, MetricPoint, RunStatus, TrackingStore } from '../tracking/store.ts';
import { Snapshotter } from '../workspace/snapshot.ts';
import { pathStatus } from '../workspace/status.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { statOrMissing } from '../workspace/content.ts';
import { contentHash } from './content-hash.ts';
import { runAttempt } from './execute.ts';
import { Params } from './params.ts';
import { LOCK_FILE, loadLock, loadPipeline, writeLock } from './pipeline-file.ts';
import { settleInterruptedRuns } from './interrupted.ts';
import { ReproLock } from './repro-lock.ts';
import { staleReasons } from './staleness.ts';

/**
 * `dvx repro`: runs the stale stages of dvx.yaml in dependency order,
 * independent ones in parallel (up to `jobs`).
 *
 * A stage is checked for staleness only when everything upstream of it has
 * finished, so it sees the outs its upstream just wrote. Each attempt gets its
 * own log and tracking record; a failure is retried with backoff, then marks
 * every stage downstream as upstream-failed while the others go on. Only a
 * successful stage has its outs tracked (chunked into the cache, pointers
 * written and staged) and its dvx.lock entry rewritten; a failed, killed or
 * timed-out one changes neither. All stages of one invocation share one
 * pipeline-run id.
 */
export type StageResult = 'succeeded' | 'up_to_date' | 'failed' | 'timeout' | 'upstream_failed' | 'cancelled';

export interface StageOutcome {
  stage: string;
  result: StageResult;
  reasons: string[];
  attempts: number;
  runIds: string[];
  error?: string;
}

export interface ReproOptions {
  targets?: string[];
  force?: boolean;
  dryRun?: boolean;
  jobs?: number;
  trigger: 'manual' | 'commit';
  commit?: string | null;
  pipelineRunId?: string;
  waitMs?: number;
  /** stage pointers of outs and dvx.lock in git (default true) */
  stageInGit?: boolean;
  log?: (line: string) => void;
  /** stops the run as Ctrl-C does */
  abort?: AbortSignal;
}

export interface ReproResult {
  pipelineRun: string | null;
  outcomes: StageOutcome[];
  dryRun: boolean;
  /** files written for git: out pointers, .gitignores, dvx.lock */
  changedFiles: string[];
}

const FAILED: ReadonlySet<StageResult> = new Set(['failed', 'timeout', 'upstream_failed', 'cancelled']);

export async function repro(ws: Workspace, store: TrackingStore, opts: ReproOptions): Promise<ReproResult> {
  const log = opts.log ?? (() => {});
  const lock = await ReproLock.acquire(ws.dvxDir, `repro (${opts.trigger})`, { waitMs: opts.waitMs });
  try {
    if (!opts.dryRun) await settleInterruptedRuns(store, ws.dvxDir, log);
    const pipeline = loadPipeline(ws);
    const selected = select(pipeline, opts.targets);
    if (opts.dryRun) return { pipelineRun: null, outcomes: plan(ws, pipeline, selected, opts.force ?? false), dryRun: true, changedFiles: [] };
    return await new Run(ws, store, pipeline, selected, opts, log).execute();
  } finally {
    lock.release();
  }
}

/** The targets and everything upstream of them, in pipeline order. */
function select(p: Pipeline, targets: string[] | undefined): string[] {
  if (!targets || targets.length === 0) return [...p.order];
  const want = new Set<string>();
  const visit = (name: string) => {
    if (want.has(name)) return;
    want.add(name);
    for (const u of p.upstream.get(name) ?? []) visit(u);
  };
  for (const t of targets) {
    if (!p.stages.has(t)) throw new DvxError('no_such_stage', `dvx.yaml has no stage ${JSON.stringify(t)}`, `stages: ${[...p.stages.keys()].join(', ')}`);
    visit(t);
  }
  return p.order.filter((s) => want.has(s));
}

/** What would run, without running anything: a stale stage makes everything below it stale too. */
function plan(ws: Workspace, p: Pipeline, selected: string[], force: boolean): StageOutcome[] {
  const params = Params.load(ws.root);
  const locks = loadLock(ws);
  const stats = ws.statCache();
  const willRun = new Set<string>();
  return selected.map((name) => {
    const stage = p.stages.get(name)!;
    const reasons = force ? ['--force'] : staleReasons(ws, stats, stage, locks.get(name), params);
    const ups = (p.upstream.get(name) ?? []).filter((u) => willRun.has(u));
    if (ups.length) reasons.push(...ups.map((u) => `upstream stage ${u} will run`));
    if (reasons.length) willRun.add(name);
    return { stage: name, result: reasons.length ? 'succeeded' : 'up_to_date', reasons, attempts: 0, runIds: [] };
  });
}

class Run {
  private readonly outcomes = new Map<string, StageOutcome>();
  private readonly params: Params;
  private readonly locks: Map<string, LockedStage>;
  private readonly abort = new AbortController();
  private readonly changedFiles = new Set<string>();
  private pipelineRun: string | null = null;
  /** serializes cache writes and dvx.lock updates between stages finishing together */
  private critical: Promise<unknown> = Promise.resolve();
  private snap: { ingestor: Ingestor; writer: CacheWriter; snapshotter: Snapshotter } | undefined;

  constructor(
    private readonly ws: Workspace,
    private readonly store: TrackingStore,
    private readonly pipeline: Pipeline,
    private readonly selected: string[],
    private readonly opts: ReproOptions,
    private readonly log: (line: string) => void,
  ) {
    this.params = Params.load(ws.root);
    this.locks = loadLock(ws);
    opts.abort?.addEventListener('abort', () => this.abort.abort());
  }

  async execute(): Promise<ReproResult> {
    const onSigint = () => {
      this.log('dvx: stopping: cancelling running stages (Ctrl-C again to force)');
      process.removeListener('SIGINT', onSigint);
      this.abort.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      await this.schedule();
    } finally {
      process.removeListener('SIGINT', onSigint);
      if (this.snap) {
        await this.snap.writer.discard();
        this.snap.ingestor.close();
      }
      this.ws.statCache().flush();
    }
    const outcomes = this.selected.map((s) => this.outcomes.get(s)!);
    if (this.pipelineRun) this.store.finishPipelineRun(this.pipelineRun, outcomes.some((o) => FAILED.has(o.result)) ? (this.abort.signal.aborted ? 'cancelled' : 'failed') : 'succeeded');
    if (this.changedFiles.size > 0 && this.opts.stageInGit !== false) gitAdd(this.ws.root, [...this.changedFiles]);
    return { pipelineRun: this.pipelineRun, outcomes, dryRun: false, changedFiles: [...this.changedFiles] };
  }

  private ensurePipelineRun(): string {
    this.pipelineRun ??= this.store.startPipelineRun(this.opts.trigger, this.opts.commit ?? null, this.opts.pipelineRunId ?? randomUUID());
    return this.pipelineRun;
  }

  private async schedule(): Promise<void> {
    const jobs = Math.max(1, this.opts.jobs ?? 1);
    const pending = new Set(this.selected);
    const running = new Map<string, Promise<void>>();
    while (pending.size > 0 || running.size > 0) {
      let progressed = false;
      for (const name of [...pending]) {
        if (running.size >= jobs) break;
        const ups = (this.pipeline.upstream.get(name) ?? []).filter((u) => this.selected.includes(u));
        if (ups.some((u) => !this.outcomes.has(u))) continue;
        pending.delete(name);
        progressed = true;
        const failedUp = ups.find((u) => FAILED.has(this.outcomes.get(u)!.result));
        if (this.abort.signal.aborted) {
          this.skip(name, 'cancelled', 'the run was cancelled before it started');
          continue;
        }
        if (failedUp) {
          this.skip(name, 'upstream_failed', `upstream stage ${failedUp} did not succeed`);
          continue;
        }
        running.set(name, this.runStage(this.pipeline.stages.get(name)!).finally(() => running.delete(name)));
      }
      if (running.size > 0) await Promise.race(running.values());
      else if (!progressed) throw new Error(`scheduler stalled with ${[...pending].join(', ')} pending`);
    }
  }

  private skip(name: string, result: 'upstream_failed' | 'cancelled', why: string): void {
    const stage = this.pipeline.stages.get(name)!;
    const id = this.store.recordSkipped({ pipelineRun: this.ensurePipelineRun(), stage: name, cmd: stage.cmd, commit: this.opts.commit ?? null, status: result, error: why });
    this.outcomes.set(name, { stage: name, result, reasons: [], attempts: 0, runIds: [id], error: why });
    this.log(`${name}: ${result.replaceAll('_', '-')} (${why})`);
  }

  private async runStage(stage: Stage): Promise<void> {
    const stats = this.ws.statCache();
    let reasons: string[];
    try {
      reasons = this.opts.force ? ['--force'] : staleReasons(this.ws, stats, stage, this.locks.get(stage.name), this.params);
    } catch (err) {
      this.fail(stage, [], err);
      return;
    }
    if (reasons.length === 0) {
      this.outcomes.set(stage.name, { stage: stage.name, result: 'up_to_date', reasons, attempts: 0, runIds: [] });
      this.log(`${stage.name}: up to date`);
      return;
    }
    this.log(`${stage.name}: running (${reasons.join('; ')})`);
    const outcome: StageOutcome = { stage: stage.name, result: 'failed', reasons, attempts: 0, runIds: [] };
    try {
      await this.attempts(stage, reasons, outcome);
    } finally {
      // Visible to the scheduler only once finished: downstream stages wait for it.
      if (!this.outcomes.has(stage.name)) this.outcomes.set(stage.name, outcome);
    }
  }

  private async attempts(stage: Stage, reasons: string[], outcome: StageOutcome): Promise<void> {
    const pipelineRun = this.ensurePipelineRun();
    let params: Record<string, unknown>;
    let inputs: { lock: LockedFile[]; artifacts: Artifact[] };
    try {
      params = this.params.values(stage.params, stage.name);
      inputs = await this.inputs(stage);
      // Else the spawn fails with a bare "spawn /bin/sh ENOENT".
      if (stage.wdir !== undefined && !statOrMissing(this.ws.abs(stage.wdir))?.isDirectory()) {
        throw new DvxError('bad_wdir', `wdir ${stage.wdir} of stage ${stage.name} is not a directory`, `create it, or fix the stage's wdir in dvx.yaml (it is relative to the repository root)`);
      }
    } catch (err) {
      this.fail(stage, reasons, err);
      return;
    }
    const attempts = 1 + stage.retries;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      outcome.attempts = attempt;
      const logPath = join(this.ws.dvxDir, 'logs', pipelineRun, `${stage.name}.${attempt}.log`);
      const runId = this.store.startStageRun({ pipelineRun, stage: stage.name, attempt, cmd: stage.cmd, commit: this.opts.commit ?? null, params, logPath });
      outcome.runIds.push(runId);
      this.store.addArtifacts(runId, inputs.artifacts);
      const metricsPath = join(this.ws.dvxDir, 'tmp', `metrics-${runId}.jsonl`);
      mkdirSync(join(this.ws.dvxDir, 'tmp'), { recursive: true });
      const started = Date.now();
      const r = await runAttempt({
        cmd: stage.cmd,
        cwd: this.ws.abs(stage.wdir ?? '.'),
        env: { ...process.env, ...stage.env, DVX_RUN_ID: runId, DVX_STAGE: stage.name, DVX_PIPELINE_RUN_ID: pipelineRun, DVX_METRICS: metricsPath, DVX_ATTEMPT: String(attempt) },
        logPath,
        header: `# dvx: stage ${stage.name}, attempt ${attempt} of ${attempts}, run ${runId}\n# dvx: ${stage.cmd}`,
        timeoutMs: stage.timeout !== undefined ? durationSeconds(stage.timeout)! * 1000 : undefined,
        abort: this.abort.signal,
      });
      // Whatever happened, keep the curve the command logged.
      const stream = readMetricsStream(metricsPath, started);
      this.store.addMetrics(runId, stream.points);
      this.reportMetricProblems(stage, stream.problems);
      rmSync(metricsPath, { force: true });
      if (r.status === 'succeeded') {
        try {
          await this.exclusive(() => this.complete(stage, runId, params, inputs.lock, started));
          this.store.finishStageRun(runId, { status: 'succeeded', exitCode: 0, signal: null });
          outcome.result = 'succeeded';
          this.log(`${stage.name}: succeeded${attempt > 1 ? ` on attempt ${attempt}` : ''}`);
          return;
        } catch (err) {
          this.store.finishStageRun(runId, { status: 'failed', exitCode: 0, signal: null, error: errorMessage(err) });
          outcome.error = errorMessage(err);
          this.log(`${stage.name}: failed after its command succeeded: ${outcome.error}`);
          continue;
        }
      }
      this.store.finishStageRun(runId, { status: r.status as RunStatus, exitCode: r.exitCode, signal: r.signal, error: r.error });
      outcome.result = r.status === 'timeout' ? 'timeout' : r.status === 'cancelled' ? 'cancelled' : 'failed';
      outcome.error = r.error;
      this.log(`${stage.name}: ${r.status} (${r.error}); log: ${logPath}`);
      if (r.status === 'cancelled' || attempt === attempts || this.abort.signal.aborted) break;
      const delay = durationSeconds(stage.retry_delay)! * 1000 * 2 ** (attempt - 1);
      this.log(`${stage.name}: retrying in ${(delay / 1000).toFixed(1)} s`);
      try {
        await sleep(delay, undefined, { signal: this.abort.signal });
      } catch {
        outcome.result = 'cancelled';
        break;
      }
    }
  }

  private fail(stage: Stage, reasons: string[], err: unknown): void {
    const message = errorMessage(err);
    const id = this.store.recordSkipped({ pipelineRun: this.ensurePipelineRun(), stage: stage.name, cmd: stage.cmd, commit: this.opts.commit ?? null, status: 'failed', error: message });
    this.outcomes.set(stage.name, { stage: stage.name, result: 'failed', reasons, attempts: 0, runIds: [id], error: message });
    this.log(`${stage.name}: failed: ${message}`);
  }

  /** The stage's deps as dvx.lock records them, and as lineage inputs (tracked data by its pointer). */
  private async inputs(stage: Stage): Promise<{ lock: LockedFile[]; artifacts: Artifact[] }> {
    const stats = this.ws.statCache();
    const cache = await this.ws.cache();
    const lock: LockedFile[] = [];
    const artifacts: Artifact[] = [];
    for (const d of stage.deps) {
      const h = contentHash(this.ws, stats, d);
      if (!h) throw new DvxError('missing_dep', `dep ${d} of stage ${stage.name} is missing`, `run \`dvx pull ${d}\` or the stage that writes it`);
      lock.push({ path: d, sha256: h.sha256, size: h.size, type: h.type });
      artifacts.push(this.lineageOf(cache, d) ?? { direction: 'in', path: d, type: h.type, sha256: h.sha256, manifest: null, size: h.size });
    }
    return { lock, artifacts };
  }

  /** Tracked data whose working copy matches its pointer is named by the pointer. */
  private lineageOf(cache: LocalCache, path: string): Artifact | undefined {
    if (!existsSync(this.ws.abs(pointerPathOf(path)))) return undefined;
    const t = this.ws.readTracked(pointerPathOf(path));
    if (!t.pointer) return undefined;
    const s = pathStatus(this.ws, cache, this.ws.statCache(), t);
    if (s.state !== 'clean') return undefined;
    return { direction: 'in', path, type: t.pointer.type, sha256: t.pointer.sha256, manifest: t.pointer.manifest, size: t.pointer.size };
  }

  private reportMetricProblems(stage: Stage, problems: string[]): void {
    for (const p of problems.slice(0, 5)) this.log(`${stage.name}: ${p}`);
    if (problems.length > 5) this.log(`${stage.name}: ${problems.length - 5} more metrics not recorded`);
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.critical.then(fn, fn);
    this.critical = next.catch(() => {});
    return next;
  }

  /** After a successful command: track outs, read metrics, record, rewrite dvx.lock. */
  private async complete(stage: Stage, runId: string, params: Record<string, unknown>, deps: LockedFile[], started: number): Promise<void> {
    const stats = this.ws.statCache();
    for (const o of stage.outs) {
      if (!contentHash(this.ws, stats, o)) throw new DvxError('missing_out', `the command succeeded but did not write its out ${o}`);
    }
    // Read before any pointer is written: a metrics file that fails the stage must leave its outs untracked.
    const metrics: MetricPoint[] = [];
    for (const m of stage.metrics) {
      const reading = readMetricsFile(this.ws.abs(m), m, started);
      metrics.push(...reading.points);
      this.reportMetricProblems(stage, reading.problems);
    }
    const cache = await this.ws.cache();
    if (!this.snap) {
      const ingestor = await Ingestor.create({ params: this.ws.chunker });
      const writer = cache.writer();
      this.snap = { ingestor, writer, snapshotter: new Snapshotter(this.ws, cache, writer, ingestor, stats) };
    }
    const outs: LockedFile[] = [];
    const artifacts: Artifact[] = [];
    const snapshots = [];
    for (const o of stage.outs) snapshots.push(await this.snap.snapshotter.snapshot(o));
    await this.snap.writer.flush();
    for (const s of snapshots) {
      const h = contentHash(this.ws, stats, s.dataPath)!;
      outs.push({ path: s.dataPath, sha256: h.sha256, size: h.size, type: h.type, manifest: s.pointer.manifest });
      artifacts.push({ direction: 'out', path: s.dataPath, type: s.pointer.type, sha256: s.pointer.sha256, manifest: s.pointer.manifest, size: s.pointer.size });
      this.changedFiles.add(this.ws.writePointer(s.dataPath, s.pointer));
      this.changedFiles.add(this.ws.ignoreDataPath(s.dataPath));
    }
    this.store.addMetrics(runId, metrics);
    this.store.addArtifacts(runId, artifacts);
    this.locks.set(stage.name, { cmd: stage.cmd, deps, params, outs });
    writeLock(this.ws, this.locks);
    this.changedFiles.add(LOCK_FILE);
  }
}

