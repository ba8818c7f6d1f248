import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { gitSync } from '../git.ts';

/**
 * The commits whose data `dvx gc` keeps: every commit git can still bring
 * back without a reflog.
 *
 * - every ref: branches, tags, remote-tracking branches (a teammate's branch
 *   fetched, whose data was pulled), and any other namespace;
 * - HEAD, and ORIG_HEAD, the way back after a reset, a rebase or a merge;
 * - MERGE_HEAD (every line of it: an octopus merge names several),
 *   CHERRY_PICK_HEAD and REVERT_HEAD, while a merge, cherry-pick or revert
 *   waits for its conflicts to be resolved: the commits it brings in may be on
 *   no branch any more;
 * - every stash entry (a stash's parents are the HEAD it was made on, its
 *   index and its untracked files: walking from it reaches all three).
 *
 * Reflogs are left out: they name every commit ever checked out, so keeping
 * them would keep nearly everything.
 */
const PSEUDO_REFS = ['HEAD', 'ORIG_HEAD', 'CHERRY_PICK_HEAD', 'REVERT_HEAD'];

export function rootCommits(dir: string): string[] {
  const refs = gitSync(dir, ['for-each-ref', '--format=%(refname)']).split('\n').filter(Boolean);
  const stashes = gitSync(dir, ['stash', 'list', '--format=%H'], { allowFail: true }).split('\n').filter(isSha);
  return peelToCommits(dir, [...refs, ...PSEUDO_REFS, ...mergeHeads(dir), ...stashes]);
}

const isSha = (s: string) => /^[0-9a-f]{40,64}$/.test(s);

/** MERGE_HEAD is a file of one commit per line, not a ref git resolves in full. */
function mergeHeads(dir: string): string[] {
  const raw = gitSync(dir, ['rev-parse', '--git-path', 'MERGE_HEAD']).trim();
  try {
    return readFileSync(isAbsolute(raw) ? raw : join(dir, raw), 'utf8').split('\n').filter(isSha);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * The commits the revisions name, in one `git cat-file --batch-check`; a
 * revision that names nothing (a pseudo-ref not set) or no commit (a tag of a
 * tree) is left out.
 */
function peelToCommits(dir: string, revs: readonly string[]): string[] {
  const out = gitSync(dir, ['cat-file', '--batch-check=%(objectname) %(objecttype)'], { input: revs.map((r) => `${r}^{commit}\n`).join('') });
  const shas = new Set<string>();
  for (const line of out.split('\n')) {
    const [sha, type] = line.split(' ');
    if (type === 'commit' && isSha(sha!)) shas.add(sha!);
  }
  return [...shas];
}
