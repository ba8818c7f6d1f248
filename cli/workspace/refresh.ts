import { Ingestor } from '../../core/ingest.ts';
import { pathStatus } from './status.ts';
import { Snapshotter, type SnapshotOutcome } from './snapshot.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Re-records tracked paths whose data changed since their pointer was written,
 * as `dvx add` would, and rewrites their pointers. Unchanged paths cost a stat
 * each (stat cache); missing data is left alone (it may just not be pulled).
 */
export async function refreshChanged(ws: Workspace, tracked: Tracked[]): Promise<{ updated: SnapshotOutcome[]; pointerPaths: string[] }> {
  const cache = await ws.cache();
  const stats = ws.statCache();
  const changed = tracked.filter((t) => {
    if (!t.pointer) return false;
    const s = pathStatus(ws, cache, stats, t);
    return s.state === 'modified' || s.state === 'changed';
  });
  stats.flush();
  if (changed.length === 0) return { updated: [], pointerPaths: [] };
  const ingestor = await Ingestor.create({ params: ws.chunker });
  const writer = cache.writer();
  const updated: SnapshotOutcome[] = [];
  try {
    const snap = new Snapshotter(ws, cache, writer, ingestor, stats);
    for (const t of changed) updated.push(await snap.snapshot(t.dataPath));
    await writer.flush();
  } catch (err) {
    await writer.discard();
    throw err;
  } finally {
    ingestor.close();
    stats.flush();
  }
  const pointerPaths = updated.map((o) => ws.writePointer(o.dataPath, o.pointer));
  return { updated, pointerPaths };
}
