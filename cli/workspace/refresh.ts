import { pathStatus } from './status.ts';
import { snapshotting, type SnapshotOutcome } from './snapshot.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Which tracked paths' data changed since their pointer was written, and which
 * are outdated (status.ts: git changed the pointer, not the user the data).
 * Unchanged paths cost a stat each (stat cache); missing data is neither (it
 * may just not be pulled).
 *
 * `diverged`: changed data whose pointer git changed since dvx last added or
 * checked out that path (a pull or branch switch that could not update data
 * with local changes). The edits were made on another version than the one
 * the pointer names; recording them would silently undo that version, so only
 * an explicit `dvx add` (or `dvx checkout --force`) settles it.
 */
export async function changedData(ws: Workspace, tracked: Tracked[]): Promise<{ changed: Tracked[]; outdated: string[]; diverged: string[] }> {
  const cache = await ws.cache();
  const stats = ws.statCache();
  const outdated: string[] = [];
  const diverged: string[] = [];
  const changed = tracked.filter((t) => {
    if (!t.pointer) return false;
    const s = pathStatus(ws, cache, stats, t);
    if (s.state === 'outdated') outdated.push(t.dataPath);
    if (s.state !== 'modified' && s.state !== 'changed') return false;
    const synced = stats.synced(t.dataPath);
    if (synced && synced !== t.pointer.manifest) {
      diverged.push(t.dataPath);
      return false;
    }
    return true;
  });
  stats.flush();
  return { changed, outdated, diverged };
}

/** Records `changed` again, as `dvx add` would, and rewrites their pointers. */
export async function rerecord(ws: Workspace, changed: Tracked[]): Promise<{ updated: SnapshotOutcome[]; pointerPaths: string[] }> {
  const updated = await snapshotting(ws, undefined, async (snap) => {
    const out: SnapshotOutcome[] = [];
    for (const t of changed) out.push(await snap.snapshot(t.dataPath));
    return out;
  });
  return { updated, pointerPaths: updated.map((o) => ws.writePointer(o.dataPath, o.pointer)) };
}
