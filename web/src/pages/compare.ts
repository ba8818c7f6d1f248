import { enc, get, type RunDetail } from '../api.ts';
import { duration, h, link, num, paramText, short } from '../dom.ts';
import { lineChart, overlay } from '../components/chart.ts';
import { fetchCurve, lastValues, pointCounts } from '../metrics.ts';
import { href, type Route } from '../router.ts';

/** Several runs side by side: params and last metrics in columns (differences marked), curves overlaid. */
export async function comparePage(repo: string, route: Route): Promise<Node> {
  const ids = route.query.getAll('ids').flatMap((s) => s.split(',')).filter(Boolean).slice(0, 20);
  const section = h('section', null, h('div', { class: 'breadcrumb' }, link(href(['r', repo, 'runs']), 'Runs'), ' › compare'), h('h1', null, `Compare ${ids.length} runs`));
  if (ids.length === 0) {
    section.appendChild(h('p', { class: 'muted' }, 'Select runs on the Runs page, then "Compare selected".'));
    return section;
  }
  const runs = await Promise.all(ids.map((id) => get<RunDetail>(`/repos/${enc(repo)}/runs/${enc(id)}`)));
  const label = (r: RunDetail) => `${r.stage} ${short(r.id, 6)}`;
  const lasts = runs.map(lastValues);
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params ?? {})))].sort();
  const metricKeys = [...new Set(lasts.flatMap((m) => Object.keys(m)))].sort();

  const row = (name: string, cells: string[], attrs: Record<string, string>) => {
    const differ = new Set(cells).size > 1;
    return h('tr', attrs, h('th', { scope: 'row' }, name), cells.map((c) => h('td', { class: differ ? 'diff' : null }, c)));
  };
  section.appendChild(
    h(
      'table',
      { id: 'compare-table' },
      h('thead', null, h('tr', null, h('th', null, ''), runs.map((r) => h('th', { scope: 'col' }, link(href(['r', repo, 'runs', r.id]), label(r)))))),
      h(
        'tbody',
        null,
        row('status', runs.map((r) => r.status), { 'data-field': 'status' }),
        row('commit', runs.map((r) => short(r.commit)), { 'data-field': 'commit' }),
        row('duration', runs.map((r) => duration(r.durationMs ?? (r.finishedAt ? r.finishedAt - r.startedAt : null))), { 'data-field': 'duration' }),
        paramKeys.map((k) => row(`param ${k}`, runs.map((r) => (k in (r.params ?? {}) ? paramText(r.params[k]) : '—')), { 'data-param': k })),
        metricKeys.map((k) => row(`metric ${k}`, lasts.map((m) => (k in m ? num(m[k]) : '—')), { 'data-metric': k })),
      ),
    ),
  );

  const counts = runs.map(pointCounts);
  const curveKeys = metricKeys.filter((k) => counts.some((c) => (c[k] ?? 0) > 1));
  const charts = await Promise.all(
    curveKeys.map(async (k) => {
      const curves = await Promise.all(runs.map(async (r, i) => ((counts[i]![k] ?? 0) > 0 ? { ...(await fetchCurve(repo, r.id, k)), label: label(r) } : undefined)));
      const present = curves.filter((c): c is NonNullable<typeof c> => c !== undefined);
      const { x, series } = overlay(present.map((c) => ({ label: c.label, xs: c.xs, ys: c.ys })));
      return lineChart({ title: k, x, xLabel: 'step', series });
    }),
  );
  if (charts.length > 0) section.append(h('h2', null, 'Curves'), h('div', { class: 'charts' }, charts));
  return section;
}
