import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { appendLineOnce } from '../fs-util.ts';
import { gitSync } from '../git.ts';
import { DVX_DIR } from './names.ts';

/** What under .dvx/ belongs to one clone: everything but the shared config (.dvx/.gitignore lists it). */
export const PER_CLONE_ENTRIES = ['cache/', 'tmp/', 'logs/', 'state.sqlite*', 'tracking.sqlite*', 'config.local.yaml', 'lock'] as const;

const HEADER = '# dvx: per-clone state, ignored whatever commit is checked out';

/**
 * The per-clone files are ignored by .dvx/.gitignore, which is committed: a
 * checkout of a commit from before `dvx init` removes it, and the cache (all
 * the data, maybe gigabytes) shows as untracked, one `git add -A` away from
 * being committed to git. The clone's own exclude file ($GIT_DIR/info/exclude)
 * is in no commit, so it keeps them ignored whatever is checked out. Returns
 * whether it added anything.
 */
export function excludeCloneState(root: string): boolean {
  const rel = gitSync(root, ['rev-parse', '--git-path', 'info/exclude'], { allowFail: true }).trim();
  if (!rel) return false;
  const path = resolve(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  let added = false;
  for (const e of PER_CLONE_ENTRIES) added = appendLineOnce(path, `/${DVX_DIR}/${e}`, added ? undefined : `${HEADER}\n/${DVX_DIR}/${e}\n`) || added;
  return added;
}
