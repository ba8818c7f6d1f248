import dagre from '@dagrejs/dagre';
import { s } from '../dom.ts';

/**
 * A layered graph drawn as SVG: dagre computes the layout (ranks left to
 * right, crossings minimised), this draws boxes and edges. Every node is an
 * SVG link, so it is reachable with Tab and opens with Enter.
 */
export interface GraphNode {
  id: string;
  kind: string;
  title: string;
  subtitle: string;
  href: string;
  root?: boolean;
}

export function layeredGraph(nodes: GraphNode[], edges: { from: string; to: string }[]): SVGSVGElement {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 70, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    const w = Math.min(300, Math.max(120, 7 * Math.max(n.title.length, n.subtitle.length * 0.9) + 24));
    g.setNode(n.id, { width: w, height: 44 });
  }
  const ids = new Set(nodes.map((n) => n.id));
  for (const e of edges) if (ids.has(e.from) && ids.has(e.to)) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const { width = 200, height = 100 } = g.graph() as { width?: number; height?: number };
  const svg = s('svg', { width: Math.ceil(width), height: Math.ceil(height), viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, role: 'group', 'aria-label': 'lineage graph' });
  svg.appendChild(
    s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8795a5' }))),
  );
  for (const e of g.edges()) {
    const pts = (g.edge(e) as { points: { x: number; y: number }[] }).points;
    const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { class: 'edge', d, 'data-from': e.v, 'data-to': e.w }));
  }
  for (const n of nodes) {
    const box = g.node(n.id) as { x: number; y: number; width: number; height: number };
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const clip = (t: string) => (t.length * 6.6 > box.width - 16 ? `${t.slice(0, Math.floor((box.width - 16) / 6.6) - 1)}…` : t);
    svg.appendChild(
      s(
        'a',
        { href: n.href, class: `node ${n.kind}${n.root ? ' root' : ''}`, 'data-node': n.id, 'aria-label': `${n.kind} ${n.title} ${n.subtitle}` },
        s('title', null, `${n.title}\n${n.subtitle}`),
        s('rect', { x, y, width: box.width, height: box.height, rx: 6 }),
        s('text', { x: x + 8, y: y + 18 }, clip(n.title)),
        s('text', { x: x + 8, y: y + 34, class: 'sub' }, clip(n.subtitle)),
      ),
    );
  }
  return svg;
}
