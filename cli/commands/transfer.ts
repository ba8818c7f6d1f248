import { DvxError } from '../../core/errors.ts';
import { syncWorkspaceTracking } from '../tracking/sync.ts';
import type { Root } from '../cache/reachable.ts';
import { GitHistory } from '../history/git-history.ts';
import { fetchData, notOnRemote } from '../remote/fetch.ts';
import { pushData, type PushSummary } from '../remote/push.ts';
import { refsToRecord } from '../remote/refs-to-record.ts';
import { isAncestor } from '../git.ts';
import { sendCommits } from '../remote/send-commits.ts';
import { openRemote } from '../remote/resolve.ts';
import { formatBytes, info, plural, printJson, Progress, warn, type OutputOptions } from '../ui.ts';
import { checkoutPaths, failOnProblems, jsonResult, printResult } from './checkout.ts';
import { Workspace, type Tracked } from '../workspace/workspace.ts';

/** `dvx push`, `dvx fetch` and `dvx pull`: move the data of tracked paths to and from a remote. */
export interface TransferOptions extends OutputOptions {
  remote?: string;
  jobs?: string;
  force?: boolean;
  commits?: boolean;
}

function roots(ws: Workspace, paths: string[]): { roots: Root[]; tracked: Tracked[] } {
  const { tracked, unmatched } = ws.trackedUnder(paths.map((p) => ws.rel(p, undefined, { root: true })));
  if (unmatched.length) throw new DvxError('not_tracked', `not tracked by dvx: ${unmatched.join(', ')}`, 'see `dvx status` for what is tracked');
  const bad = tracked.find((t) => !t.pointer);
  if (bad) throw bad.error!;
  return { roots: tracked.map((t) => ({ path: t.dataPath, pointer: t.pointer! })), tracked };
}

function jobs(opts: TransferOptions): number {
  const n = opts.jobs === undefined ? 4 : Number(opts.jobs);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new DvxError('usage', `--jobs must be a whole number from 1 to 64, got ${opts.jobs}`);
  return n;
}

export async function push(paths: string[], opts: TransferOptions): Promise<void> {
  if (opts.commits) return pushCommits(paths, opts);
  if (opts.force) throw new DvxError('usage', '--force goes with --commits: it lets a ref on the server move to a commit that does not contain the one it names');
  const ws = Workspace.find();
  const remote = openRemote(ws, opts.remote, { jobs: jobs(opts) });
  let progress: Progress | undefined;
  try {
    const { roots: r } = roots(ws, paths);
    const cache = await ws.cache();
    const summary = await pushData(cache, remote, r, {
      jobs: jobs(opts),
      onPlan: (bytes) => (progress = new Progress('pushing', bytes, { ...opts, threshold: 8 << 20 })),
      onBytes: (n) => progress?.update(n),
    });
    progress?.stop();
    // Runs travel with the data (idempotent on the server).
    const tracking = await syncWorkspaceTracking(ws, remote);
    const result = { remote: remote.remote.url, paths: r.length, ...summary, runs: tracking.runs, models: tracking.models, requests: remote.http.requests, bytesSent: remote.http.bytesSent };
    if (opts.json) printJson(result);
    else if (summary.missing === 0) info(opts, `${remote.remote.url} already has everything for ${plural(r.length, 'tracked path')}`);
    else info(opts, `pushed ${plural(r.length, 'tracked path')} to ${remote.remote.url}: ${plural(summary.uploadedBlobs, 'blob')} in ${plural(summary.packs, 'pack')}, ${formatBytes(summary.uploadedBytes)} (${summary.blobs - summary.missing} of ${summary.blobs} blobs were already there)`);
  } finally {
    progress?.stop();
    remote.close();
    await ws.close();
  }
}

/**
 * `dvx push --commits [refs]`: what the pre-push hook does for a `git push` of
 * these refs, for commits that reached the git remote without it (`git push
 * --no-verify`, a clone without the hooks, a CI job, a merge on the git
 * host): the commits the server does not know, their data, then the refs.
 */
