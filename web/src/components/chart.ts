import uPlot from 'uplot';
import { h } from '../dom.ts';

/**
 * Line charts with uPlot. Every chart registers itself in `window.__dvxCharts`
 * (title → series data) so that a browser test can check that what is drawn
 * is what the API answered.
 */
export interface SeriesSpec {
  label: string;
  values: (number | null)[];
  color?: string;
  /** a second y axis, for a quantity of another unit */
  scale?: string;
  fill?: boolean;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

declare global {
  interface Window {
    __dvxCharts?: Record<string, { x: number[]; series: { label: string; values: (number | null)[] }[] }>;
  }
}

export function lineChart(opts: {
  title: string;
  x: number[];
  xLabel: string;
  series: SeriesSpec[];
  width?: number;
  height?: number;
  yFormat?: (v: number) => string;
  timeX?: boolean;
}): HTMLElement {
  const box = h('figure', { class: 'chart', 'data-chart': opts.title, 'aria-label': `chart: ${opts.title}` }, h('h3', null, opts.title));
  const scales: uPlot.Scales = { x: { time: opts.timeX === true } };
  // Versions and steps are whole numbers: no ticks at 1.5.
  const axes: uPlot.Axis[] = [{ label: opts.xLabel, incrs: opts.timeX ? undefined : [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1e6, 1e7] }, { values: opts.yFormat ? (_u, vals) => vals.map((v) => (v === null ? '' : opts.yFormat!(v))) : undefined, size: 70 }];
  const seen = new Set<string>();
  for (const s of opts.series) {
    if (s.scale && !seen.has(s.scale)) {
      seen.add(s.scale);
      axes.push({ scale: s.scale, side: 1, grid: { show: false }, size: 70, values: opts.yFormat ? (_u, vals) => vals.map((v) => (v === null ? '' : opts.yFormat!(v))) : undefined });
    }
  }
  const series: uPlot.Series[] = [
    { label: opts.xLabel },
    ...opts.series.map((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      return { label: s.label, stroke: color, width: 1.5, scale: s.scale ?? 'y', spanGaps: true, fill: s.fill ? `${color}22` : undefined, points: { show: opts.x.length < 60 }, value: opts.yFormat ? (_u: uPlot, v: number | null) => (v === null ? '—' : opts.yFormat!(v)) : undefined } satisfies uPlot.Series;
    }),
  ];
  const data = [opts.x, ...opts.series.map((s) => s.values)] as uPlot.AlignedData;
  new uPlot({ width: opts.width ?? 600, height: opts.height ?? 240, scales, axes, series, legend: { live: true } }, data, box);
  window.__dvxCharts ??= {};
  window.__dvxCharts[opts.title] = { x: opts.x, series: opts.series.map((s) => ({ label: s.label, values: s.values })) };
  return box;
}

/** Several (x, y) curves on one x axis: the union of their xs, gaps where a curve has no point. */
export function overlay(curves: { label: string; xs: number[]; ys: number[] }[]): { x: number[]; series: SeriesSpec[] } {
  const tables = curves.map((c) => [c.xs, c.ys] as uPlot.AlignedData);
  if (tables.length === 0) return { x: [], series: [] };
  const joined = uPlot.join(tables);
  return { x: joined[0] as number[], series: curves.map((c, i) => ({ label: c.label, values: joined[i + 1] as (number | null)[] })) };
}
