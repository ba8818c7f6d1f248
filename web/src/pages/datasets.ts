import { enc, get, q, type CommitInfo, type DatasetsAnswer, type Ref } from '../api.ts';
import { bytes, dateTime, firstLine, h, link, short } from '../dom.ts';
import { downloadButton } from '../components/download.ts';
import { go, href, type Route } from '../router.ts';

/** The datasets tracked at a branch, tag or commit, with sizes, history, lineage and download links. */
export async function datasetsPage(repo: string, route: Route): Promise<Node> {
  const { refs } = await get<{ refs: Ref[] }>(`/repos/${enc(repo)}/refs`);
  const fallback = refs.find((r) => r.name === 'refs/heads/main') ?? refs.find((r) => r.name.startsWith('refs/heads/')) ?? refs[0];
  const ref = route.query.get('ref') || (fallback ? displayRef(fallback.name) : '');
  const section = h('section', null, h('h1', null, 'Datasets'));
  section.appendChild(refPicker(repo, refs, ref));
  if (!ref) {
    section.appendChild(h('p', { class: 'muted' }, 'Nothing pushed yet: no branch or tag has a commit record.'));
    return section;
  }
  const [ds, commit] = await Promise.all([get<DatasetsAnswer>(`/repos/${enc(repo)}/datasets${q({ ref })}`), get<CommitInfo>(`/repos/${enc(repo)}/commits/${enc(ref)}`)]);
  section.appendChild(
    h(
      'p',
      { class: 'commit' },
      'At ',
      h('code', { 'data-commit': ds.commit }, short(ds.commit, 12)),
      ' — ',
      h('span', { class: 'message' }, firstLine(commit.message)),
      h('span', { class: 'muted' }, ` · ${commit.author?.name ?? ''} · ${dateTime((commit.author?.time ?? 0) * 1000)}`),
    ),
  );
  const total = ds.datasets.reduce((n, d) => n + d.size, 0);
  section.appendChild(h('p', { class: 'muted', id: 'datasets-summary' }, `${ds.datasets.length} tracked path${ds.datasets.length === 1 ? '' : 's'}, ${bytes(total)} in all`));
  const rows = ds.datasets.map((d) =>
    h(
      'tr',
      { 'data-path': d.path },
      h('td', null, link(href(['r', repo, 'history'], { path: d.path, ref }), d.path)),
      h('td', null, d.type === 'dir' ? `dir (${d.files ?? '?'} files)` : 'file'),
      h('td', { class: 'num', 'data-size': d.size }, bytes(d.size)),
      h('td', null, h('code', { title: d.sha256 }, short(d.sha256, 12))),
      h(
        'td',
        null,
        link(href(['r', repo, 'history'], { path: d.path, ref }), 'history'),
        ' · ',
        link(href(['r', repo, 'lineage'], { path: d.path, sha256: d.sha256 }), 'lineage'),
        ' · ',
        downloadButton({ repo, ref: ds.commit, path: d.path, dir: d.type === 'dir' }),
      ),
    ),
  );
  section.appendChild(
    h(
      'table',
      { id: 'datasets' },
      h('thead', null, h('tr', null, h('th', null, 'Path'), h('th', null, 'Type'), h('th', { class: 'num' }, 'Size'), h('th', null, 'sha256'), h('th', null, ''))),
      h('tbody', null, rows),
    ),
  );
  return section;
}

function displayRef(name: string): string {
  return name.replace(/^refs\/(heads|tags)\//, '');
}

function refPicker(repo: string, refs: Ref[], ref: string): HTMLElement {
  const select = h('select', { id: 'ref-select', 'aria-label': 'branch or tag' });
  for (const r of refs) {
    const name = displayRef(r.name);
    const opt = h('option', { value: name }, `${r.name.startsWith('refs/tags/') ? 'tag' : 'branch'}: ${name} (${short(r.sha, 7)})`);
    if (name === ref) opt.selected = true;
    select.appendChild(opt);
  }
  const input = h('input', { id: 'ref-input', 'aria-label': 'branch, tag or commit', placeholder: 'branch, tag or commit', value: ref, size: 24 });
  select.addEventListener('change', () => go(href(['r', repo], { ref: select.value })));
  const form = h('form', { class: 'toolbar', id: 'ref-form' }, h('label', null, 'Ref ', select), h('label', null, 'or ', input), h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(href(['r', repo], { ref: input.value.trim() }));
  });
  return form;
}
