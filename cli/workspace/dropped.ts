import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { assertComplete, reachableFrom } from '../cache/reachable.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { fsError } from '../fs-util.ts';
import { statOrMissing } from './content.ts';
import { Snapshotter } from './snapshot.ts';
import type { StatCache } from './stat-cache.ts';
import { dirStatus, pathStatus } from './status.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Data whose pointer git just removed (a branch switch to a commit without it):
 * as git does with a tracked file the new commit does not have, the data goes,
 * but only when nothing is lost: it must be exactly the version the old pointer
 * named (a directory as a whole: no file added, changed or removed), and that
 * version must be whole in the local cache, so checking the old commit out
 * again brings it back. Anything else stays, reported as kept.
 */
export interface Dropped extends Tracked {
  /**
   * Paths inside this directory (relative to it) that a pointer or git has in
   * the new commit: theirs, not this data's. The rest of the directory goes
   * when it is unchanged, as a whole.
   */
  others?: string[];
}

export interface DroppedResult {
  removed: string[];
  kept: { path: string; reason: string }[];
}

/**
 * `dropped`: the old pointers (paths and versions) that git removed. A path
 * may come with more than one version (a rebase: the old tip's and the
 * base's); the data goes if it is one of them.
 */
export function removeDropped(ws: Workspace, cache: LocalCache, stats: StatCache, dropped: Dropped[]): DroppedResult {
  const out: DroppedResult = { removed: [], kept: [] };
  const byPath = new Map<string, Dropped[]>();
  for (const t of dropped) byPath.set(t.dataPath, [...(byPath.get(t.dataPath) ?? []), t]);
  for (const versions of byPath.values()) {
    const t = versions[0]!;
    const reasons = versions.map((v) => keepReason(ws, cache, stats, v));
    if (reasons.includes('missing')) continue;
    if (!reasons.includes(undefined)) {
      out.kept.push({ path: t.dataPath, reason: reasons[0]! });
      continue;
    }
    const others = t.others ?? [];
    try {
      if (others.length === 0) rmSync(ws.abs(t.dataPath), { recursive: true, force: true });
      else removeAllBut(ws, t.dataPath, others);
    } catch (err) {
      out.kept.push({ path: t.dataPath, reason: fsError(err, t.dataPath, 'remove').message });
      continue;
    }
    pruneEmptyParents(ws, t.dataPath);
    out.removed.push(others.length === 0 ? t.dataPath : `${t.dataPath} (but what is tracked there now)`);
  }
  stats.flush();
  return out;
}

/** Why the data of `t` must stay; 'missing' when there is none; undefined: it may go. */
function keepReason(ws: Workspace, cache: LocalCache, stats: StatCache, t: Dropped): string | undefined {
  const st = statOrMissing(ws.abs(t.dataPath));
  if (!st) return 'missing';
  const mine = notUnder(t.others ?? []);
  try {
    // status ignores what a snapshot skips (symlinks, sockets): here it is something that would be lost.
    if (st.isDirectory() && Snapshotter.scan(ws, t.dataPath).skipped.some((p) => mine(p.slice(t.dataPath.length + 1)))) return 'it holds links or special files that dvx does not store';
    if (t.others?.length) {
      if (!st.isDirectory()) return 'it has changes that are not stored anywhere';
      const tree = cache.treeManifest(t.pointer!.manifest);
      const s = dirStatus(ws, stats, t.dataPath, { entries: tree.entries.filter((e) => mine(e.path)) });
      if (s.state === 'changed' && (s.modified.length + s.removed.length > 0 || s.added.some(mine))) return 'it has changes that are not stored anywhere';
    } else {
      const s = pathStatus(ws, cache, stats, t);
      if (s.state === 'unknown') return 'its version is not in the local cache, so it could not be compared';
      if (s.state === 'outdated') return 'it is not the version its pointer named';
      if (s.state !== 'clean') return 'it has changes that are not stored anywhere';
    }
    assertComplete(cache, reachableFrom(cache, [{ path: t.dataPath, pointer: t.pointer! }]));
  } catch (err) {
    if (!(err instanceof DvxError)) throw err;
    return err.code === 'not_in_cache' ? 'its version is not whole in the local cache' : err.message;
  }
  return undefined;
}

/** (relative path) => whether it is outside all of `others` */
function notUnder(others: string[]): (path: string) => boolean {
  return (path) => !others.some((o) => path === o || path.startsWith(o + '/'));
}

/**
 * Removes the files of directory `dir` that are not at or under `others`
 * (relative to it), then the folders left empty; checked unchanged before.
 */
function removeAllBut(ws: Workspace, dir: string, others: string[]): void {
  const mine = notUnder(others);
  const walk = (rel: string): boolean => {
    let empty = true;
    for (const e of readdirSync(ws.abs(rel ? `${dir}/${rel}` : dir), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (!mine(child)) empty = false;
      else if (e.isDirectory() && !others.some((o) => o.startsWith(child + '/'))) rmSync(ws.abs(`${dir}/${child}`), { recursive: true, force: true });
      else if (e.isDirectory()) empty = walk(child) && empty;
      else rmSync(ws.abs(`${dir}/${child}`), { force: true });
    }
    if (empty && rel) rmdirSync(ws.abs(`${dir}/${rel}`));
    return empty;
  };
  if (walk('')) rmdirSync(ws.abs(dir));
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
