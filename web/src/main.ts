import { setOnUnauthorized } from './api.ts';
import { clear, errorBox, h, link } from './dom.ts';
import { current, go, href, type Route } from './router.ts';
import { signOut, token } from './session.ts';
import { comparePage } from './pages/compare.ts';
import { datasetsPage } from './pages/datasets.ts';
import { historyPage } from './pages/history.ts';
import { lineagePage } from './pages/lineage.ts';
import { modelsPage } from './pages/models.ts';
import { reposPage } from './pages/repos.ts';
import { runPage } from './pages/run.ts';
import { runsPage } from './pages/runs.ts';
import { signInPage } from './pages/signin.ts';

/** The dvx web UI: a header with the navigation, and one page per route of the hash. */
export type Page = (route: Route) => Promise<Node>;

function pageFor(r: Route): { page: Page; repo?: string; section?: string } {
  const [a, repo, section, id] = r.parts;
  if (a === 'signin') return { page: signInPage };
  if (!token()) return { page: signInPage };
  if (a === undefined || a === 'repos') return { page: reposPage };
  if (a === 'r' && repo) {
    if (section === undefined || section === 'datasets') return { page: (rt) => datasetsPage(repo, rt), repo, section: 'datasets' };
    if (section === 'history') return { page: (rt) => historyPage(repo, rt), repo, section: 'datasets' };
    if (section === 'runs' && id) return { page: () => runPage(repo, id), repo, section: 'runs' };
    if (section === 'runs') return { page: (rt) => runsPage(repo, rt), repo, section: 'runs' };
    if (section === 'compare') return { page: (rt) => comparePage(repo, rt), repo, section: 'runs' };
    if (section === 'lineage') return { page: (rt) => lineagePage(repo, rt), repo, section: 'lineage' };
    if (section === 'models') return { page: () => modelsPage(repo), repo, section: 'models' };
  }
  return { page: async () => h('section', null, h('h1', null, 'Not found'), h('p', null, 'No page here. ', link('#/repos', 'Back to the repositories'))) };
}

function header(repo: string | undefined, section: string | undefined): (Node | null)[] {
  const signedIn = token() !== null;
  const item = (to: string, text: string, on: boolean) => h('a', { href: to, 'aria-current': on ? 'page' : null }, text);
  const nav = h('nav', { 'aria-label': 'main' }, signedIn ? item('#/repos', 'Repositories', repo === undefined) : null);
  if (repo) {
    nav.append(
      h('span', { class: 'muted' }, '›'),
      h('strong', { class: 'repo-name' }, repo),
      item(href(['r', repo]), 'Datasets', section === 'datasets'),
      item(href(['r', repo, 'runs']), 'Runs', section === 'runs'),
      item(href(['r', repo, 'lineage']), 'Lineage', section === 'lineage'),
      item(href(['r', repo, 'models']), 'Models', section === 'models'),
    );
  }
  const out = signedIn
    ? h('button', { class: 'link', type: 'button', id: 'signout', onclick: () => {
        signOut();
        go('#/signin');
      } }, 'Sign out')
    : null;
  // A hash link to #main would be taken for a route: the skip control is a button.
  const skip = h('button', { type: 'button', class: 'skip', onclick: () => document.getElementById('main')?.focus() }, 'Skip to content');
  return [skip, h('a', { href: '#/repos', class: 'brand' }, 'dvx'), nav, h('span', { class: 'spacer' }), out];
}

let generation = 0;
async function render(): Promise<void> {
  const mine = ++generation;
  const started = performance.now();
  const r = current();
  const { page, repo, section } = pageFor(r);
  const top = document.getElementById('top')!;
  const main = document.getElementById('main')!;
  clear(top);
  for (const n of header(repo, section)) if (n) top.appendChild(n);
  main.setAttribute('aria-busy', 'true');
  let content: Node;
  try {
    content = await page(r);
  } catch (err) {
    content = h('section', null, errorBox(err));
  }
  if (mine !== generation) return;
  clear(main);
  main.appendChild(content);
  main.removeAttribute('aria-busy');
  // How long the route took (API calls and DOM), for the benchmark and the curious: performance.getEntriesByName('dvx-render').
  performance.measure('dvx-render', { start: started, detail: location.hash });
  document.title = `dvx${repo ? ` · ${repo}` : ''}`;
}

setOnUnauthorized(() => go('#/signin'));
window.addEventListener('hashchange', () => void render());
void render();
