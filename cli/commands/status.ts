import { info, plural, printJson, type OutputOptions } from '../ui.ts';
import { unmergedPointers } from '../workspace/conflicts.ts';
import { conflictStatus, narrowStatus, pathStatus, type PathStatus } from '../workspace/status.ts';
import { Workspace } from '../workspace/workspace.ts';

export async function run(paths: string[], opts: OutputOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const { tracked, unmatched, inner } = ws.trackedUnder(paths.map((p) => ws.rel(p, undefined, { root: true })));
    const cache = await ws.cache();
    const stats = ws.statCache();
    const unmerged = unmergedPointers(ws.root);
    const result = tracked.map((t) => conflictStatus(t, unmerged) ?? narrowStatus(pathStatus(ws, cache, stats, t), inner.get(t)));
    stats.flush();
    if (opts.json) {
      printJson({
        paths: result.map((r) => (r.state === 'invalid' || r.state === 'conflicted' ? { path: r.path, state: r.state, error: r.error.message, ...(r.error.hint ? { hint: r.error.hint } : {}) } : r)),
        unmatched,
      });
      return;
    }
    for (const u of unmatched) info(opts, `not tracked: ${u}`);
    const dirty = result.filter((r) => r.state !== 'clean');
    if (dirty.length === 0) {
      if (tracked.length > 0) info(opts, `${plural(tracked.length, 'tracked path')}, all up to date`);
      else if (paths.length === 0) info(opts, 'nothing tracked yet: `dvx add <path>` to start');
      return;
    }
    for (const r of dirty) info(opts, describe(r));
    info(opts, '\n(`dvx add <path>` records a change; `dvx checkout <path>` restores the committed version)');
  } finally {
    await ws.close();
  }
}

function describe(r: PathStatus): string {
  switch (r.state) {
    case 'changed': {
      const parts = [r.added.length && `${r.added.length} added`, r.modified.length && `${r.modified.length} modified`, r.removed.length && `${r.removed.length} removed`].filter(Boolean);
      const sample = [...r.added.map((p) => `+ ${p}`), ...r.modified.map((p) => `M ${p}`), ...r.removed.map((p) => `- ${p}`)];
      const shown = sample.slice(0, 10).map((s) => `\n      ${s}`).join('');
      return `  modified:  ${r.path}/ (${parts.join(', ')})${shown}${sample.length > 10 ? `\n      ... and ${sample.length - 10} more` : ''}`;
    }
    case 'invalid':
      return `  invalid:   ${r.path}: ${r.error.message}${r.error.hint ? `\n      ${r.error.hint}` : ''}`;
    case 'conflicted':
      return `  conflicted: ${r.path}: ${r.error.message}${r.error.hint ? `\n      ${r.error.hint}` : ''}`;
    case 'outdated':
      return `  outdated:  ${r.path} (the data is the version dvx last checked out or added; its pointer now names another: \`dvx checkout ${r.path}\` gets it)`;
    case 'unknown':
      return `  unknown:   ${r.path}: ${r.reason}`;
    default:
      return `  ${(r.state + ':').padEnd(10)} ${r.path}`;
  }
}
