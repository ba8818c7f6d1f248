import { get, type RepoInfo } from '../api.ts';
import { bytes, dateTime, h, link } from '../dom.ts';
import { href } from '../router.ts';

export async function reposPage(): Promise<Node> {
  const { repos } = await get<{ repos: RepoInfo[] }>('/repos');
  const rows = repos.map((r) =>
    h(
      'tr',
      { 'data-repo': r.name },
      h('td', null, link(href(['r', r.name]), r.name)),
      h('td', null, dateTime(Date.parse(r.createdAt))),
      h('td', { class: 'num' }, r.blobs),
      h('td', { class: 'num' }, bytes(r.bytes)),
      h('td', null, link(href(['r', r.name, 'runs']), 'runs'), ' · ', link(href(['r', r.name, 'models']), 'models')),
    ),
  );
  return h(
    'section',
    null,
    h('h1', null, 'Repositories'),
    repos.length === 0
      ? h('p', { class: 'muted' }, 'No repository this token can read yet. A first `git push` with dvx hooks creates one.')
      : h('table', { id: 'repos' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Created'), h('th', { class: 'num' }, 'Blobs'), h('th', { class: 'num' }, 'Stored'), h('th', null, ''))), h('tbody', null, rows)),
  );
}
