import { basename, resolve } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { dataPathOf } from '../../core/pointer.ts';
import { gitAdd, gitSync } from '../git.ts';
import { formatBytes, shellWord } from '../ui.ts';
import { pointerConflict, unmergedPointers } from '../workspace/conflicts.ts';
import { changedData, rerecord } from '../workspace/refresh.ts';
import type { Tracked, Workspace } from '../workspace/workspace.ts';

/**
 * pre-commit: the commit must name the data in the working tree. Tracked data
 * that changed is re-recorded and its pointer restaged; a commit that would put
 * tracked data itself (or a broken pointer) into git is refused.
 */
export async function preCommit(ws: Workspace): Promise<void> {
  const tracked = ws.tracked();
  refuseImplicitResolution(ws, tracked);
  const broken = tracked.find((t) => t.error);
  if (broken) throw new DvxError('bad_pointer', `refusing to commit: ${broken.error!.message}`, broken.error!.hint);

  const { staged, nothingStaged } = stagedPaths(ws.root);
  const dataPaths = tracked.map((t) => t.dataPath);
  const leaked = staged.filter((s) => dataPaths.some((d) => s === d || s.startsWith(d + '/')));
  if (leaked.length > 0) {
    throw new DvxError(
      'data_in_git',
      `refusing to commit ${leaked[0]}${leaked.length > 1 ? ` (and ${leaked.length - 1} more)` : ''}: it is data tracked by dvx, and git must only get its pointer`,
      `unstage it with \`git rm --cached -r -- ${leaked.join(' ')}\``,
    );
  }

  const { changed, outdated, diverged } = await changedData(ws, tracked);
  for (const p of outdated) {
    process.stderr.write(`dvx: ${p} is not checked out: its pointer changed in git (a merge, cherry-pick or reset) and the data is still the version before; the commit keeps the pointer. \`dvx checkout ${shellWord(p)}\` gets its data\n`);
  }
  for (const p of diverged) {
    process.stderr.write(
      `dvx: ${p} was not recorded: its pointer changed in git (a pull, merge or branch switch) after you changed the data, so your changes were made on another version; recording them would undo the one the pointer names. The commit keeps the pointer. \`dvx add ${shellWord(p)}\` records your data over it; \`dvx checkout --force ${shellWord(p)}\` takes the pointer's version and discards your changes\n`,
    );
  }
  if (changed.length === 0) return;
  // `git commit <paths>` commits from a temporary index of HEAD plus those paths; a
  // pointer staged there would be committed but missing from the real index, and the
  // next commit would put the old one back. So a partial commit records nothing.
  if (isPartialCommit()) {
    process.stderr.write(`dvx: a partial commit (\`git commit <paths>\`) does not record data; changed and not recorded: ${changed.map((t) => t.dataPath).join(', ')} (\`dvx add\` them, then commit their pointers)\n`);
    return;
  }
  const { updated, pointerPaths } = await rerecord(ws, changed);
  gitAdd(ws.root, pointerPaths);
  for (const o of updated) process.stderr.write(`dvx: recorded ${o.dataPath} (${formatBytes(o.pointer.size)}, ${formatBytes(o.newBytes)} new)\n`);
  // git decides whether there is anything to commit before it runs this hook
  // (with or without -a), from the index as it was: if nothing was staged, it
  // stops with "nothing to commit" although the pointers are staged now.
  if (nothingStaged) process.stderr.write('dvx: if git now says "nothing to commit", it decided before dvx staged the new pointers: run the same `git commit` command again (next time, `dvx add` changed data before committing)\n');
}

/**
 * `git commit -a` (or -i) resolves unmerged paths by staging the working
 * tree's file: for a pointer under merge=binary that is ours, with no choice
 * made. A plain `git commit` refuses unmerged paths before this hook runs; so
 * does this hook, seeing them still unmerged in the index on disk (git stages
 * into index.lock).
 */
function refuseImplicitResolution(ws: Workspace, tracked: Tracked[]): void {
  const index = process.env.GIT_INDEX_FILE;
  if (!index || basename(index) !== 'index.lock') return;
  const unmerged = unmergedPointers(ws.root, resolve(ws.root, index.slice(0, -'.lock'.length)));
  if (unmerged.size === 0) return;
  const [pointerPath, sides] = [...unmerged][0]!;
  const t = tracked.find((x) => x.pointerPath === pointerPath);
  const e = pointerConflict(pointerPath, dataPathOf(pointerPath)!, { markers: t?.error?.code === 'pointer_conflict', unmerged: sides });
  const more = unmerged.size > 1 ? ` (and ${unmerged.size - 1} more unmerged ${unmerged.size === 2 ? 'pointer' : 'pointers'}: ${[...unmerged.keys()].slice(1).join(', ')})` : '';
  throw new DvxError('pointer_conflict', `refusing to commit: ${e.message}${more}; \`git commit -a\` would take the working tree's file as its resolution without a choice being made`, e.hint);
}

/** git commits from a temporary `next-index-<pid>.lock` only for `git commit <paths>` (with -a or -i it is the real index's lock). */
function isPartialCommit(): boolean {
  const index = process.env.GIT_INDEX_FILE;
  return index !== undefined && /^next-index-\d+\.lock$/.test(basename(index));
}

/**
 * What the commit would add or change (paths added, copied, modified or
 * renamed to), and whether anything at all is staged, from one `git diff`.
 */
function stagedPaths(root: string): { staged: string[]; nothingStaged: boolean } {
  const fields = gitSync(root, ['diff', '--cached', '--name-status', '-z']).split('\0');
  const staged: string[] = [];
  let any = false;
  for (let i = 0; i < fields.length; ) {
    const status = fields[i++]!;
    if (status === '') continue;
    any = true;
    // Renames and copies name the source, then the destination.
    const path = status[0] === 'R' || status[0] === 'C' ? (i++, fields[i++]!) : fields[i++]!;
    if ('ACMR'.includes(status[0]!)) staged.push(path);
  }
  return { staged, nothingStaged: !any };
}
