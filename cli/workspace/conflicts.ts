import { DvxError } from '../../core/errors.ts';
import { gitSync } from '../git.ts';

/**
 * Pointers that git holds unmerged: a merge, rebase, cherry-pick or revert
 * stopped because both sides changed the same data. With `merge=binary` (what
 * `dvx init` sets for *.dvx) git keeps our pointer in the working tree, so it
 * is valid and names the data there; with a line merge it has conflict
 * markers. Either way the way out is to pick a version, and these say how.
 */

/** Which sides git holds a version of (stages 2 and 3 of the index); a side without one deleted the pointer. */
export interface Unmerged {
  ours: boolean;
  theirs: boolean;
}

/**
 * The unmerged pointer files of an index (`indexFile`, else the one git uses
 * now), by workspace path. Reads the index once, whatever the number of pointers.
 */
export function unmergedPointers(root: string, indexFile?: string): Map<string, Unmerged> {
  const out = new Map<string, Unmerged>();
  const listing = gitSync(root, ['ls-files', '-z', '--unmerged', '--', '*.dvx', ':!:.dvx/**'], indexFile ? { env: { GIT_INDEX_FILE: indexFile } } : {});
  for (const entry of listing.split('\0')) {
    // <mode> <blob> <stage>\t<path>
    const m = /^\d+ [0-9a-f]+ ([123])\t(.*)$/s.exec(entry);
    if (!m) continue;
    const u = out.get(m[2]!) ?? { ours: false, theirs: false };
    if (m[1] === '2') u.ours = true;
    if (m[1] === '3') u.theirs = true;
    out.set(m[2]!, u);
  }
  return out;
}

/**
 * What to tell about a pointer that both sides changed. `markers`: the file
 * has git's conflict markers; `unmerged`: git still holds both sides (when it
 * does not, the markers were staged or committed, and only a commit has a
 * version to restore).
 */
export function pointerConflict(pointerPath: string, dataPath: string, opts: { markers: boolean; unmerged?: Unmerged }): DvxError {
  const { markers, unmerged } = opts;
  const record = `or record the data now in the working tree: \`dvx add ${dataPath}\``;
  if (!unmerged) {
    return new DvxError(
      'pointer_conflict',
      `${pointerPath} has unresolved merge conflict markers (both branches changed ${dataPath})`,
      `restore a version of it from a commit, e.g. ours: \`git checkout HEAD -- ${pointerPath}\` (or MERGE_HEAD for theirs while the merge is unfinished), then \`dvx checkout ${dataPath}\`; ${record}`,
    );
  }
  const message = markers
    ? `${pointerPath} has unresolved merge conflict markers (both branches changed ${dataPath})`
    : unmerged.ours && unmerged.theirs
      ? `${pointerPath} is unmerged: both branches changed ${dataPath}; git kept ours in the working tree, and its data is what is checked out`
      : `${pointerPath} is unmerged: one branch removed ${dataPath} and the other changed it`;
  const ours = !unmerged.ours
    ? `keep ours (which removed it): \`git rm ${pointerPath}\``
    : markers
      ? `keep ours: \`git checkout --ours ${pointerPath} && git add ${pointerPath}\``
      : `keep ours: \`git add ${pointerPath}\``;
  const theirs = unmerged.theirs
    ? `take theirs: \`git checkout --theirs ${pointerPath} && dvx checkout ${dataPath} && git add ${pointerPath}\``
    : `take theirs (which removed it): \`git rm ${pointerPath}\``;
  return new DvxError('pointer_conflict', message, `${ours}; ${theirs}; ${record}; then commit`);
}
