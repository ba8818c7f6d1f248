import { DvxError } from '../../core/errors.ts';
import type { RefUpdate } from '../../core/protocol.ts';
import { GitHistory, type CommitInfo } from '../history/git-history.ts';
import { openRemote, resolveRemote } from '../remote/resolve.ts';
import { PendingPushes } from '../remote/pending-pushes.ts';
import { settleBeforePush, startSettler } from '../remote/push-settle.ts';
import { ancestorNamed } from '../pid.ts';
import { pushedInvalidWarner, refuseInvalidTips, sendCommits } from '../remote/send-commits.ts';
import { formatBytes, plural } from '../ui.ts';
import type { Workspace } from '../workspace/workspace.ts';

/**
 * pre-push: before git sends commits, make sure the dvx server has the data of
 * every pointer in them, then record the commits (which dataset versions each
 * names, and the refs pushed). Any failure fails the push, so no one ever
 * fetches a pointer whose data is missing; commit records are sent only after
 * all data is acknowledged, and in one transaction per request.
 *
 * A pointer file that does not decode stops the push only where a new commit
 * can fix it: in a commit a pushed ref names. In an older commit it is history
 * (pushing the fix still pushes that commit): it is warned about, and the
 * commit is recorded without that path, so the server never serves it there.
 */
interface PushLine {
  localRef: string;
  localSha: string;
  remoteRef: string;
  remoteSha: string;
}

export function parsePushLines(stdin: string): PushLine[] {
  return stdin
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [localRef, localSha, remoteRef, remoteSha] = l.split(/\s+/);
      if (!localRef || !localSha || !remoteRef || !remoteSha) throw new DvxError('bad_hook_input', `unexpected pre-push input line: ${JSON.stringify(l)}`);
      return { localRef, localSha, remoteRef, remoteSha };
    });
}

export async function prePush(ws: Workspace, stdin: string, args: readonly string[] = []): Promise<void> {
  const lines = parsePushLines(stdin);
  if (lines.length === 0) return;
  // An earlier push git did not complete may have left refs to set back: before this one records its own.
  const pending = PendingPushes.of(ws.root);
  await settleBeforePush(ws, pending);
  const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
  // An annotated tag pushes its tag object: records and refs name the commit it
  // points to (through any chain of tags). A ref to a tree or a blob (git
  // allows tags of those) holds no commit and so no pointers: git pushes it,
  // and dvx records nothing for it.
  const pushed: (PushLine & { commit: string | undefined })[] = [];
  for (const l of lines) pushed.push({ ...l, commit: GitHistory.isZero(l.localSha) ? undefined : await history.resolve(l.localSha) });
  const tips = pushed.flatMap((l) => (l.commit ? [l.commit] : []));
  // A ref that now names no commit is sent as deleted: if it named a commit
  // before, the server must not go on serving that commit's data under it.
  const refs: RefUpdate[] = pushed.filter((l) => /^refs\/(heads|tags)\//.test(l.remoteRef)).map((l) => ({ name: l.remoteRef, sha: l.commit ?? null }));
  const warnInvalid = pushedInvalidWarner();

  let remote;
  try {
    remote = openRemote(ws);
  } catch (err) {
    // Without a dvx remote, a push is fine only if it carries no pointers at all.
    const remoteShas = new Set(lines.map((l) => l.remoteSha));
    const commits = await history.newCommits(tips, async (shas) => new Set(shas.filter((s) => remoteShas.has(s))));
    const from = commits.map((c) => c.parents[0]);
    const changes = await history.changesMany(commits.map((c, i) => ({ from: from[i], to: c.sha })));
    refuseInvalidTips(commits, from, changes, tips);
    for (const ch of changes) {
      for (const p of ch.invalid.values()) warnInvalid(p);
      if (ch.set.size > 0) throw new DvxError('no_remote', `these commits name dvx data (e.g. ${[...ch.set.keys()][0]}) but no dvx remote is configured to push it to`, (err as DvxError).hint);
    }
    return;
  }
  let gitPid: number | undefined;
  try {
    gitPid = noteThePush(pending, resolveRemote(ws).name, args, lines, refs);
    const sent = await sendCommits(ws, history, remote, tips, refs);
    if (sent.data && sent.data.uploadedBytes > 0) {
      process.stderr.write(`dvx: pushed data for ${plural(sent.commits.length, 'commit')} to ${remote.remote.url}: ${formatBytes(sent.data.uploadedBytes)} in ${plural(sent.data.packs, 'pack')}\n`);
    }
  } catch (err) {
    if (err instanceof DvxError && err.code !== 'bad_pointer') throw new DvxError(err.code, `the push is stopped because dvx could not send its data: ${err.message}`, err.hint ?? 'fix the problem and push again; nothing was half-recorded');
    throw err;
  } finally {
    remote.close();
    // Also after a failure: the last request may have recorded the refs before its answer was lost.
    if (gitPid) startSettler(ws, gitPid);
  }
}

/**
 * Leaves the note that lets ../remote/push-settle.ts undo the refs recorded
 * here if git then does not push them. Written before anything is recorded,
 * so that no crash leaves recorded refs without one. Without the `git push`
 * process to wait for (the hook run by hand) there is nothing to settle.
 * Returns the pid of that `git push`.
 */
function noteThePush(pending: PendingPushes, dvxRemote: string, args: readonly string[], lines: readonly PushLine[], refs: readonly RefUpdate[]): number | undefined {
  const gitPid = ancestorNamed('git');
  const [remote, url] = args;
  if (!gitPid || !remote || refs.length === 0) return undefined;
  const sha = (s: string) => (GitHistory.isZero(s) ? null : s);
  const line = new Map(lines.map((l) => [l.remoteRef, l]));
  pending.add({
    version: 1,
    gitPid,
    remote,
    url: url || remote,
    dvxRemote,
    created: new Date().toISOString(),
    refs: refs.map((r) => ({ name: r.name, pushed: sha(line.get(r.name)!.localSha), sha: r.sha, old: sha(line.get(r.name)!.remoteSha) })),
  });
  return gitPid;
}

export type { CommitInfo };
