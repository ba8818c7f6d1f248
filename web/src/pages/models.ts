import { enc, get, type Model } from '../api.ts';
import { dateTime, h, link, short } from '../dom.ts';
import { href } from '../router.ts';

/** The model registry: each model's versions (newest first) with aliases, the run that made it, and its lineage. */
export async function modelsPage(repo: string): Promise<Node> {
  const { models } = await get<{ models: Model[] }>(`/repos/${enc(repo)}/models`);
  const byName = new Map<string, Model[]>();
  for (const m of models) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
  const section = h('section', null, h('h1', null, 'Models'));
  if (models.length === 0) {
    section.appendChild(h('p', { class: 'muted' }, 'No model registered yet (`dvx models register NAME PATH`).'));
    return section;
  }
  for (const [name, versions] of byName) {
    versions.sort((a, b) => b.version - a.version);
    section.append(
      h('h2', { 'data-model': name }, name),
      h(
        'table',
        { class: 'model', 'data-model': name },
        h('thead', null, h('tr', null, h('th', { class: 'num' }, 'Version'), h('th', null, 'Aliases'), h('th', null, 'Path'), h('th', null, 'sha256'), h('th', null, 'Run'), h('th', null, 'Created'), h('th', null, ''))),
        h(
          'tbody',
          null,
          versions.map((m) =>
            h(
              'tr',
              { 'data-version': m.version },
              h('td', { class: 'num' }, m.version),
              h('td', null, m.aliases.map((a) => h('span', { class: 'tag' }, a))),
              h('td', null, m.path),
              h('td', null, h('code', { title: m.sha256 }, short(m.sha256, 12))),
              h('td', null, m.run ? link(href(['r', repo, 'runs', m.run]), m.producedBy ? `${m.producedBy.stage} ` : '', h('code', null, short(m.run))) : '—'),
              h('td', null, dateTime(m.createdAt)),
              h('td', null, link(href(['r', repo, 'lineage'], { path: m.path, sha256: m.sha256 }), 'lineage')),
            ),
          ),
        ),
      ),
    );
  }
  return section;
}
