import { DvxError } from './errors.ts';

/**
 * Repository names: 1-100 characters of [A-Za-z0-9._-], starting with a letter or
 * digit, and not ending in ".git" (which would make `/{repo}.git/info/lfs`
 * ambiguous). Checked by the server on every route and by the CLI on remote URLs.
 */
const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function repoNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || !REPO_RE.test(name)) return 'must be 1-100 characters of letters, digits, ".", "_" or "-", starting with a letter or digit';
  if (name.toLowerCase().endsWith('.git')) return 'must not end in ".git"';
  return undefined;
}

export function isRepoName(name: string): boolean {
  return repoNameProblem(name) === undefined;
}

export function assertRepoName(name: string): string {
  const problem = repoNameProblem(name);
  if (problem) throw new DvxError('bad_repo_name', `invalid repository name ${JSON.stringify(String(name).slice(0, 120))}: ${problem}`);
  return name;
}
