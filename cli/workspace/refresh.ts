import { pathStatus } from './status.ts';
import { snapshotting, type SnapshotOutcome } from './snapshot.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Re-records tracked paths whose data changed since their pointer was written,
 * as `dvx add` would, and rewrites their pointers (with `record: false`, only
 * names their pointers). Unchanged paths cost a stat
 * each (stat cache); missing data is left alone (it may just not be pulled).
 */
export async function refreshChanged(ws: Workspace, tracked: Tracked[], opts: { record?: boolean } = {}): Promise<{ updated: SnapshotOutcome[]; pointerPaths: string[]; outdated: string[] }> {
  const cache = await ws.cache();
  const stats = ws.statCache();
  const outdated: string[] = [];
  const changed = tracked.filter((t) => {
    if (!t.pointer) return false;
    const s = pathStatus(ws, cache, stats, t);
    if (s.state === 'outdated') outdated.push(t.dataPath);
    return s.state === 'modified' || s.state === 'changed';
  });
  stats.flush();
  if (changed.length === 0 || opts.record === false) return { updated: [], pointerPaths: changed.map((t) => t.pointerPath), outdated };
  const updated = await snapshotting(ws, undefined, async (snap) => {
    const out: SnapshotOutcome[] = [];
    for (const t of changed) out.push(await snap.snapshot(t.dataPath));
    return out;
  });
  const pointerPaths = updated.map((o) => ws.writePointer(o.dataPath, o.pointer));
  return { updated, pointerPaths, outdated };
}
