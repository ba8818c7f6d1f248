import { enc, get, type MetricPoint, type RunDetail } from './api.ts';

/** Metric curves as the charts want them: x (the step, or the point's index when a metric has no steps) and y. */
export interface Curve {
  key: string;
  xs: number[];
  ys: number[];
}

type Point = { step?: number | null; value: number; time?: number };

export async function fetchCurve(repo: string, runId: string, key: string, points = 500): Promise<Curve> {
  const a = await get<{ points?: Point[]; values?: Point[] } | Point[]>(`/repos/${enc(repo)}/runs/${enc(runId)}/metrics/${enc(key)}?points=${points}`);
  const list = Array.isArray(a) ? a : (a.points ?? a.values ?? []);
  return toCurve(key, list);
}

export function toCurve(key: string, list: Point[]): Curve {
  const stepped = list.every((p) => typeof p.step === 'number');
  const pairs = list.map((p, i) => [stepped ? (p.step as number) : i, p.value] as const);
  if (stepped) pairs.sort((a, b) => a[0] - b[0]);
  return { key, xs: pairs.map((p) => p[0]), ys: pairs.map((p) => p[1]) };
}

/** The last value of every metric of a run, whichever shape the detail carries. */
export function lastValues(run: RunDetail): Record<string, number> {
  if (!Array.isArray(run.metrics)) return { ...run.metrics };
  const out: Record<string, { v: number; order: number }> = {};
  (run.metrics as MetricPoint[]).forEach((m, i) => {
    const order = m.step ?? m.time ?? i;
    const prev = out[m.key];
    if (!prev || order >= prev.order) out[m.key] = { v: m.value, order };
  });
  return Object.fromEntries(Object.entries(out).map(([k, x]) => [k, x.v]));
}

export function metricKeys(run: RunDetail): string[] {
  return Object.keys(lastValues(run)).sort();
}

/** How many points each metric has in the run's detail (1: a single value, not worth a chart). */
export function pointCounts(run: RunDetail): Record<string, number> {
  if (!Array.isArray(run.metrics)) return Object.fromEntries(Object.keys(run.metrics).map((k) => [k, 1]));
  const c: Record<string, number> = {};
  for (const m of run.metrics as MetricPoint[]) c[m.key] = (c[m.key] ?? 0) + 1;
  return c;
}
