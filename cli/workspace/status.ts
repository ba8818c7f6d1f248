import { DvxError } from '../../core/errors.ts';
import { MODE_EXEC, MODE_FILE, type TreeManifest } from '../../core/tree-manifest.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { pointerConflict, type Unmerged } from './conflicts.ts';
import { contentSha256, statOrMissing } from './content.ts';
import { Snapshotter } from './snapshot.ts';
import type { StatCache } from './stat-cache.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * How the working tree differs from the pointers: for every tracked path,
 * clean, modified, missing, or (for directories) which files were added,
 * modified or removed. Reads only what the stat cache cannot vouch for.
 */
export type PathStatus =
  | { path: string; state: 'clean' | 'missing' | 'modified' | 'outdated' }
  | { path: string; state: 'changed'; added: string[]; modified: string[]; removed: string[] }
  | { path: string; state: 'unknown'; reason: string }
  | { path: string; state: 'invalid'; error: DvxError }
  | { path: string; state: 'conflicted'; error: DvxError };

/**
 * 'conflicted': git holds the pointer unmerged (both sides of a merge, rebase,
 * cherry-pick or revert changed the data), whether it kept ours whole
 * (merge=binary) or wrote conflict markers. Its data is not otherwise looked
 * at: what matters is which version to keep, and the error says how.
 */
export function conflictStatus(t: Tracked, unmerged: Map<string, Unmerged>): PathStatus | undefined {
  const u = unmerged.get(t.pointerPath);
  if (!u) return undefined;
  const error = t.error?.code === 'pointer_conflict' ? t.error : pointerConflict(t.pointerPath, t.dataPath, { markers: false, unmerged: u });
  return { path: t.dataPath, state: 'conflicted', error };
}

/**
 * 'outdated': the data is not what the pointer names, but still the version dvx
 * last added or checked out there (the pointer changed in git without a
 * checkout hook: a conflicted merge, a cherry-pick, a reset). Not an edit:
 * `dvx checkout` updates it, and the pre-commit hook must not record it.
 */
export function pathStatus(ws: Workspace, cache: LocalCache, stats: StatCache, t: Tracked): PathStatus {
  const s = currentStatus(ws, cache, stats, t);
  if (s.state !== 'modified' && s.state !== 'changed') return s;
  const synced = stats.synced(t.dataPath);
  if (!synced || synced === t.pointer!.manifest) return s;
  try {
    if (t.pointer!.type === 'file') {
      const st = statOrMissing(ws.abs(t.dataPath));
      if (st?.isFile() && contentSha256(ws, stats, t.dataPath, st) === cache.fileManifest(synced).sha256) return { path: t.dataPath, state: 'outdated' };
    } else if (statOrMissing(ws.abs(t.dataPath))?.isDirectory() && dirStatus(ws, stats, t.dataPath, cache.treeManifest(synced)).state === 'clean') {
      return { path: t.dataPath, state: 'outdated' };
    }
  } catch (err) {
    // The synced version may be gone from the cache (gc): then the data counts as changed.
    if (!(err instanceof DvxError && err.code === 'not_in_cache')) throw err;
  }
  return s;
}

function currentStatus(ws: Workspace, cache: LocalCache, stats: StatCache, t: Tracked): PathStatus {
  const path = t.dataPath;
  if (!t.pointer) return { path, state: 'invalid', error: t.error! };
  const p = t.pointer;
  const st = statOrMissing(ws.abs(path));
  if (!st) return { path, state: 'missing' };
  if (p.type === 'file') {
    if (!st.isFile()) return { path, state: 'modified' };
    if (st.size !== p.size) return { path, state: 'modified' };
    return { path, state: contentSha256(ws, stats, path, st, p) === p.sha256 ? 'clean' : 'modified' };
  }
  if (!st.isDirectory()) return { path, state: 'modified' };
  let tree: TreeManifest;
  try {
    tree = cache.treeManifest(p.manifest);
  } catch (err) {
    if (err instanceof DvxError && err.code === 'not_in_cache') return { path, state: 'unknown', reason: 'its tree manifest is not in the local cache (run `dvx pull`)' };
    throw err;
  }
  return dirStatus(ws, stats, path, tree);
}

/**
 * A directory's status narrowed to `only` (paths inside it, relative to it),
 * as a status of that directory: clean when nothing under them changed.
 */
export function narrowStatus(r: PathStatus, only: string[] | undefined): PathStatus {
  if (!only || r.state !== 'changed') return r;
  const keep = (list: string[]) => list.filter((p) => only.some((o) => p === o || p.startsWith(o + '/')));
  const [added, modified, removed] = [keep(r.added), keep(r.modified), keep(r.removed)];
  return added.length + modified.length + removed.length === 0 ? { path: r.path, state: 'clean' } : { ...r, added, modified, removed };
}

export function dirStatus(ws: Workspace, stats: StatCache, path: string, tree: TreeManifest): PathStatus {
  const { files } = Snapshotter.scan(ws, path);
  const present = new Map(files.map((f) => [f.path.slice(path.length + 1), f.stat]));
  const added: string[] = [];
  const modified: string[] = [];
  const removed: string[] = [];
  for (const e of tree.entries) {
    const st = present.get(e.path);
    present.delete(e.path);
    if (!st) {
      removed.push(e.path);
      continue;
    }
    const mode = st.mode & 0o111 ? MODE_EXEC : MODE_FILE;
    if (st.size !== e.size || mode !== e.mode || contentSha256(ws, stats, `${path}/${e.path}`, st, e) !== e.sha256) modified.push(e.path);
  }
  added.push(...present.keys());
  if (added.length + modified.length + removed.length === 0) return { path, state: 'clean' };
  return { path, state: 'changed', added: added.sort(), modified, removed };
}
