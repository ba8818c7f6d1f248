import { DvxError } from '../../core/errors.ts';
import { gitSync } from '../git.ts';
import type { GitHistory } from '../history/git-history.ts';

/**
 * Which server ref each local ref named on the command line is recorded
 * under, and the commit it names: what a `git push` of it would send. A
 * branch and a tag keep their names; a remote-tracking branch
 * (origin/main, refs/remotes/origin/main) is what the remote calls
 * refs/heads/main, which is how the server must know it.
 */
export interface RefToRecord {
  /** the full local name, e.g. refs/remotes/origin/main */
  local: string;
  /** the name on the server, e.g. refs/heads/main */
  name: string;
  commit: string;
}

export async function refsToRecord(root: string, history: GitHistory, names: readonly string[]): Promise<RefToRecord[]> {
  const wanted = names.length > 0 ? names : [currentBranch(root)];
  const remotes = gitSync(root, ['remote']).split('\n').filter(Boolean);
  const out: RefToRecord[] = [];
  for (const arg of wanted) {
    const local = arg.startsWith('-') ? '' : gitSync(root, ['rev-parse', '--verify', '--quiet', '--symbolic-full-name', '--end-of-options', arg], { allowFail: true }).trim();
    const name = serverName(local, remotes);
    if (!name) {
      throw new DvxError(
        'usage',
        local
          ? `${arg} is ${local}, which is not a branch, a tag or a remote-tracking branch`
          : (await history.resolve(arg))
            ? `${arg} is a commit, not a ref: the server records commits under a branch or a tag`
            : `no branch, tag or remote-tracking branch named ${arg} has a commit in this repository`,
        'name a branch (main), a tag (v1) or a remote-tracking branch (origin/main); `git branch -a` and `git tag` list them',
      );
    }
    // An annotated tag is recorded as the commit it points to, as pre-push does.
    const commit = await history.resolve(local);
    if (!commit) throw new DvxError('usage', `${arg} names no commit (a tag of a tree or a blob holds no pointers)`, 'name a branch or a tag of a commit');
    out.push({ local, name, commit });
  }
  return out;
}

function currentBranch(root: string): string {
  const head = gitSync(root, ['symbolic-ref', '--quiet', 'HEAD'], { allowFail: true }).trim();
  if (!head) throw new DvxError('usage', 'HEAD is detached, so there is no current branch to record', 'name the branches or tags to record, e.g. `dvx push --commits main`');
  return head;
}

function serverName(local: string, remotes: readonly string[]): string | undefined {
  if (/^refs\/(heads|tags)\/./.test(local)) return local;
  if (!local.startsWith('refs/remotes/')) return undefined;
  const rest = local.slice('refs/remotes/'.length);
  // A remote's name may hold slashes: the longest one that prefixes the ref is its remote.
  const remote = remotes.filter((r) => rest.startsWith(`${r}/`)).sort((a, b) => b.length - a.length)[0] ?? rest.split('/')[0]!;
  const branch = rest.slice(remote.length + 1);
  return branch && branch !== 'HEAD' ? `refs/heads/${branch}` : undefined;
}
