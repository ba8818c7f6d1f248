import { pathStatus } from './status.ts';
import { snapshotting, type SnapshotOutcome } from './snapshot.ts';
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
  const updated = await snapshotting(ws, undefined, async (snap) => {
    const out: SnapshotOutcome[] = [];
    for (const t of changed) out.push(await snap.snapshot(t.dataPath));
    return out;
  });
  const pointerPaths = updated.map((o) => ws.writePointer(o.dataPath, o.pointer));
  return { updated, pointerPaths };
}
