import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { dataPathOf, decodePointer } from '../../core/pointer.ts';
import { isComplete, type Root } from '../cache/reachable.ts';
import { gitSync, isAncestor } from '../git.ts';
import { diffPointerFilesWithContents } from '../history/git-batch.ts';
import { fetchData, notOnRemote } from '../remote/fetch.ts';
import { openRemote } from '../remote/resolve.ts';
import { formatBytes, plural, shellWord, warn } from '../ui.ts';
import { removeDropped, type Dropped } from '../workspace/dropped.ts';
import { Materializer } from '../workspace/materialize.ts';
import type { Tracked, Workspace } from '../workspace/workspace.ts';

/**
 * post-checkout, post-merge, post-rewrite: make the data match the pointers git
 * just wrote. Data missing from the cache is fetched from the default remote
 * (`hooks.fetch: false` in the config turns that off). These hooks cannot stop
 * git, so problems are reported as warnings, never as a failing exit.
 *
 * `moves`: the HEAD changes git made the working tree follow; the data of
 * pointers the old commit had and the new one does not goes first
 * (../workspace/dropped.ts), as git removes the files it no longer tracks.
 */
export async function materializeAfterGit(ws: Workspace, moves: HeadMove[] = []): Promise<void> {
  const tracked = ws.tracked();
  for (const t of tracked) if (t.error) warn(`${t.error.message}${t.error.hint ? ` (${t.error.hint})` : ''}`);
  let dropped: Dropped[] = [];
  try {
    if (moves.length > 0) dropped = await droppedPointers(ws, moves, tracked);
  } catch (err) {
    // Not knowing what was dropped must not keep the new pointers' data from being checked out.
    if (!(err instanceof DvxError)) throw err;
    warn(`could not tell which data the new commit no longer tracks, so none was removed: ${err.message}`);
  }
  const valid = tracked.filter((t) => t.pointer);
  if (valid.length === 0 && dropped.length === 0) return;
  const cache = await ws.cache();
  if (dropped.length > 0) {
    const d = removeDropped(ws, cache, ws.statCache(), dropped);
    if (d.removed.length > 0) {
      const named = d.removed.length > 5 ? `${d.removed.slice(0, 5).join(', ')} and ${d.removed.length - 5} more` : d.removed.join(', ');
      process.stderr.write(`dvx: removed ${plural(d.removed.length, 'path')} that ${d.removed.length === 1 ? 'is' : 'are'} no longer tracked: ${named}\n`);
    }
    const ignored = d.kept.length > 0 ? ignoredPaths(ws, d.kept.map((k) => k.path)) : new Set<string>();
    for (const k of d.kept) {
      const exposed = ignored.has(k.path) ? '' : `; git no longer ignores it, so \`git add -A\` would commit it to git`;
      warn(`${k.path} is no longer tracked (the new commit has no ${k.path}.dvx) and was kept: ${k.reason}. \`dvx add ${shellWord(k.path)}\` tracks it again; delete it if it is not needed${exposed}`);
    }
  }
  if (valid.length === 0) return;
  const roots: Root[] = valid.map((t) => ({ path: t.dataPath, pointer: t.pointer! }));

  // Paths whose data the remote lacks were just named, with what to do; a second warning would say to pull, which cannot help.
  let unavailable = new Set<string>();
  if (ws.config.hooks?.fetch !== false && !isComplete(cache, roots)) {
    try {
      const remote = openRemote(ws);
      try {
        const s = await fetchData(cache, remote, roots);
        if (s.fetchedBytes > 0) process.stderr.write(`dvx: fetched ${formatBytes(s.fetchedBytes)} from ${remote.remote.url}\n`);
        if (s.unavailable.length > 0) {
          unavailable = new Set(s.unavailable);
          const e = notOnRemote(remote.remote.url, s.unavailable);
          warn(`${e.message} (${e.hint})`);
        }
      } finally {
        remote.close();
      }
    } catch (err) {
      if (!(err instanceof DvxError)) throw err;
      warn(`could not fetch data: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
    }
  }

  const m = new Materializer(ws, cache, ws.statCache());
  for (const t of valid) if (!unavailable.has(t.dataPath)) await m.materialize(t);
  ws.statCache().flush();
  const r = m.result;
  if (r.restored.length + r.removed.length > 0) process.stderr.write(`dvx: checked out ${plural(r.restored.length, 'file')}${r.removed.length ? `, removed ${r.removed.length}` : ''}\n`);
  for (const c of r.conflicts) warn(`${c.path} was not updated: ${c.reason} (\`dvx checkout --force ${shellWord(c.path)}\` discards it)`);
  for (const f of r.failed) warn(`${f.path} was not updated: ${f.error.message}${f.error.hint ? ` (${f.error.hint})` : ''}`);
}


/** HEAD went from commit `from` to commit `to`. */
export interface HeadMove {
  from: string;
  to: string;
}

const NO_COMMIT = /^0+$/;

/**
 * What each hook says about where HEAD was (git passes post-checkout the two
 * commits; a merge and a rebase leave the old one in ORIG_HEAD).
 * - post-checkout of files (third argument 0), of a new clone or worktree (no
 *   previous commit) or without a move: none.
 * - post-checkout as a rebase starts (checking out its base): none when
 *   commits will be replayed onto it, since they may bring back what the base
 *   lacks (removing that data here would only write it back at the end);
 *   post-rewrite then compares both the old tip and the base with the result.
 *   A rebase that only fast-forwards has no post-rewrite, so its checkout does.
 * - post-merge of a squash merge: HEAD did not move; none.
 * - post-rewrite after an amend: git changed no file; none.
 */
export function headMoves(ws: Workspace, hook: 'post-checkout' | 'post-merge' | 'post-rewrite', args: string[]): HeadMove[] {
  const rev = (name: string) => gitSync(ws.root, ['rev-parse', '-q', '--verify', `${name}^{commit}`], { allowFail: true }).trim();
  const moves: HeadMove[] = [];
  const add = (from: string, to: string) => {
    if (from && to && from !== to && !NO_COMMIT.test(from) && !NO_COMMIT.test(to) && !moves.some((m) => m.from === from)) moves.push({ from, to });
  };
  if (hook === 'post-checkout') {
    const [from = '', to = '', branch] = args;
    if (branch !== '1' || from === to || NO_COMMIT.test(from)) return [];
    const replaying = rebaseOnto(ws) !== undefined && !isAncestor(ws.root, from, to);
    if (!replaying) add(from, to);
  } else if (hook === 'post-merge') {
    if (args[0] !== '1') add(rev('ORIG_HEAD'), rev('HEAD'));
  } else if (args[0] === 'rebase') {
    const head = rev('HEAD');
    add(rev('ORIG_HEAD'), head);
    const onto = rebaseOnto(ws);
    if (onto) add(onto, head);
  }
  return moves;
}

/** The commit a rebase in progress replays onto (its state directory names it), or undefined outside a rebase. */
function rebaseOnto(ws: Workspace): string | undefined {
  const dirs = gitSync(ws.root, ['rev-parse', '--git-path', 'rebase-merge', '--git-path', 'rebase-apply'], { allowFail: true }).split('\n').filter(Boolean);
  for (const dir of dirs) {
    try {
      const onto = readFileSync(resolve(ws.root, dir, 'onto'), 'utf8').trim();
      if (/^[0-9a-f]{40,64}$/.test(onto)) return onto;
    } catch {
      // not this kind of rebase
    }
  }
  return undefined;
}

/**
 * The pointers that the old commit of a move had and the working tree no
 * longer has, as they were in that commit; a path may come once per move.
 * Left out: data paths at or inside a pointer the working tree has (its
 * materialization owns them), a file git tracks now, a file around a pointer
 * the working tree has, and pointers that could not be read. A directory that
 * now holds pointers or files git tracks comes with them as `others`: the
 * rest of it is what may go.
 */
async function droppedPointers(ws: Workspace, moves: HeadMove[], tracked: Tracked[]): Promise<Dropped[]> {
  const present = new Set(tracked.map((t) => t.pointerPath));
  const dataPaths = new Set(tracked.map((t) => t.dataPath));
  const around = new Set(tracked.flatMap((t) => [...ancestors(t.dataPath)]));
  const owned = (path: string) => dataPaths.has(path) || [...ancestors(path)].some((a) => dataPaths.has(a));
  // Diffed from the new commit to the old one, a pointer the new one lacks is an addition, with the old blob.
  const { changes, contents } = await diffPointerFilesWithContents(ws.root, moves.map((m) => ({ from: m.to, to: m.from })), () => false);
  const out: Dropped[] = [];
  for (const change of changes) {
    for (const { path, blob } of change) {
      if (!blob || present.has(path)) continue;
      const dataPath = dataPathOf(path)!;
      if (owned(dataPath)) continue;
      try {
        out.push({ pointerPath: path, dataPath, pointer: decodePointer(contents.get(blob)!) });
      } catch {
        // an old pointer that cannot be read names no version to compare with
      }
    }
  }
  const inGit = gitTracked(ws, [...new Set(out.map((t) => t.dataPath))]);
  const kept: Dropped[] = [];
  for (const t of out) {
    const gitFiles = inGit.get(t.dataPath) ?? [];
    const pointers = around.has(t.dataPath) ? [...dataPaths].filter((p) => p.startsWith(t.dataPath + '/')) : [];
    if (gitFiles.includes(t.dataPath)) continue;
    if (gitFiles.length + pointers.length === 0) kept.push(t);
    else if (t.pointer!.type === 'dir') kept.push({ ...t, others: [...gitFiles, ...pointers].map((p) => p.slice(t.dataPath.length + 1)) });
  }
  return kept;
}

function* ancestors(path: string): Iterable<string> {
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) yield path.slice(0, i);
}

/** Of `paths`, each with the files git tracks at or under it (those without any are left out). */
function gitTracked(ws: Workspace, paths: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (let i = 0; i < paths.length; i += 500) {
    const batch = paths.slice(i, i + 500);
    const files = gitSync(ws.root, ['ls-files', '-z', '--cached', '--', ...batch.map((p) => `:(literal)${p}`)]).split('\0').filter(Boolean);
    for (const p of batch) {
      const under = files.filter((f) => f === p || f.startsWith(p + '/'));
      if (under.length > 0) found.set(p, under);
    }
  }
  return found;
}

/** Of `paths`, those git ignores. */
function ignoredPaths(ws: Workspace, paths: string[]): Set<string> {
  const out = gitSync(ws.root, ['check-ignore', '-z', '--stdin'], { input: paths.join('\0') + '\0', allowFail: true });
  return new Set(out.split('\0').filter(Boolean));
}
