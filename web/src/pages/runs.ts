import { enc, get, q, type RunsPage } from '../api.ts';
import { dateTime, duration, h, link, num, paramText, short } from '../dom.ts';
import { go, href, type Route } from '../router.ts';

/**
 * The runs table: filtered, sorted and paginated by the server (GET /runs), so
 * that it stays fast with tens of thousands of runs. The view's state is in
 * the hash, so every filtered, sorted page is a link.
 */
const STATUSES = ['', 'running', 'succeeded', 'failed', 'timeout', 'upstream_failed', 'cancelled'];
const PAGE_SIZES = [25, 50, 100, 200];

export async function runsPage(repo: string, route: Route): Promise<Node> {
  const qs = route.query;
  const state = {
    status: qs.get('status') ?? '',
    stage: qs.get('stage') ?? '',
    commit: qs.get('commit') ?? '',
    param: qs.getAll('param'),
    metric: qs.getAll('metric'),
    sort: qs.get('sort') ?? 'startedAt',
    order: qs.get('order') ?? 'desc',
    limit: Number(qs.get('limit') ?? 50) || 50,
    offset: Number(qs.get('offset') ?? 0) || 0,
  };
  const page = await get<RunsPage>(`/repos/${enc(repo)}/runs${q({ ...state, status: state.status || undefined })}`);
  const to = (patch: Partial<typeof state>) => href(['r', repo, 'runs'], { ...state, ...patch } as Record<string, string | number | string[]>);

  const paramKeys = [...new Set(page.runs.flatMap((r) => Object.keys(r.params ?? {})))].sort();
  const metricKeys = [...new Set(page.runs.flatMap((r) => Object.keys(r.metrics ?? {})))].sort();

  const sortHeader = (label: string, key: string, numeric = false) => {
    const on = state.sort === key;
    const next = on && state.order === 'desc' ? 'asc' : 'desc';
    return h(
      'th',
      { class: numeric ? 'num' : null, 'aria-sort': on ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none', scope: 'col' },
      h('button', { class: 'sort', type: 'button', 'data-sort': key, 'aria-label': `sort by ${label}`, onclick: () => go(to({ sort: key, order: next, offset: 0 })) }, label),
    );
  };

  const selected = new Set<string>();
  const compareBtn = h('button', { type: 'button', id: 'compare', disabled: true }, 'Compare selected');
  compareBtn.addEventListener('click', () => go(href(['r', repo, 'compare'], { ids: [...selected] })));

  const rows = page.runs.map((r) => {
    const box = h('input', { type: 'checkbox', 'aria-label': `select run ${r.stage} ${short(r.id)}`, 'data-run': r.id });
    box.addEventListener('change', () => {
      if (box.checked) selected.add(r.id);
      else selected.delete(r.id);
      compareBtn.disabled = selected.size < 2;
    });
    return h(
      'tr',
      { 'data-run': r.id },
      h('td', null, box),
      h('td', null, link(href(['r', repo, 'runs', r.id]), r.stage), h('span', { class: 'muted' }, ` #${r.attempt}`)),
      h('td', { class: `status-${r.status}` }, r.status),
      h('td', null, r.commit ? h('code', { title: r.commit }, short(r.commit)) : '—'),
      h('td', { class: 'nowrap' }, dateTime(r.startedAt)),
      h('td', { class: 'num nowrap' }, duration(r.durationMs)),
      paramKeys.map((k) => h('td', { 'data-param': k }, k in (r.params ?? {}) ? paramText(r.params[k]) : '')),
      metricKeys.map((k) => h('td', { class: 'num', 'data-metric': k }, k in (r.metrics ?? {}) ? num(r.metrics[k]) : '')),
    );
  });

  const filters = filterForm(state, (patch) => go(to({ ...patch, offset: 0 })));
  const from = page.total === 0 ? 0 : page.offset + 1;
  const toN = Math.min(page.offset + page.runs.length, page.total);
  const size = h('select', { id: 'page-size', 'aria-label': 'runs per page' }, PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.limit }, `${n} per page`)));
  size.addEventListener('change', () => go(to({ limit: Number(size.value), offset: 0 })));
  const pager = h(
    'div',
    { class: 'pager', role: 'navigation', 'aria-label': 'pages' },
    h('button', { type: 'button', id: 'prev', disabled: page.offset === 0, onclick: () => go(to({ offset: Math.max(0, page.offset - state.limit) })) }, '‹ Previous'),
    h('span', { id: 'range' }, `${from}–${toN} of ${page.total}`),
    h('button', { type: 'button', id: 'next', disabled: page.offset + page.runs.length >= page.total, onclick: () => go(to({ offset: page.offset + state.limit })) }, 'Next ›'),
    size,
    compareBtn,
  );

  return h(
    'section',
    null,
    h('h1', null, 'Runs'),
    filters,
    pager,
    // Params and metrics add a column each: the table scrolls sideways, the page does not.
    h('div', { class: 'scroll-x' }, h(
      'table',
      { id: 'runs', 'data-total': page.total },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, h('span', { class: 'muted' }, '✓')),
          sortHeader('Stage', 'stage'),
          sortHeader('Status', 'status'),
          h('th', null, 'Commit'),
          sortHeader('Started', 'startedAt'),
          sortHeader('Duration', 'duration', true),
          paramKeys.map((k) => sortHeader(k, `param.${k}`)),
          metricKeys.map((k) => sortHeader(k, `metric.${k}`, true)),
        ),
      ),
      h('tbody', null, rows),
    )),
    page.runs.length === 0 ? h('p', { class: 'muted' }, 'No run matches.') : null,
  );
}

interface FilterState {
  status: string;
  stage: string;
  commit: string;
  param: string[];
  metric: string[];
}

function filterForm(state: FilterState, apply: (patch: FilterState) => void): HTMLFormElement {
  const status = h('select', { name: 'status', id: 'f-status' }, STATUSES.map((s) => h('option', { value: s, selected: s === state.status }, s || 'any')));
  const stage = h('input', { name: 'stage', id: 'f-stage', value: state.stage, size: 12 });
  const commit = h('input', { name: 'commit', id: 'f-commit', value: state.commit, size: 10, placeholder: 'sha prefix' });
  const param = h('input', { name: 'param', id: 'f-param', value: state.param.join(' '), size: 22, placeholder: 'key:json value, …' });
  const metric = h('input', { name: 'metric', id: 'f-metric', value: state.metric.join(' '), size: 22, placeholder: 'auc>=0.8 …' });
  const form = h(
    'form',
    { class: 'filters', id: 'run-filters', role: 'search' },
    h('label', null, 'Status', status),
    h('label', null, 'Stage', stage),
    h('label', null, 'Commit', commit),
    h('label', null, 'Params', param),
    h('label', null, 'Metrics', metric),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    h('button', { type: 'button', id: 'f-clear', onclick: () => apply({ status: '', stage: '', commit: '', param: [], metric: [] }) }, 'Clear'),
  );
  const split = (s: string) => s.split(/\s+/).map((x) => x.trim()).filter(Boolean);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply({ status: status.value, stage: stage.value.trim(), commit: commit.value.trim(), param: split(param.value), metric: split(metric.value) });
  });
  return form;
}
