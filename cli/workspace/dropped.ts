import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { assertComplete, reachableFrom } from '../cache/reachable.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { fsError } from '../fs-util.ts';
import { statOrMissing } from './content.ts';
import { Snapshotter } from './snapshot.ts';
import type { StatCache } from './stat-cache.ts';
import { pathStatus } from './status.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Data whose pointer git just removed (a branch switch to a commit without it):
 * as git does with a tracked file the new commit does not have, the data goes,
 * but only when nothing is lost: it must be exactly the version the old pointer
 * named (a directory as a whole: no file added, changed or removed), and that
 * version must be whole in the local cache, so checking the old commit out
 * again brings it back. Anything else stays, reported as kept.
 */
export interface DroppedResult {
  removed: string[];
  kept: { path: string; reason: string }[];
}

/**
 * `dropped`: the old pointers (paths and versions) that git removed. A path
 * may come with more than one version (a rebase: the old tip's and the
 * base's); the data goes if it is one of them.
 */
export function removeDropped(ws: Workspace, cache: LocalCache, stats: StatCache, dropped: Tracked[]): DroppedResult {
  const out: DroppedResult = { removed: [], kept: [] };
  const byPath = new Map<string, Tracked[]>();
  for (const t of dropped) byPath.set(t.dataPath, [...(byPath.get(t.dataPath) ?? []), t]);
  for (const versions of byPath.values()) {
    const t = versions[0]!;
    const reasons = versions.map((v) => keepReason(ws, cache, stats, v));
    if (reasons.includes('missing')) continue;
    if (!reasons.includes(undefined)) {
      out.kept.push({ path: t.dataPath, reason: reasons[0]! });
      continue;
    }
    try {
      rmSync(ws.abs(t.dataPath), { recursive: true, force: true });
    } catch (err) {
      out.kept.push({ path: t.dataPath, reason: fsError(err, t.dataPath, 'remove').message });
      continue;
    }
    pruneEmptyParents(ws, t.dataPath);
    out.removed.push(t.dataPath);
  }
  stats.flush();
  return out;
}

/** Why the data of `t` must stay; 'missing' when there is none; undefined: it may go. */
function keepReason(ws: Workspace, cache: LocalCache, stats: StatCache, t: Tracked): string | undefined {
  const st = statOrMissing(ws.abs(t.dataPath));
  if (!st) return 'missing';
  try {
    // status ignores what a snapshot skips (symlinks, sockets): here it is something that would be lost.
    if (st.isDirectory() && Snapshotter.scan(ws, t.dataPath).skipped.length > 0) return 'it holds links or special files that dvx does not store';
    const s = pathStatus(ws, cache, stats, t);
    if (s.state === 'unknown') return 'its version is not in the local cache, so it could not be compared';
    if (s.state === 'outdated') return 'it is not the version its pointer named';
    if (s.state !== 'clean') return 'it has changes that are not stored anywhere';
    assertComplete(cache, reachableFrom(cache, [{ path: t.dataPath, pointer: t.pointer! }]));
  } catch (err) {
    if (!(err instanceof DvxError)) throw err;
    return err.code === 'not_in_cache' ? 'its version is not whole in the local cache' : err.message;
  }
  return undefined;
}

/** Removes the directories that held only `path`, up to the top, as git does for files it removes. */
function pruneEmptyParents(ws: Workspace, path: string): void {
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const dir = ws.abs(path.slice(0, i));
    try {
      if (readdirSync(dir).length > 0) return;
      rmdirSync(dir);
    } catch {
      return;
    }
  }
}
