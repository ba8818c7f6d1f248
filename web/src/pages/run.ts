import { enc, get, type Artifact, type RunDetail } from '../api.ts';
import { bytes, dateTime, duration, h, link, num, paramText, short } from '../dom.ts';
import { lineChart } from '../components/chart.ts';
import { fetchCurve, lastValues, pointCounts } from '../metrics.ts';
import { href } from '../router.ts';

/** One run: its params, metrics (with a chart per curve), log, inputs and outputs. */
export async function runPage(repo: string, id: string): Promise<Node> {
  const run = await get<RunDetail>(`/repos/${enc(repo)}/runs/${enc(id)}`);
  const last = lastValues(run);
  const counts = pointCounts(run);
  const keys = Object.keys(last).sort();
  const curves = await Promise.all(keys.filter((k) => (counts[k] ?? 0) > 1).map((k) => fetchCurve(repo, id, k)));

  const kv = (k: string, v: Node | string) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v));
  const artifacts = (list: Artifact[], id: string) =>
    list.length === 0
      ? h('p', { class: 'muted' }, 'none')
      : h(
          'table',
          { id },
          h('thead', null, h('tr', null, h('th', null, 'Path'), h('th', null, 'Type'), h('th', { class: 'num' }, 'Size'), h('th', null, 'sha256'), h('th', null, ''))),
          h(
            'tbody',
            null,
            list.map((a) =>
              h(
                'tr',
                { 'data-path': a.path },
                h('td', null, link(href(['r', repo, 'history'], { path: a.path }), a.path)),
                h('td', null, a.type),
                h('td', { class: 'num' }, bytes(a.size)),
                h('td', null, h('code', { title: a.sha256 }, short(a.sha256, 12))),
                h('td', null, link(href(['r', repo, 'lineage'], { path: a.path, sha256: a.sha256 }), 'lineage')),
              ),
            ),
          ),
        );

  return h(
    'section',
    null,
    h('div', { class: 'breadcrumb' }, link(href(['r', repo, 'runs']), 'Runs'), ' › ', run.stage),
    h('h1', null, h('span', { id: 'run-stage' }, run.stage), ' ', h('span', { class: `status-${run.status}`, id: 'run-status' }, run.status)),
    h(
      'table',
      { id: 'run-info' },
      h(
        'tbody',
        null,
        kv('Run', h('code', null, run.id)),
        kv('Pipeline run', link(href(['r', repo, 'runs'], { pipelineRun: run.pipelineRun }), h('code', null, run.pipelineRun))),
        kv('Attempt', String(run.attempt)),
        kv('Commit', run.commit ? link(href(['r', repo], { ref: run.commit }), h('code', null, run.commit)) : '—'),
        kv('Started', dateTime(run.startedAt)),
        kv('Finished', dateTime(run.finishedAt)),
        kv('Duration', duration(run.durationMs ?? (run.finishedAt ? run.finishedAt - run.startedAt : null))),
        kv('Exit', run.exitCode === null ? (run.signal ?? '—') : String(run.exitCode)),
        run.cmd ? kv('Command', h('code', null, run.cmd)) : null,
        run.error ? kv('Error', h('span', { class: 'error' }, run.error)) : null,
      ),
    ),
    h('h2', null, 'Params'),
    Object.keys(run.params ?? {}).length === 0
      ? h('p', { class: 'muted' }, 'none')
      : h('table', { id: 'params' }, h('tbody', null, Object.entries(run.params).map(([k, v]) => h('tr', { 'data-param': k }, h('th', { scope: 'row' }, k), h('td', { class: 'mono' }, paramText(v)))))),
    h('h2', null, 'Metrics'),
    keys.length === 0
      ? h('p', { class: 'muted' }, 'none')
      : h('table', { id: 'metrics' }, h('thead', null, h('tr', null, h('th', null, 'Metric'), h('th', { class: 'num' }, 'Last value'), h('th', { class: 'num' }, 'Points'))), h('tbody', null, keys.map((k) => h('tr', { 'data-metric': k }, h('th', { scope: 'row' }, k), h('td', { class: 'num' }, num(last[k])), h('td', { class: 'num' }, counts[k] ?? 0))))),
    curves.length > 0 ? h('div', { class: 'charts' }, curves.map((c) => lineChart({ title: c.key, x: c.xs, xLabel: 'step', series: [{ label: c.key, values: c.ys }] }))) : null,
    h('h2', null, 'Inputs'),
    artifacts(run.inputs ?? [], 'inputs'),
    h('h2', null, 'Outputs'),
    artifacts(run.outputs ?? [], 'outputs'),
    run.attempts && run.attempts.length > 0
      ? [h('h2', null, 'Other attempts'), h('ul', { id: 'attempts' }, run.attempts.map((a) => h('li', null, link(href(['r', repo, 'runs', a.id]), `attempt ${a.attempt}`), ` — ${a.status}`)))]
      : null,
    h('h2', null, 'Log'),
    run.log ? h('pre', { class: 'log', id: 'log', tabindex: 0 }, run.log) : h('p', { class: 'muted' }, 'no log'),
  );
}
