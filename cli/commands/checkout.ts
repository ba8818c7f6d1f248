import { DvxError } from '../../core/errors.ts';
import { info, plural, printJson, Progress, shellWord, warn, type OutputOptions } from '../ui.ts';
import { unmergedPointers } from '../workspace/conflicts.ts';
import { Materializer, type MaterializeResult } from '../workspace/materialize.ts';
import { Workspace } from '../workspace/workspace.ts';

export interface CheckoutOptions extends OutputOptions {
  force?: boolean;
}

export async function run(paths: string[], opts: CheckoutOptions): Promise<void> {
  const result = await checkoutPaths(paths, opts);
  if (opts.json) printJson(jsonResult(result));
  else printResult(result, opts);
  failOnProblems(result);
}

/** Materializes the tracked paths under `paths` (all when empty), but for the data paths in `skip`. */
export async function checkoutPaths(paths: string[], opts: CheckoutOptions, skip: ReadonlySet<string> = new Set()): Promise<MaterializeResult> {
  const ws = Workspace.find();
  try {
    const under = ws.trackedUnder(paths.map((p) => ws.rel(p, undefined, { root: true })));
    const { unmatched, inner } = under;
    const tracked = under.tracked.filter((t) => !skip.has(t.dataPath));
    if (unmatched.length > 0) throw new DvxError('not_tracked', `not tracked by dvx: ${unmatched.join(', ')}`, 'see `dvx status` for what is tracked');
    const cache = await ws.cache();
    const stats = ws.statCache();
    const progress = new Progress('checking out', Materializer.plannedBytes(tracked), opts);
    const m = new Materializer(ws, cache, stats, { force: opts.force, onBytes: (n) => progress.update(n) });
    try {
      const absent = tracked.flatMap((t) => m.absentInside(t, inner.get(t)));
      if (absent.length > 0) throw new DvxError('not_tracked', `not tracked by dvx: ${absent.join(', ')}`, 'a path inside a tracked directory must be in the version its pointer names; see `dvx status`');
      for (const t of tracked) await m.materialize(t, inner.get(t));
    } finally {
      progress.stop();
      stats.flush();
    }
    // Under merge=binary an unmerged pointer is valid (ours, or theirs once taken) and its data checks out like any other: say that git still waits for the choice.
    const unmerged = unmergedPointers(ws.root);
    for (const t of tracked) {
      if (!t.pointer || !unmerged.has(t.pointerPath)) continue;
      warn(`${t.pointerPath} is still unmerged in git (both branches changed ${t.dataPath}); ${t.dataPath} now has the data of the pointer in the working tree: \`git add ${shellWord(t.pointerPath)}\` settles on it, and \`dvx status\` lists the other ways out`);
    }
    return m.result;
  } finally {
    await ws.close();
  }
}

export function jsonResult(r: MaterializeResult) {
  return { ...r, failed: r.failed.map((f) => ({ path: f.path, code: f.error.code, message: f.error.message })) };
}

export function printResult(r: MaterializeResult, opts: OutputOptions): void {
  for (const p of r.restored) info(opts, `restored ${p}`);
  for (const p of r.removed) info(opts, `removed  ${p}`);
  if (r.restored.length + r.removed.length === 0 && r.conflicts.length + r.failed.length === 0) info(opts, `${plural(r.unchanged, 'file')} already up to date`);
}

/** Conflicts and failures make the command fail, after everything else was done. */
export function failOnProblems(r: MaterializeResult): void {
  if (r.conflicts.length === 0 && r.failed.length === 0) return;
  const hint = r.conflicts.length > 0 ? 'record local changes with `dvx add`, or discard them with `dvx checkout --force`' : r.failed[0]!.error.hint;
  const lines = [
    ...r.conflicts.map((c) => `  ${c.path}: not overwritten, ${c.reason}`),
    // A path's own hint is given with it unless it is the one said for all of them at the end.
    ...r.failed.map((f) => `  ${f.path}: ${f.error.message}${f.error.hint && f.error.hint !== hint ? ` (${f.error.hint})` : ''}`),
  ];
  throw new DvxError(r.failed.length > 0 ? r.failed[0]!.error.code : 'local_changes', `${plural(r.conflicts.length + r.failed.length, 'path')} could not be checked out:\n${lines.join('\n')}`, hint);
}
