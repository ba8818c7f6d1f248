import { readFileSync, existsSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { dataPathOf, type Pointer } from '../../core/pointer.ts';
import { runStatusSchema } from '../../core/protocol.ts';
import { GitHistory } from '../history/git-history.ts';
import { downstream, openLineageEvents, upstream, type DataNode, type RunNode } from '../tracking/lineage.ts';
import { openTracking } from '../tracking/open.ts';
import type { StageRun, TrackingStore } from '../tracking/store.ts';
import { formatBytes, info, printJson, type OutputOptions } from '../ui.ts';
import { pathStatus } from '../workspace/status.ts';
import { Workspace } from '../workspace/workspace.ts';

/** `dvx runs`, `dvx metrics`, `dvx lineage`, `dvx models`: questions to the tracking store. */
interface RunsOptions extends OutputOptions {
  stage?: string;
  status?: string;
  limit?: string;
}

async function withStore<T>(fn: (ws: Workspace, store: TrackingStore) => Promise<T> | T): Promise<T> {
  const ws = Workspace.find();
  const store = openTracking(ws);
  try {
    return await fn(ws, store);
  } finally {
    store.close();
    await ws.close();
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const duration = (r: StageRun) => (r.finishedAt === null ? 'running' : `${((r.finishedAt - r.startedAt) / 1000).toFixed(1)}s`);

export async function runs(opts: RunsOptions): Promise<void> {
  await withStore((_ws, store) => {
    const limit = opts.limit !== undefined ? Number(opts.limit) : opts.json ? undefined : 50;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new DvxError('usage', `--limit must be a whole number of at least 1, got ${opts.limit}`);
    const statuses = runStatusSchema.options;
    if (opts.status !== undefined && !(statuses as readonly string[]).includes(opts.status)) throw new DvxError('usage', `--status ${opts.status}: not a run status; use one of ${statuses.join(', ')}`);
    const list = store.runs({ stage: opts.stage, status: opts.status, limit });
    if (opts.json) return printJson({ runs: list.map((r) => ({ ...r, startedAt: iso(r.startedAt), finishedAt: iso(r.finishedAt), metrics: store.latestMetrics(r.id) })) });
    if (list.length === 0) return info(opts, 'no runs yet: `dvx repro` runs the pipeline in dvx.yaml');
    for (const r of list) {
      const m = Object.entries(store.latestMetrics(r.id)).slice(0, 3).map(([k, v]) => `${k}=${+v.toFixed(4)}`).join(' ');
      info(opts, `${r.id.slice(0, 8)}  ${new Date(r.startedAt).toISOString().slice(0, 19).replace('T', ' ')}  ${r.stage.padEnd(14)} #${r.attempt} ${r.status.padEnd(15)} ${duration(r).padStart(8)}  ${(r.commit ?? '').slice(0, 8)}  ${m}`);
    }
  });
}

export async function showRun(id: string, opts: OutputOptions): Promise<void> {
  await withStore((_ws, store) => {
    const found = store.runsByPrefix(id);
    if (found.length > 1) throw new DvxError('ambiguous_run', `more than one run id starts with ${JSON.stringify(id)}`, 'give more of the id (see `dvx runs`)');
    const r = found[0];
    if (!r) throw new DvxError('no_such_run', `no run id starts with ${JSON.stringify(id)}`, 'see `dvx runs`');
    const artifacts = store.artifacts(r.id);
    const metrics = store.metrics(r.id);
    if (opts.json) return printJson({ ...r, startedAt: iso(r.startedAt), finishedAt: iso(r.finishedAt), inputs: artifacts.filter((a) => a.direction === 'in'), outputs: artifacts.filter((a) => a.direction === 'out'), metrics });
    info(opts, `run ${r.id}\n  stage ${r.stage}, attempt ${r.attempt}, ${r.status}${r.exitCode !== null ? ` (exit ${r.exitCode})` : ''}${r.error ? `: ${r.error}` : ''}\n  pipeline run ${r.pipelineRun}, commit ${r.commit ?? '-'}\n  started ${iso(r.startedAt)}, took ${duration(r)}\n  cmd: ${r.cmd}`);
    if (Object.keys(r.params).length) info(opts, `  params: ${Object.entries(r.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`);
    for (const a of artifacts) info(opts, `  ${a.direction === 'in' ? 'input ' : 'output'} ${a.path}  ${a.sha256.slice(0, 12)}${a.size !== null ? `  ${formatBytes(a.size)}` : ''}`);
    const keys = [...new Set(metrics.map((m) => m.key))];
    for (const k of keys) {
      const pts = metrics.filter((m) => m.key === k);
      const last = pts[pts.length - 1]!;
      info(opts, `  metric ${k} = ${last.value}${pts.length > 1 ? ` (${pts.length} points, min ${Math.min(...pts.map((p) => p.value))}, max ${Math.max(...pts.map((p) => p.value))})` : ''}`);
    }
    if (r.logPath && existsSync(r.logPath)) {
      const lines = readFileSync(r.logPath, 'utf8').trimEnd().split('\n');
      info(opts, `  log ${r.logPath} (last lines):\n${lines.slice(-10).map((l) => `    ${l}`).join('\n')}`);
    }
  });
}

/** Latest metrics of each stage from its most recent successful run (among `runs`). */
function latestPerStage(store: TrackingStore, runs: StageRun[]): Map<string, { run: string; metrics: Record<string, number> }> {
  const out = new Map<string, { run: string; metrics: Record<string, number> }>();
  for (const r of runs) {
    if (r.status !== 'succeeded' || out.has(r.stage)) continue;
    const metrics = store.latestMetrics(r.id);
    if (Object.keys(metrics).length) out.set(r.stage, { run: r.id, metrics });
  }
  return out;
}

/**
 * Metrics as of a commit: for each stage, the newest successful run tied to
 * that commit or, failing that, to its nearest first-parent ancestor that has
 * one (an autocommit of the outputs sits on top of the commit that ran them).
 */
async function metricsAtCommit(store: TrackingStore, history: GitHistory, sha: string): Promise<Map<string, { run: string; metrics: Record<string, number> }>> {
  const byCommit = new Map<string, StageRun[]>();
  for (const r of store.runs({ status: 'succeeded' })) if (r.commit) byCommit.set(r.commit, [...(byCommit.get(r.commit) ?? []), r]);
  const out = new Map<string, { run: string; metrics: Record<string, number> }>();
  let cur: string | undefined = sha;
  for (let depth = 0; cur && depth < 10_000; depth++) {
    for (const [stage, m] of latestPerStage(store, byCommit.get(cur) ?? [])) if (!out.has(stage)) out.set(stage, m);
    cur = (await history.commit(cur)).parents[0];
  }
  return out;
}

export async function metricsShow(opts: OutputOptions): Promise<void> {
  await withStore((_ws, store) => {
    const m = latestPerStage(store, store.runs({ status: 'succeeded' }));
    if (opts.json) return printJson({ stages: Object.fromEntries(m) });
    if (m.size === 0) return info(opts, 'no metrics recorded yet');
    for (const [stage, { run, metrics }] of m) info(opts, `${stage} (run ${run.slice(0, 8)}):\n${Object.entries(metrics).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  });
}

export async function metricsDiff(a: string, b: string, opts: OutputOptions): Promise<void> {
  await withStore(async (ws, store) => {
    const history = GitHistory.open(ws.root);
    const resolve = async (rev: string) => {
      const sha = await history.resolve(rev);
      if (!sha) throw new DvxError('bad_revision', `${rev} does not name a commit`);
      return sha;
    };
    const [sa, sb] = [await resolve(a), await resolve(b)];
    const ma = await metricsAtCommit(store, history, sa);
    const mb = await metricsAtCommit(store, history, sb);
    const rows: { stage: string; metric: string; a: number | null; b: number | null; change: number | null }[] = [];
    for (const stage of new Set([...ma.keys(), ...mb.keys()])) {
      const x = ma.get(stage)?.metrics ?? {};
      const y = mb.get(stage)?.metrics ?? {};
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
        const va = x[k] ?? null;
        const vb = y[k] ?? null;
        rows.push({ stage, metric: k, a: va, b: vb, change: va !== null && vb !== null ? vb - va : null });
      }
    }
    if (opts.json) return printJson({ a: { rev: a, commit: sa }, b: { rev: b, commit: sb }, metrics: rows });
    if (rows.length === 0) return info(opts, `no metrics recorded for runs at ${a} or ${b}`);
    for (const r of rows) info(opts, `${r.stage}.${r.metric}: ${r.a ?? '-'} -> ${r.b ?? '-'}${r.change !== null ? ` (${r.change >= 0 ? '+' : ''}${+r.change.toFixed(6)})` : ''}`);
  });
}

interface LineageOptions extends OutputOptions {
  downstream?: boolean;
  format?: string;
}

/** The pointer of `path` now (working tree) or at a revision (`path@rev`). */
async function dataVersion(ws: Workspace, spec: string): Promise<Pointer & { dataPath: string }> {
  const at = spec.lastIndexOf('@');
  const [pathPart, rev] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, undefined];
  const rel = ws.rel(pathPart);
  const dataPath = dataPathOf(rel) ?? rel;
  if (rev) {
    const history = GitHistory.open(ws.root);
    const sha = await history.resolve(rev);
    if (!sha) throw new DvxError('bad_revision', `${rev} does not name a commit`);
    const p = (await history.pointersAt(sha)).get(dataPath);
    if (!p) throw new DvxError('not_tracked', `${dataPath} is not tracked at ${rev}`);
    return { ...p, dataPath };
  }
  const t = ws.trackedUnder([dataPath]).tracked.find((x) => x.dataPath === dataPath);
  if (!t) throw new DvxError('not_tracked', `${dataPath} is not tracked by dvx`, 'name an out of a stage, or tracked data');
  if (!t.pointer) throw t.error!;
  return { ...t.pointer, dataPath };
}

export async function lineage(spec: string, opts: LineageOptions): Promise<void> {
  const format = opts.json ? 'json' : (opts.format ?? 'text');
  if (!['text', 'json', 'openlineage'].includes(format)) throw new DvxError('usage', `--format must be text, json or openlineage, not ${format}`);
  await withStore(async (ws, store) => {
    const v = await dataVersion(ws, spec);
    const root = opts.downstream ? downstream(store, v.dataPath, v.sha256, v.manifest, v.size) : await upstream(store, GitHistory.open(ws.root), v.dataPath, v.sha256, v.manifest, v.size);
    if (format === 'json') return printJson({ direction: opts.downstream ? 'downstream' : 'upstream', root });
    if (format === 'openlineage') return printJson(openLineageEvents(root, `dvx://${ws.root}`));
    const lines: string[] = [];
    printTree(root, '', lines, !!opts.downstream);
    info(opts, lines.join('\n'));
  });
}

function printTree(d: DataNode, indent: string, out: string[], down: boolean): void {
  const size = d.size !== null ? ` ${formatBytes(d.size)}` : '';
  const raw = d.introducedIn ? ` (raw data, committed in ${d.introducedIn.sha.slice(0, 10)} "${d.introducedIn.message}")` : d.introducedIn === null && !d.producedBy && !down ? ' (raw data)' : '';
  out.push(`${indent}${d.path} @ ${d.sha256.slice(0, 12)}${size}${raw}`);
  const run = (r: RunNode) => `${indent}  <- ${down ? 'read by' : 'made by'} stage ${r.stage}, run ${r.id.slice(0, 8)} (${r.status}, ${new Date(r.startedAt).toISOString().slice(0, 16).replace('T', ' ')}${r.commit ? `, commit ${r.commit.slice(0, 8)}` : ''})`;
  if (d.producedBy) {
    out.push(run(d.producedBy));
    for (const i of d.producedBy.inputs ?? []) printTree(i, indent + '     ', out, down);
  }
  for (const r of d.consumedBy ?? []) {
    out.push(run(r).replace('<-', '->'));
    for (const o of r.outputs ?? []) printTree(o, indent + '     ', out, down);
  }
}

interface ModelOptions extends OutputOptions {
  alias?: string;
}

export async function modelsRegister(name: string, path: string, opts: ModelOptions): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new DvxError('usage', `invalid model name ${JSON.stringify(name)}`);
  await withStore(async (ws, store) => {
    const v = await dataVersion(ws, path);
    const t = ws.trackedUnder([v.dataPath]).tracked.find((x) => x.dataPath === v.dataPath);
    if (t && !path.includes('@') && pathStatus(ws, await ws.cache(), ws.statCache(), t).state !== 'clean') {
      throw new DvxError('modified', `${v.dataPath} differs from its pointer`, 'register what a run produced: `dvx repro` or `dvx add` it first');
    }
    const producer = store.producers(v.dataPath, v.sha256)[0];
    const m = store.registerModel({ name, path: v.dataPath, sha256: v.sha256, manifest: v.manifest, run: producer?.id ?? null, alias: opts.alias });
    if (opts.json) return printJson(m);
    info(opts, `registered ${name} version ${m.version}${m.aliases.length ? ` (${m.aliases.join(', ')})` : ''}: ${v.dataPath} @ ${v.sha256.slice(0, 12)}${producer ? `, made by run ${producer.id.slice(0, 8)} of stage ${producer.stage}` : ' (no recorded run produced it)'}`);
  });
}

export async function modelsList(opts: OutputOptions): Promise<void> {
  await withStore((_ws, store) => {
    const models = store.models();
    if (opts.json) return printJson({ models: models.map((m) => ({ ...m, createdAt: iso(m.createdAt) })) });
    if (models.length === 0) return info(opts, 'no models registered: `dvx models register <name> <path>`');
    for (const m of models) info(opts, `${m.name} v${m.version}${m.aliases.length ? ` [${m.aliases.join(', ')}]` : ''}  ${m.path} @ ${m.sha256.slice(0, 12)}  ${m.run ? `run ${m.run.slice(0, 8)}` : ''}  ${iso(m.createdAt)}`);
  });
}
