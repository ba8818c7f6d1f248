import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { RunsSync, type SyncedRun } from '../../core/protocol.ts';
import type { DvxRemote } from '../remote/dvx-remote.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { metricPointProblem } from './metrics.ts';
import { openTracking } from './open.ts';
import type { TrackingStore } from './store.ts';

/**
 * Sends the server the finished runs (with metrics, inputs, outputs and the
 * tail of their log) and the models it has not received yet, in batches;
 * marks them sent only once the server has answered. Idempotent on both sides.
 */
export async function syncTracking(store: TrackingStore, remote: DvxRemote): Promise<{ runs: number; models: number }> {
  let runs = 0;
  for (;;) {
    const batch = store.unsyncedRuns(100);
    if (batch.length === 0) break;
    const body: SyncedRun[] = [];
    let bytes = 0;
    for (const r of batch) {
      const artifacts = store.artifacts(r.id);
      const run: SyncedRun = {
        id: r.id,
        pipelineRun: r.pipelineRun,
        stage: r.stage,
        attempt: r.attempt,
        status: r.status,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        exitCode: r.exitCode,
        signal: r.signal,
        cmd: r.cmd,
        commit: r.commit,
        params: r.params,
        error: r.error,
        // An older dvx recorded points the server refuses (an empty key, a step past 2^53): one would stop every push.
        metrics: store.metrics(r.id).filter((m) => metricPointProblem(m) === undefined),
        inputs: artifacts.filter((a) => a.direction === 'in').map(({ direction: _, ...a }) => a),
        outputs: artifacts.filter((a) => a.direction === 'out').map(({ direction: _, ...a }) => a),
        log: r.logPath ? logTail(r.logPath) : null,
      };
      const size = JSON.stringify(run).length;
      if (body.length > 0 && bytes + size > RunsSync.maxBodyBytes / 2) break;
      body.push(run);
      bytes += size;
    }
    const pipelineRuns = [...new Set(body.map((r) => r.pipelineRun))].map((id) => store.pipelineRun(id)).filter((p) => p !== undefined);
    await remote.postRuns({ pipelineRuns, runs: body, models: [] });
    store.markRunsSynced(body.map((r) => r.id));
    runs += body.length;
  }
  const models = store.unsyncedModels();
  if (models.length > 0) {
    await remote.postRuns({ pipelineRuns: [], runs: [], models });
    store.markModelsSynced(models);
  }
  return { runs, models: models.length };
}

function logTail(path: string): string | null {
  if (!existsSync(path)) return null;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, RunsSync.maxLogBytes - 4096);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    // Cut at a line start so no multi-byte character is split.
    const text = buf.toString('utf8');
    return size > length ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}

/** What a push sends besides data: the workspace's runs and models, when it has a tracking store (a push creates none). */
export async function syncWorkspaceTracking(ws: Workspace, remote: DvxRemote): Promise<{ runs: number; models: number }> {
  if (!existsSync(join(ws.dvxDir, 'tracking.sqlite'))) return { runs: 0, models: 0 };
  const store = openTracking(ws);
  try {
    return await syncTracking(store, remote);
  } finally {
    store.close();
  }
}
