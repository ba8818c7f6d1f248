import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { API_PREFIX, MediaType, RunsSync, runsSyncRequestSchema, runStatusSchema } from '../../../core/protocol.ts';
import { authorize, notFoundRepo } from '../../auth/auth.ts';
import { canonicalJson, type RunIndex, type MetricOp, type RunFilter, type RunSort, type RunSortColumn } from '../../index/run-index.ts';
import type { Store } from '../../store/store.ts';
import { HttpError } from '../http-error.ts';
import { repoParam, requireMediaType } from '../params.ts';
import { oneQuery, manyQuery, onlyQueries, intQuery } from '../query.ts';

/**
 * Runs sync and queries (docs/protocol.md "Runs, metrics, lineage and
 * models"): POST records what clients ran, all in one transaction; GETs list
 * and filter runs, show one with every metric point, and serve one metric's
 * curve downsampled on the server.
 */
export const RunQueryLimits = { maxLimit: 500, defaultLimit: 50, defaultPoints: 1_000, minPoints: 4, maxPoints: 100_000 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SORT_COLUMNS: readonly RunSortColumn[] = ['startedAt', 'finishedAt', 'duration', 'stage', 'status'];
const METRIC_FILTER = /^([^<>=]+)(>=|<=|=|>|<)(.+)$/;
const jsonBody = express.json({ type: () => true, limit: RunsSync.maxBodyBytes, strict: true });

const tooLarge = () => new HttpError(413, 'too_large', `the body is larger than ${RunsSync.maxBodyBytes} bytes: send at most ${RunsSync.maxRunsPerRequest} runs and ${RunsSync.maxBodyBytes >> 20} MiB per request`);

function runsBody(req: Request, res: Response, next: NextFunction): void {
  // Answered before reading: body-parser would first drain the whole announced body.
  if (Number(req.headers['content-length'] ?? 0) > RunsSync.maxBodyBytes) return next(tooLarge());
  jsonBody(req, res, (err?: unknown) => next((err as { type?: string } | undefined)?.type === 'entity.too.large' ? tooLarge() : err));
}

/** Counts over the limits are 413 (send less per request), checked before the schema so that the answer says so. */
function checkSizes(body: unknown): void {
  if (!body || typeof body !== 'object') return;
  const b = body as { runs?: unknown; pipelineRuns?: unknown; models?: unknown };
  const tooMany = (what: string, n: number, max: number) => new HttpError(413, 'too_large', `${n} ${what} is more than the limit of ${max} per request: send them in batches`);
  if (Array.isArray(b.runs) && b.runs.length > RunsSync.maxRunsPerRequest) throw tooMany('runs', b.runs.length, RunsSync.maxRunsPerRequest);
  if (Array.isArray(b.pipelineRuns) && b.pipelineRuns.length > RunsSync.maxRunsPerRequest) throw tooMany('pipeline runs', b.pipelineRuns.length, RunsSync.maxRunsPerRequest);
  if (Array.isArray(b.models) && b.models.length > 10_000) throw tooMany('models', b.models.length, 10_000);
  if (!Array.isArray(b.runs)) return;
  b.runs.forEach((r: unknown, i) => {
    const run = r as { metrics?: unknown; log?: unknown } | null;
    if (Array.isArray(run?.metrics) && run.metrics.length > 1_000_000) throw new HttpError(413, 'too_large', `runs[${i}] has ${run.metrics.length} metric points, more than the limit of 1,000,000 per run`);
    if (typeof run?.log === 'string' && Buffer.byteLength(run.log) > RunsSync.maxLogBytes) {
      throw new HttpError(413, 'too_large', `runs[${i}].log is more than ${RunsSync.maxLogBytes} bytes: send only the tail of the log`);
    }
  });
}

function parseFilter(req: Request): RunFilter {
  const f: RunFilter = {};
  const status = oneQuery(req, 'status');
  if (status !== undefined) {
    const s = runStatusSchema.safeParse(status);
    if (!s.success) throw new HttpError(400, 'bad_query', `status=${JSON.stringify(status.slice(0, 40))} is not a run status: use one of ${runStatusSchema.options.join(', ')}`);
    f.status = s.data;
  }
  const stage = oneQuery(req, 'stage');
  if (stage !== undefined) f.stage = stage;
  const commit = oneQuery(req, 'commit');
  if (commit !== undefined) {
    if (!/^[0-9a-f]{1,64}$/.test(commit)) throw new HttpError(400, 'bad_query', `commit=${JSON.stringify(commit.slice(0, 80))} is not a commit sha prefix: use 1 to 64 lowercase hex digits`);
    f.commitPrefix = commit;
  }
  const pipelineRun = oneQuery(req, 'pipelineRun');
  if (pipelineRun !== undefined) {
    if (!UUID.test(pipelineRun)) throw new HttpError(400, 'bad_query', `pipelineRun=${JSON.stringify(pipelineRun.slice(0, 80))} is not a pipeline run id (a lowercase UUID)`);
    f.pipelineRun = pipelineRun;
  }
  f.params = manyQuery(req, 'param').map((p) => {
    const colon = p.indexOf(':');
    const problem = `param=${JSON.stringify(p.slice(0, 120))} is not <key>:<json value>, e.g. param=train.lr:0.1 or param=model:"rf"`;
    if (colon <= 0) throw new HttpError(400, 'bad_query', problem);
    try {
      return { key: p.slice(0, colon), value: canonicalJson(JSON.parse(p.slice(colon + 1))) };
    } catch {
      throw new HttpError(400, 'bad_query', `${problem} (the value is not JSON: quote strings)`);
    }
  });
  f.metrics = manyQuery(req, 'metric').map((m) => {
    const match = METRIC_FILTER.exec(m);
    const value = match ? Number(match[3]) : NaN;
    if (!match || match[3]!.trim() === '' || !Number.isFinite(value)) {
      throw new HttpError(400, 'bad_query', `metric=${JSON.stringify(m.slice(0, 120))} is not <key><op><number> with op one of >=, <=, >, <, =, e.g. metric=accuracy>=0.9`);
    }
    return { key: match[1]!, op: match[2] as MetricOp, value };
  });
  return f;
}

function parseSort(req: Request): RunSort {
  const sort = oneQuery(req, 'sort') ?? 'startedAt';
  if ((SORT_COLUMNS as readonly string[]).includes(sort)) return { kind: 'column', column: sort as RunSortColumn };
  if (sort.startsWith('param.') && sort.length > 6) return { kind: 'param', key: sort.slice(6) };
  if (sort.startsWith('metric.') && sort.length > 7) return { kind: 'metric', key: sort.slice(7) };
  throw new HttpError(400, 'bad_query', `sort=${JSON.stringify(sort.slice(0, 80))} is not a sort key: use ${SORT_COLUMNS.join(', ')}, param.<key> or metric.<key>`);
}

function runIdParam(req: Request): string {
  const id = String(req.params.id ?? '');
  if (!UUID.test(id)) throw new HttpError(400, 'bad_id', `invalid run id ${JSON.stringify(id.slice(0, 80))}: expected a lowercase UUID`);
  return id;
}

/** The repository of a read request, or 404. */
export function readableRepo(store: Store, req: Request): { rid: number; name: string } {
  const name = repoParam(req);
  authorize(req, name, 'read');
  const row = store.repos.get(name);
  if (!row) throw notFoundRepo(name);
  return row;
}

export function runRoutes(app: Express, store: Store, index: RunIndex): void {
  app.post(
    `${API_PREFIX}/repos/:repo/runs`,
    (req, res, next) => {
      authorize(req, repoParam(req), 'write');
      requireMediaType(req, MediaType.json);
      runsBody(req, res, next);
    },
    (req: Request, res: Response) => {
      const name = repoParam(req);
      checkSizes(req.body);
      const parsed = runsSyncRequestSchema.safeParse(req.body);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new HttpError(422, 'invalid_runs', `body: ${i.path.join('.') || '(root)'}: ${i.message}; nothing was recorded (docs/protocol.md lists the fields)`);
      }
      const result = store.transaction(() => index.record(store.repos.ensure(name, Date.now()).repo.rid, parsed.data));
      res.json(result);
    },
  );

  app.get(`${API_PREFIX}/repos/:repo/runs`, (req: Request, res: Response) => {
    const repo = readableRepo(store, req);
    onlyQueries(req, ['status', 'stage', 'commit', 'pipelineRun', 'param', 'metric', 'sort', 'order', 'limit', 'offset']);
    const filter = parseFilter(req);
    const sort = parseSort(req);
    const order = oneQuery(req, 'order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new HttpError(400, 'bad_query', `order=${JSON.stringify(order.slice(0, 40))}: use asc or desc`);
    const limit = intQuery(req, 'limit', { min: 1, max: RunQueryLimits.maxLimit, default: RunQueryLimits.defaultLimit });
    const offset = intQuery(req, 'offset', { min: 0, max: 1_000_000_000, default: 0 });
    const page = index.list({ rid: repo.rid, filter, sort, order, limit, offset });
    res.json({ total: page.total, offset, limit, runs: page.runs });
  });

  app.get(`${API_PREFIX}/repos/:repo/runs/:id`, (req: Request, res: Response) => {
    const repo = readableRepo(store, req);
    const id = runIdParam(req);
    onlyQueries(req, []);
    const run = index.get(repo.rid, id);
    if (!run) throw new HttpError(404, 'run_not_found', `no run ${id} in ${repo.name}: runs arrive with \`dvx push\` (or git push with dvx hooks)`);
    res.json(run);
  });

  app.get(`${API_PREFIX}/repos/:repo/runs/:id/metrics/:key`, (req: Request, res: Response) => {
    const repo = readableRepo(store, req);
    const id = runIdParam(req);
    const key = String(req.params.key ?? '');
    onlyQueries(req, ['points']);
    const points = intQuery(req, 'points', { min: RunQueryLimits.minPoints, max: RunQueryLimits.maxPoints, default: RunQueryLimits.defaultPoints });
    const curve = index.metricCurve(repo.rid, id, key, points);
    if (!curve) throw new HttpError(404, 'run_not_found', `no run ${id} in ${repo.name}`);
    if (curve.total === 0) throw new HttpError(404, 'metric_not_found', `run ${id} recorded no metric ${JSON.stringify(key.slice(0, 200))}`);
    res.json(curve);
  });
}
