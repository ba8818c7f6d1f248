import type { Store } from '../store/store.ts';
import { HttpError } from './http-error.ts';

/**
 * Refs as users write them in URLs and queries (docs/protocol.md "Dataset
 * history"): a branch (`main`, `refs/heads/main`), a tag, a full or an
 * abbreviated commit sha. Checked before use; resolved against the
 * repository's commit records.
 */
const REF_CHARS = /^[^\0-\x20\x7f~^:?*[\\]{1,1000}$/;

/** What is wrong with `ref` (callers add which forms they take), or undefined. */
export function refProblem(ref: string): string | undefined {
  if (ref.length === 0 || ref.length > 1000) return 'it is empty or longer than 1000 characters';
  // Revision expressions (main~1, HEAD^, v1:path) are git's to resolve, in a clone: a ref here is a name.
  if (!REF_CHARS.test(ref)) return 'it has a space, a control character or one of ~^:?*[\\ (revision expressions such as main~1 are not resolved)';
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//') || ref.includes('..') || ref.endsWith('.lock')) return 'it is not a valid git ref name';
  return undefined;
}

export function checkRef(ref: string, what = 'ref'): string {
  const problem = refProblem(ref);
  if (problem) throw new HttpError(400, 'bad_ref', `invalid ${what} ${JSON.stringify(ref.slice(0, 120))}: ${problem}; expected a branch, a tag or a commit sha`);
  return ref;
}

export interface ResolvedCommit {
  cid: number;
  sha: string;
  /** a ref name can move; a full sha cannot */
  immutable: boolean;
}

/**
 * What HEAD names here: in a clone it is the checked-out branch, on a bare
 * remote the default branch. The server keeps no symbolic ref, so the
 * default branch is inferred: main, else master, else the only branch. With
 * several other branches none is the obvious one, and guessing (the branch
 * pushed last, say) would serve data of a branch nobody asked for: that is a
 * 404 listing them.
 */
function headBranch(store: Store, rid: number): string {
  const branches = store.commits.refs(rid).map((r) => r.name).filter((n) => n.startsWith('refs/heads/'));
  for (const name of ['refs/heads/main', 'refs/heads/master']) if (branches.includes(name)) return name;
  if (branches.length === 1) return branches[0]!;
  const names = branches.map((n) => n.slice('refs/heads/'.length));
  const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? `, and ${names.length - 20} more` : '');
  throw new HttpError(
    404,
    'ref_not_found',
    branches.length === 0
      ? 'HEAD is the default branch, and this repository has no branch recorded (commit records and refs arrive with `git push` through the dvx pre-push hook)'
      : `HEAD is the default branch: main, else master, else the only branch; this repository has ${branches.length} branches (${shown}): name one`,
  );
}

/** The commit `ref` names in the repository, or undefined when nothing does; an ambiguous abbreviation is 409. */
export function findCommit(store: Store, rid: number, ref: string): ResolvedCommit | undefined {
  if (ref === 'HEAD') ref = headBranch(store, rid);
  const r = store.commits.resolve(rid, ref);
  if (r.kind === 'ambiguous') {
    throw new HttpError(409, 'ambiguous_ref', `${ref} is an abbreviation of several recorded commits (${r.candidates.map((s) => s.slice(0, 12)).join(', ')}): give more digits`);
  }
  if (r.kind === 'none') return undefined;
  return { cid: r.cid, sha: r.sha, immutable: r.via === 'sha' && r.sha === ref };
}

export function resolveCommit(store: Store, rid: number, ref: string): ResolvedCommit {
  const c = findCommit(store, rid, ref);
  if (!c) throw new HttpError(404, 'ref_not_found', `no branch, tag or recorded commit ${JSON.stringify(ref.slice(0, 120))} in this repository (commit records arrive with \`git push\` through the dvx pre-push hook)`);
  return c;
}
