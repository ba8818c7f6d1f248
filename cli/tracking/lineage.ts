import type { GitHistory } from '../history/git-history.ts';
import type { StageRun, TrackingStore } from './store.ts';

/**
 * Lineage over the tracking store: which runs and data versions (recursively)
 * produced a data version, and which runs and outputs were derived from one.
 * A data version is (path, sha256). An input no recorded run produced is raw
 * data: it is traced to the commit that first recorded that version.
 */
export interface DataNode {
  kind: 'data';
  path: string;
  sha256: string;
  manifest: string | null;
  size: number | null;
  /** upstream: the run that produced it */
  producedBy?: RunNode;
  /** upstream, for raw data: the commit that introduced this version */
  introducedIn?: { sha: string; message: string; time: number } | null;
  /** downstream: runs that read it */
  consumedBy?: RunNode[];
}

export interface RunNode {
  kind: 'run';
  id: string;
  stage: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  commit: string | null;
  params: Record<string, unknown>;
  pipelineRun: string;
  inputs?: DataNode[];
  outputs?: DataNode[];
}

const runNode = (r: StageRun): RunNode => ({ kind: 'run', id: r.id, stage: r.stage, status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt, commit: r.commit, params: r.params, pipelineRun: r.pipelineRun });

export async function upstream(store: TrackingStore, history: GitHistory | undefined, path: string, sha256: string, manifest: string | null, size: number | null, seen = new Set<string>()): Promise<DataNode> {
  const node: DataNode = { kind: 'data', path, sha256, manifest, size };
  const key = `${path}\0${sha256}`;
  if (seen.has(key)) return node;
  seen.add(key);
  const run = store.producers(path, sha256)[0];
  if (!run) {
    node.introducedIn = history ? await introducedIn(history, path, sha256) : null;
    return node;
  }
  const r = runNode(run);
  r.inputs = [];
  for (const a of store.artifacts(run.id).filter((x) => x.direction === 'in')) {
    r.inputs.push(await upstream(store, history, a.path, a.sha256, a.manifest, a.size, seen));
  }
  node.producedBy = r;
  return node;
}

export function downstream(store: TrackingStore, path: string, sha256: string, manifest: string | null, size: number | null, seen = new Set<string>()): DataNode {
  const node: DataNode = { kind: 'data', path, sha256, manifest, size, consumedBy: [] };
  const key = `${path}\0${sha256}`;
  if (seen.has(key)) return node;
  seen.add(key);
  for (const run of store.consumers(path, sha256)) {
    const r = runNode(run);
    r.outputs = store
      .artifacts(run.id)
      .filter((a) => a.direction === 'out')
      .map((a) => downstream(store, a.path, a.sha256, a.manifest, a.size, seen));
    node.consumedBy!.push(r);
  }
  return node;
}

/** The oldest commit reachable from HEAD whose pointer for `path` has this sha256. */
async function introducedIn(history: GitHistory, path: string, sha256: string): Promise<{ sha: string; message: string; time: number } | null> {
  const head = await history.resolve('HEAD');
  if (!head) return null;
  let found: { sha: string; message: string; time: number } | null = null;
  for (const c of await history.ancestry([head])) {
    const p = (await history.changes(c.parents[0], c.sha)).set.get(path);
    if (p?.sha256 === sha256) found = { sha: c.sha, message: c.message.split('\n')[0]!, time: c.committer.time };
  }
  return found;
}

/** OpenLineage run events (spec 2-0-2) for every run in a lineage tree. */
export function openLineageEvents(root: DataNode, namespace: string): unknown[] {
  const events: unknown[] = [];
  const seen = new Set<string>();
  const dataset = (d: DataNode) => ({
    namespace,
    name: d.path,
    facets: {
      version: { _producer: PRODUCER, _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json', datasetVersion: d.sha256 },
    },
  });
  const visitRun = (r: RunNode, inputs: DataNode[], outputs: DataNode[]) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    events.push({
      eventType: r.status === 'succeeded' ? 'COMPLETE' : 'FAIL',
      eventTime: new Date(r.finishedAt ?? r.startedAt).toISOString(),
      producer: PRODUCER,
      schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent',
      run: { runId: r.id, facets: { dvx: { _producer: PRODUCER, _schemaURL: `${PRODUCER}#run-facet`, stage: r.stage, pipelineRun: r.pipelineRun, commit: r.commit, params: r.params } } },
      job: { namespace, name: r.stage },
      inputs: inputs.map(dataset),
      outputs: outputs.map(dataset),
    });
  };
  const walk = (d: DataNode) => {
    if (d.producedBy) {
      visitRun(d.producedBy, d.producedBy.inputs ?? [], [d]);
      for (const i of d.producedBy.inputs ?? []) walk(i);
    }
    for (const r of d.consumedBy ?? []) {
      visitRun(r, [d], r.outputs ?? []);
      for (const o of r.outputs ?? []) walk(o);
    }
  };
  walk(root);
  return events;
}

const PRODUCER = 'https://github.com/dvx-data/dvx';
