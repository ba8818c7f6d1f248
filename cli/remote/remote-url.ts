import { DvxError } from '../../core/errors.ts';
import { repoNameProblem } from '../../core/repo-name.ts';

/**
 * A dvx remote URL is the server's base URL followed by the repository name,
 * like a git remote: http://localhost:8080/churn-model. The base may carry a
 * path of its own (https://host/dvx/churn-model).
 */
export interface RemoteUrl {
  /** normalized remote URL, no trailing slash */
  readonly url: string;
  /** server base URL, no trailing slash */
  readonly base: string;
  readonly repo: string;
}

export function parseRemoteUrl(text: string): RemoteUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new DvxError('bad_remote_url', `${JSON.stringify(text)} is not a URL`, 'use the server URL followed by the repository name, e.g. http://localhost:8080/my-repo');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DvxError('bad_remote_url', `${text}: only http and https remotes are supported`);
  if (u.username || u.password) throw new DvxError('bad_remote_url', `${text}: do not put credentials in the URL`, 'use `dvx login <remote>` or DVX_TOKEN');
  if (u.search || u.hash) throw new DvxError('bad_remote_url', `${text}: a remote URL has no query or fragment`);
  const segments = u.pathname.split('/').filter(Boolean);
  const repo = segments.pop();
  if (!repo) throw new DvxError('bad_remote_url', `${text} names no repository`, 'add the repository name after the server URL, e.g. http://localhost:8080/my-repo');
  const decoded = decodeURIComponent(repo);
  const problem = repoNameProblem(decoded);
  if (problem) throw new DvxError('bad_remote_url', `${text}: repository name ${JSON.stringify(decoded)} ${problem}`);
  const base = `${u.protocol}//${u.host}${segments.length ? '/' + segments.join('/') : ''}`;
  return { url: `${base}/${decoded}`, base, repo: decoded };
}
