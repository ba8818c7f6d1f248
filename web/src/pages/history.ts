import { enc, get, q, type HistoryAnswer, type Version } from '../api.ts';
import { bytes, clear, dateTime, firstLine, h, link, short } from '../dom.ts';
import { lineChart } from '../components/chart.ts';
import { downloadButton } from '../components/download.ts';
import { href, type Route } from '../router.ts';

/** Pages of the server's history that one view loads at most (1,000 versions each). */
const MAX_PAGES = 20;

/**
 * Every version of one dataset: a chart of its size and of the bytes each
 * version added to storage, and what deduplication saved (the sum of the
 * versions' sizes less the sum of their new bytes).
 */
export async function historyPage(repo: string, route: Route): Promise<Node> {
  const path = route.query.get('path') ?? '';
  const ref = route.query.get('ref') ?? undefined;
  const section = h('section', null, h('div', { class: 'breadcrumb' }, link(href(['r', repo], { ref }), 'Datasets'), ' › history'), h('h1', null, path || 'History'));
  if (!path) {
    section.appendChild(h('p', { class: 'muted' }, 'Choose a dataset on the Datasets page.'));
    return section;
  }
  const versions: Version[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await get<HistoryAnswer>(`/repos/${enc(repo)}/history${q({ path, ref, limit: 1000, cursor })}`);
    versions.push(...page.versions);
    if (!page.next) break;
    cursor = page.next;
  }
  const sumSize = versions.reduce((n, v) => n + v.size, 0);
  const sumNew = versions.reduce((n, v) => n + v.newBytes, 0);
  const saved = sumSize - sumNew;
  const card = (k: string, v: string, id: string) => h('div', { class: 'card', id }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));
  section.appendChild(
    h(
      'div',
      { class: 'cards' },
      card('versions', String(versions.length), 'stat-versions'),
      card('latest size', bytes(versions[0]?.size), 'stat-latest'),
      card('sum of all versions', bytes(sumSize), 'stat-sum'),
      card('stored (new bytes)', bytes(sumNew), 'stat-stored'),
      card('saved by dedup', `${bytes(saved)}${sumSize > 0 ? ` (${((100 * saved) / sumSize).toFixed(1)} %)` : ''}`, 'stat-saved'),
    ),
  );
  const saved_ = h('span', { hidden: true, id: 'saved-bytes', 'data-value': saved });
  section.appendChild(saved_);
  if (versions.length > 0) {
    const oldestFirst = [...versions].reverse();
    section.appendChild(
      h(
        'div',
        { class: 'charts' },
        lineChart({
          title: 'size and new bytes per version',
          x: oldestFirst.map((_, i) => i + 1),
          xLabel: 'version',
          series: [
            { label: 'size', values: oldestFirst.map((v) => v.size), fill: true },
            { label: 'new bytes', values: oldestFirst.map((v) => v.newBytes) },
          ],
          yFormat: bytes,
          width: 900,
          height: 280,
        }),
      ),
    );
  }
  // The chart and the totals use every version; the table shows them a page at a time.
  const table = h('table', { id: 'versions', 'data-total': versions.length });
  const body = h('tbody');
  table.append(
    h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', null, 'Commit'), h('th', null, 'Time'), h('th', null, 'Message'), h('th', null, 'Author'), h('th', { class: 'num' }, 'Size'), h('th', { class: 'num' }, 'New bytes'), h('th', null, ''))),
    body,
  );
  const range = h('span', { id: 'versions-range' });
  const prev = h('button', { type: 'button', id: 'versions-prev' }, '‹ Newer');
  const next = h('button', { type: 'button', id: 'versions-next' }, 'Older ›');
  let offset = 0;
  const show = () => {
    clear(body);
    const page = versions.slice(offset, offset + TABLE_PAGE);
    body.append(...page.map((v, j) => versionRow(repo, path, v, versions.length - offset - j)));
    range.textContent = `${versions.length === 0 ? 0 : offset + 1}–${offset + page.length} of ${versions.length}`;
    prev.disabled = offset === 0;
    next.disabled = offset + TABLE_PAGE >= versions.length;
  };
  prev.addEventListener('click', () => {
    offset = Math.max(0, offset - TABLE_PAGE);
    show();
  });
  next.addEventListener('click', () => {
    offset += TABLE_PAGE;
    show();
  });
  show();
  section.append(h('div', { class: 'pager', role: 'navigation', 'aria-label': 'versions' }, prev, range, next), table);
  return section;
}

const TABLE_PAGE = 100;

function versionRow(repo: string, path: string, v: Version, n: number): HTMLElement {
  return h(
    'tr',
    { 'data-commit': v.commit },
    h('td', { class: 'num' }, n),
    h('td', null, h('code', { title: v.commit }, short(v.commit, 10))),
    h('td', { class: 'nowrap' }, dateTime(v.time * (v.time < 1e11 ? 1000 : 1))),
    h('td', { class: 'message' }, firstLine(v.message)),
    h('td', null, typeof v.author === 'string' ? v.author : (v.author?.name ?? '')),
    h('td', { class: 'num nowrap' }, bytes(v.size)),
    h('td', { class: 'num nowrap' }, bytes(v.newBytes)),
    h('td', null, link(href(['r', repo, 'lineage'], { path, sha256: v.sha256 }), 'lineage'), ' · ', downloadButton({ repo, ref: v.commit, path, dir: v.type === 'dir' })),
  );
}
