import type { Artifact, LineageRun, RunIndex, RunStatus } from './run-index.ts';

/**
 * The lineage graph of one data version (docs/protocol.md), built from the
 * inputs and outputs of successful runs. A data version is (path, sha256).
 * Upstream: the newest run that produced it, that run's inputs, and so on
 * back to raw data (data no recorded run produced). Downstream: every run
 * that read it, their outputs, and so on. Edges always point from inputs to
 * runs and from runs to outputs, whichever way the walk went.
 */
export interface IntroducingCommit {
  commit: string;
  /** seconds since the epoch, as in commit records */
  time: number;
  message: string;
}

/**
 * Optional hooks into commit records (kept out of this module so that the
 * tracking store does not depend on them):
 * - introducedBy: the commit that first recorded this data version in the
 *   repository; raw data nodes carry it.
 * - resolveRef: the sha256 of `path` at a branch, tag or commit (`ref=` on
 *   GET /lineage); undefined when the path is not tracked there. May throw an
 *   HttpError (unknown or ambiguous ref).
 */
export interface TrackingHooks {
  introducedBy?: (q: { rid: number; repo: string; path: string; sha256: string }) => IntroducingCommit | undefined;
  resolveRef?: (q: { rid: number; repo: string; ref: string; path: string }) => { sha256: string } | undefined;
}

export interface DataNode {
  id: string;
  kind: 'data';
  path: string;
  type: 'file' | 'dir' | null;
  sha256: string;
  manifest: string | null;
  size: number | null;
  /** the run (id) that produced this version, or null for raw data */
  producedBy: string | null;
  /** raw data only: the commit that introduced this version, null when the server has no record of it */
  introducedBy?: IntroducingCommit | null;
}

export interface RunNode {
  id: string;
  kind: 'run';
  run: string;
  stage: string;
  attempt: number;
  status: RunStatus;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  commit: string | null;
  pipelineRun: string;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
}

export interface LineageGraph {
  root: string;
  direction: 'up' | 'down';
  nodes: (DataNode | RunNode)[];
  edges: { from: string; to: string }[];
  /** the walk stopped at maxNodes */
  truncated: boolean;
}

export const LINEAGE_MAX_NODES = 5_000;

const dataId = (path: string, sha256: string) => `data:${sha256}:${path}`;
const runId = (id: string) => `run:${id}`;

export function lineageGraph(q: {
  runs: RunIndex;
  rid: number;
  repo: string;
  path: string;
  sha256: string;
  direction: 'up' | 'down';
  hooks?: TrackingHooks;
  maxNodes?: number;
}): LineageGraph | undefined {
  const { runs, rid } = q;
  const max = q.maxNodes ?? LINEAGE_MAX_NODES;
  const nodes = new Map<string, DataNode | RunNode>();
  const edges = new Map<string, { from: string; to: string }>();
  let truncated = false;
  const edge = (from: string, to: string) => edges.set(`${from}\0${to}`, { from, to });
  const full = () => {
    if (nodes.size < max) return false;
    truncated = true;
    return true;
  };

  const addData = (a: Pick<Artifact, 'path' | 'sha256'> & Partial<Artifact>): { node: DataNode; producer: LineageRun | undefined; fresh: boolean } => {
    const id = dataId(a.path, a.sha256);
    const existing = nodes.get(id) as DataNode | undefined;
    if (existing) return { node: existing, producer: undefined, fresh: false };
    const producer = runs.producer(rid, a.path, a.sha256);
    const node: DataNode = { id, kind: 'data', path: a.path, type: a.type ?? null, sha256: a.sha256, manifest: a.manifest ?? null, size: a.size ?? null, producedBy: producer?.id ?? null };
    if (!producer) node.introducedBy = q.hooks?.introducedBy?.({ rid, repo: q.repo, path: a.path, sha256: a.sha256 }) ?? null;
    nodes.set(id, node);
    return { node, producer, fresh: true };
  };
  const addRun = (r: LineageRun): { node: RunNode; fresh: boolean } => {
    const id = runId(r.id);
    const existing = nodes.get(id) as RunNode | undefined;
    if (existing) return { node: existing, fresh: false };
    const node: RunNode = {
      id,
      kind: 'run',
      run: r.id,
      stage: r.stage,
      attempt: r.attempt,
      status: r.status,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      durationMs: r.durationMs,
      commit: r.commit,
      pipelineRun: r.pipelineRun,
      params: r.params,
      metrics: r.metrics,
    };
    nodes.set(id, node);
    return { node, fresh: true };
  };

  const known = runs.mentioned(rid, q.path, q.sha256);
  const introduced = known ? undefined : q.hooks?.introducedBy?.({ rid, repo: q.repo, path: q.path, sha256: q.sha256 });
  if (!known && !introduced) return undefined;
  const root = addData({ path: q.path, sha256: q.sha256, ...known });

  if (q.direction === 'up') {
    // Breadth first, so that a truncated graph keeps the nearest ancestors.
    const queue: { node: DataNode; producer: LineageRun | undefined }[] = [root];
    while (queue.length > 0 && !truncated) {
      const { node, producer } = queue.shift()!;
      if (!producer || full()) continue;
      const r = addRun(producer);
      edge(r.node.id, node.id);
      if (!r.fresh) continue;
      for (const input of runs.artifacts(producer, 'in')) {
        if (full()) break;
        const d = addData(input);
        edge(d.node.id, r.node.id);
        if (d.fresh) queue.push(d);
      }
    }
  } else {
    const queue: DataNode[] = [root.node];
    while (queue.length > 0 && !truncated) {
      const data = queue.shift()!;
      for (const consumer of runs.consumers(rid, data.path, data.sha256, max)) {
        if (full()) break;
        const r = addRun(consumer);
        edge(data.id, r.node.id);
        if (!r.fresh) continue;
        for (const output of runs.artifacts(consumer, 'out')) {
          if (full()) break;
          const d = addData(output);
          edge(r.node.id, d.node.id);
          if (d.fresh) queue.push(d.node);
        }
      }
    }
  }
  return { root: root.node.id, direction: q.direction, nodes: [...nodes.values()], edges: [...edges.values()], truncated };
}
