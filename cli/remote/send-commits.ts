import { DvxError } from '../../core/errors.ts';
import { dataPathOf, type Pointer } from '../../core/pointer.ts';
import { Commits, type CommitRecord, type RecordPointer, type RefUpdate } from '../../core/protocol.ts';
import type { Root } from '../cache/reachable.ts';
import type { CommitInfo, GitHistory, InvalidPointer, PointerChanges } from '../history/git-history.ts';
import { syncWorkspaceTracking } from '../tracking/sync.ts';
import { invalidPointerWarner } from '../history/invalid-pointers.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { DvxRemote } from './dvx-remote.ts';
import { splitBySize } from './batches.ts';
import { pushData, type PushDataOptions, type PushSummary } from './push.ts';

/**
 * Sends a dvx server the commits it does not know of some tips, with their
 * data: what a `git push` of those tips needs the server to have, so that it
 * can serve every pointer in them. Both the pre-push hook and
 * `dvx push --commits` (for commits that reached git without the hook) do it.
 *
 * The data goes first, all of it acknowledged before any record: a record
 * names only data the server holds. Then the records, each request one
 * transaction, the refs with the last one.
 */
export interface SentCommits {
  /** the commits recorded, parents first */
  commits: CommitInfo[];
  /** undefined when the commits name no data */
  data: PushSummary | undefined;
  runs: number;
  models: number;
}

export async function sendCommits(ws: Workspace, history: GitHistory, remote: DvxRemote, tips: readonly string[], refs: readonly RefUpdate[], opts: PushDataOptions = {}): Promise<SentCommits> {
  // What the walk learnt: the parents outside the push are usually among the commits it asked about.
  const asked = new Set<string>();
  const known = new Set<string>();
  const commits = await history.newCommits(tips, async (shas) => {
    const k = await remote.knownCommits(shas);
    for (const s of shas) asked.add(s);
    for (const s of k) known.add(s);
    return k;
  });
  const inPush = new Set(commits.map((c) => c.sha));
  const outsideParents = [...new Set(commits.map((c) => c.parents[0]).filter((p): p is string => !!p && !inPush.has(p)))];
  const unasked = outsideParents.filter((p) => !asked.has(p));
  const knownParents = new Set([...outsideParents.filter((p) => known.has(p)), ...(unasked.length ? await remote.knownCommits(unasked) : [])]);

  // A commit whose first parent the server will know is sent as changes; any other with its full pointer list.
  const bases = commits.map((c) => {
    const parent = c.parents[0];
    return parent && (inPush.has(parent) || knownParents.has(parent)) ? parent : undefined;
  });
  const changes = await history.changesMany(commits.map((c, i) => ({ from: bases[i], to: c.sha })));
  refuseInvalidTips(commits, bases, changes, tips);
  const warnInvalid = pushedInvalidWarner();
  const records: CommitRecord[] = [];
  const roots = new Map<string, Root>();
  commits.forEach((c, i) => {
    const ch = changes[i]!;
    for (const [path, p] of ch.set) roots.set(p.manifest, { path, pointer: p });
    for (const p of ch.invalid.values()) warnInvalid(p);
    // objectParents: a shallow clone lacks a boundary commit's parents, but its record must be the one a full clone sends.
    const base = { sha: c.sha, parents: [...c.objectParents], author: c.author, committer: c.committer, message: c.message };
    const set = [...ch.set].map(([path, p]) => recordPointer(path, p));
    // An invalid pointer is recorded as no dataset at its path: dropped from a full list, removed from the parent's.
    records.push(bases[i] ? { ...base, changes: { set, removed: [...ch.removed, ...ch.invalid.keys()] } } : { ...base, pointers: set });
  });

  const cache = await ws.cache();
  const data = roots.size > 0 ? await pushData(cache, remote, [...roots.values()], opts) : undefined;
  // The refs go with the last batch (one transaction: they name commits of that request or earlier ones).
  // Parents first, as the records are ordered; the body size is approximate.
  const all = splitBySize(records, (r) => JSON.stringify(r).length, Commits.maxBodyBytes / 2, Commits.maxPerRequest);
  for (let i = 0; i < all.length; i++) await remote.recordCommits({ commits: all[i]!, refs: i === all.length - 1 ? [...refs] : [] });
  if (all.length === 0 && refs.length > 0) await remote.recordCommits({ commits: [], refs: [...refs] });
  return { commits, data, ...(await syncWorkspaceTracking(ws, remote)) };
}

/**
 * Fails the push if a pushed ref names a commit holding a pointer file that
 * does not decode: a new commit that fixes the file makes the push go through.
 * What each pushed commit holds is followed from `changes` (relative to
 * `from`, its first parent or nothing): reading every pointer of a tip would
 * cost a third of a second per 10,000 pointers. So a bad file that came from
 * a commit the remote already has is not seen here; it was warned about when
 * that commit was pushed, and the server records no data for it.
 */
export function refuseInvalidTips(commits: readonly CommitInfo[], from: readonly (string | undefined)[], changes: readonly PointerChanges[], tips: readonly string[]): void {
  const invalidIn = new Map<string, Map<string, InvalidPointer>>();
  commits.forEach((c, i) => {
    const base = from[i];
    const ch = changes[i]!;
    const held = new Map(base === undefined ? [] : (invalidIn.get(base) ?? []));
    for (const path of [...ch.set.keys(), ...ch.removed]) held.delete(path);
    for (const [path, p] of ch.invalid) held.set(path, p);
    invalidIn.set(c.sha, held);
  });
  const bad = [...new Set(tips)].flatMap((tip) => [...(invalidIn.get(tip)?.values() ?? [])].map((p) => ({ tip, p })));
  if (bad.length === 0) return;
  const listed = bad.slice(0, 5).map(({ tip, p }) => `commit ${tip.slice(0, 10)}: ${p.pointerPath} is not a valid pointer: ${p.reason}`);
  if (bad.length > listed.length) listed.push(`and ${bad.length - listed.length} more`);
  throw new DvxError('bad_pointer', listed.join('\n'), 'fix the pointer in a new commit (`dvx add` rewrites it)');
}

/** Warns about an invalid pointer in an older pushed commit: the push goes on without its data. */
export function pushedInvalidWarner(): (p: InvalidPointer) => void {
  return invalidPointerWarner((p) => `the push goes on, and the server records no data at ${dataPathOf(p.pointerPath)} in the commits that hold this file`, { oncePer: 'blob' });
}

function recordPointer(path: string, p: Pointer): RecordPointer {
  return { path, type: p.type, size: p.size, ...(p.files !== undefined ? { files: p.files } : {}), sha256: p.sha256, manifest: p.manifest };
}