async function pushCommits(names: string[], opts: TransferOptions): Promise<void> {
  const ws = Workspace.find();
  let remote;
  let progress: Progress | undefined;
  try {
    remote = openRemote(ws, opts.remote, { jobs: jobs(opts) });
    const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
    const wanted = await refsToRecord(ws.root, history, names);
    const onServer = await remote.refs();
    const byName = new Map<string, (typeof wanted)[number]>();
    for (const r of wanted) {
      const other = byName.get(r.name);
      if (other && other.commit !== r.commit) throw new DvxError('usage', `${other.local} and ${r.local} would both be recorded as ${r.name}, at different commits`, 'name only one of them');
      byName.set(r.name, r);
    }
    // Like git, refuse to move a ref away from commits it holds: the server's may be newer than this clone's.
    const moved = [...byName.values()].filter((r) => onServer.get(r.name) !== r.commit);
    const backwards = opts.force ? [] : moved.filter((r) => onServer.has(r.name) && !isAncestor(ws.root, onServer.get(r.name)!, r.commit));
    if (backwards.length > 0) {
      const listed = backwards.map((r) => `${r.name} is at ${onServer.get(r.name)!.slice(0, 10)} on the server, which ${r.local} (${r.commit.slice(0, 10)}) does not contain`);
      throw new DvxError('not_fast_forward', `recording would move refs back: ${listed.join('; ')}`, '`git fetch`, then record the remote-tracking branch (e.g. origin/main) that has the git remote\'s commits; --force moves the refs anyway');
    }
    const sent = await sendCommits(ws, history, remote, wanted.map((r) => r.commit), moved.map((r) => ({ name: r.name, sha: r.commit })), {
      jobs: jobs(opts),
      onPlan: (bytes) => (progress = new Progress('pushing', bytes, { ...opts, threshold: 8 << 20 })),
      onBytes: (n) => progress?.update(n),
      missingHint: 'pull it into this clone from a remote that has it (`dvx pull --remote <name>` at a commit that names it), or run `dvx push --commits` in a clone that has it; nothing was recorded',
    });
    progress?.stop();
    const data: PushSummary = sent.data ?? { blobs: 0, missing: 0, uploadedBlobs: 0, uploadedBytes: 0, packs: 0 };
    const refs = wanted.map((r) => ({ local: r.local, name: r.name, sha: r.commit, updated: moved.includes(byName.get(r.name)!) }));
    if (opts.json) {
      printJson({ remote: remote.remote.url, refs, commits: sent.commits.length, ...data, runs: sent.runs, models: sent.models, requests: remote.http.requests, bytesSent: remote.http.bytesSent });
      return;
    }
    const named = [...byName.values()].map((r) => `${r.name} (${r.commit.slice(0, 10)})`).join(', ');
    if (sent.commits.length === 0 && moved.length === 0) info(opts, `${remote.remote.url} already has ${named} and its commits`);
    else {
      const bytes = data.uploadedBytes > 0 ? `, with ${formatBytes(data.uploadedBytes)} of data in ${plural(data.packs, 'pack')}` : '';
      info(opts, `recorded ${plural(sent.commits.length, 'commit')} on ${remote.remote.url}${bytes}; ${moved.length > 0 ? `set ${moved.map((r) => `${r.name} to ${r.commit.slice(0, 10)}`).join(', ')}` : `refs unchanged: ${named}`}`);
    }
  } finally {
    progress?.stop();
    remote?.close();
    await ws.close();
  }
}

export async function fetch(paths: string[], opts: TransferOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const result = await fetchInto(ws, paths, opts);
    if (opts.json) printJson(result);
    else info(opts, result.fetchedBlobs === 0 ? (result.unavailable.length ? 'fetched nothing' : 'the cache already has everything') : `fetched ${plural(result.fetchedBlobs, 'blob')} in ${plural(result.packs, 'pack')}, ${formatBytes(result.fetchedBytes)} from ${result.remote}`);
    failOnUnavailable(result);
  } finally {
    await ws.close();
  }
}

function failOnUnavailable(r: { remote: string; unavailable: string[] }): void {
  if (r.unavailable.length > 0) throw notOnRemote(r.remote, r.unavailable);
}

async function fetchInto(ws: Workspace, paths: string[], opts: TransferOptions) {
  const remote = openRemote(ws, opts.remote, { jobs: jobs(opts) });
  let progress: Progress | undefined;
  try {
    const { roots: r } = roots(ws, paths);
    const cache = await ws.cache();
    const summary = await fetchData(cache, remote, r, {
      jobs: jobs(opts),
      onPlan: (bytes) => (progress = new Progress('fetching', bytes, { ...opts, threshold: 8 << 20 })),
      onBytes: (n) => progress?.update(n),
    });
    return { remote: remote.remote.url, paths: r.length, ...summary, requests: remote.http.requests, bytesReceived: remote.http.bytesReceived };
  } finally {
    progress?.stop();
    remote.close();
  }
}

export async function pull(paths: string[], opts: TransferOptions): Promise<void> {
  const ws = Workspace.find();
  let fetched;
  try {
    fetched = await fetchInto(ws, paths, opts);
  } finally {
    await ws.close();
  }
  // Paths whose data the remote lacks are left as they are; the rest is checked out.
  const checkout = await checkoutPaths(paths, opts, new Set(fetched.unavailable));
  if (opts.json) printJson({ fetch: fetched, checkout: jsonResult(checkout) });
  else {
    info(opts, fetched.fetchedBlobs === 0 ? (fetched.unavailable.length ? 'fetched nothing' : 'the cache already has everything') : `fetched ${formatBytes(fetched.fetchedBytes)} from ${fetched.remote}`);
    printResult(checkout, opts);
  }
  if (fetched.unavailable.length === 0) failOnProblems(checkout);
  else {
    // Both failures are reported; the remote's missing data is the one to act on first.
    try {
      failOnProblems(checkout);
    } catch (err) {
      if (!(err instanceof DvxError)) throw err;
      if (!opts.json) warn(`${err.message}${err.hint ? ` (${err.hint})` : ''}`);
    }
    failOnUnavailable(fetched);
  }
}
