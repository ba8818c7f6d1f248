import { enc, get, q, type DatasetsAnswer, type LineageAnswer, type LineageNode } from '../api.ts';
import { bytes, h, link, short } from '../dom.ts';
import { layeredGraph, type GraphNode } from '../components/graph.ts';
import { go, href, type Route } from '../router.ts';

/**
 * The lineage of one data version, upstream (what produced it) or downstream
 * (what it produced): data and run nodes laid out in layers by dagre. A data
 * node leads to its own lineage, a run node to the run's page.
 */
export async function lineagePage(repo: string, route: Route): Promise<Node> {
  const path = route.query.get('path') ?? '';
  const sha256 = route.query.get('sha256') ?? undefined;
  // No ref: the server's default branch.
  const ref = route.query.get('ref') || undefined;
  const direction = route.query.get('direction') === 'down' ? 'down' : 'up';
  const section = h('section', null, h('h1', null, 'Lineage'));
  section.appendChild(pathForm(repo, path, ref ?? '', direction));
  if (!path) {
    section.appendChild(h('p', { class: 'muted' }, 'Name a tracked path (a dataset, a model) to see what produced it or what it produced, or pick one:'));
    const at = await get<DatasetsAnswer>(`/repos/${enc(repo)}/datasets${q({ ref })}`).catch(() => undefined);
    if (at) {
      section.appendChild(
        h('ul', { id: 'lineage-picks' }, at.datasets.map((d) => h('li', null, link(href(['r', repo, 'lineage'], { path: d.path, sha256: d.sha256, direction }), d.path), h('span', { class: 'muted' }, ` ${bytes(d.size)}`)))),
      );
    }
    return section;
  }
  // A path at a ref is resolved here to the version's sha256, which every server answers lineage for.
  const version = sha256 ?? (await get<DatasetsAnswer>(`/repos/${enc(repo)}/datasets${q({ ref })}`)).datasets.find((d) => d.path === path)?.sha256;
  if (!version) {
    section.appendChild(h('p', { class: 'error', role: 'alert' }, `${path} is not tracked at ${ref ?? 'the default branch'}: `, link(href(['r', repo], { ref }), 'see what is')));
    return section;
  }
  const g = await get<LineageAnswer>(`/repos/${enc(repo)}/lineage${q({ path, sha256: version, direction })}`);
  const other = direction === 'up' ? 'down' : 'up';
  section.appendChild(
    h(
      'div',
      { class: 'toolbar' },
      h('span', null, direction === 'up' ? 'Upstream: what produced ' : 'Downstream: what was produced from ', h('code', null, path), h('span', { class: 'muted' }, ` @ ${short(version, 10)}`)),
      link(href(['r', repo, 'lineage'], { path, sha256: version, direction: other }), direction === 'up' ? 'Show downstream ↓' : 'Show upstream ↑'),
      link(href(['r', repo, 'history'], { path }), 'history of this path'),
      h('span', { class: 'muted', id: 'graph-size' }, `${g.nodes.length} nodes, ${g.edges.length} edges`),
    ),
  );
  const nodes: GraphNode[] = g.nodes.map((n) => toGraphNode(repo, n, direction, n.id === g.root));
  section.appendChild(h('div', { class: 'graph', id: 'lineage-graph' }, layeredGraph(nodes, g.edges)));
  return section;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function toGraphNode(repo: string, n: LineageNode, direction: string, root: boolean): GraphNode {
  if (n.kind === 'run') {
    const id = str(n.run ?? n.runId ?? n.id.replace(/^run:/, ''));
    return { id: n.id, kind: 'run', title: str(n.stage) || 'run', subtitle: `${str(n.status)}${n.commit ? ` · ${short(str(n.commit), 7)}` : ''}`, href: href(['r', repo, 'runs', id]), root };
  }
  const path = str(n.path);
  const sha256 = str(n.sha256);
  const introduced = (n.introducedBy ?? null) as { commit?: string } | null;
  const sub = [sha256 ? short(sha256, 8) : '', typeof n.size === 'number' ? bytes(n.size) : '', introduced?.commit ? `commit ${short(introduced.commit, 7)}` : ''].filter(Boolean).join(' · ');
  return { id: n.id, kind: 'data', title: path || n.id, subtitle: sub, href: href(['r', repo, 'lineage'], { path, sha256: sha256 || undefined, direction }), root };
}

function pathForm(repo: string, path: string, ref: string, direction: string): HTMLFormElement {
  const p = h('input', { id: 'lineage-path', name: 'path', value: path, size: 40, placeholder: 'models/model.json' });
  const r = h('input', { id: 'lineage-ref', name: 'ref', value: ref, size: 14, placeholder: 'default branch' });
  const d = h('select', { id: 'lineage-direction', name: 'direction' }, h('option', { value: 'up', selected: direction === 'up' }, 'upstream'), h('option', { value: 'down', selected: direction === 'down' }, 'downstream'));
  const form = h('form', { class: 'filters', id: 'lineage-form' }, h('label', null, 'Path', p), h('label', null, 'At ref', r), h('label', null, 'Direction', d), h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(href(['r', repo, 'lineage'], { path: p.value.trim(), ref: r.value.trim() || undefined, direction: d.value }));
  });
  return form;
}
