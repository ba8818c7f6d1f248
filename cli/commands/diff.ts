import { DvxError } from '../../core/errors.ts';
import type { Pointer } from '../../core/pointer.ts';
import { newBytes } from '../cache/chunk-sets.ts';
import { GitHistory, UNSHALLOW_HINT } from '../history/git-history.ts';
import { formatBytes, info, plural, printJson, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

/** The pointers at one end of a diff, and the pointer files there that do not decode (data path → why, and the git blob of a committed one). */
interface End {
  readonly label: string;
  readonly pointers: Map<string, Pointer>;
  readonly invalid: Map<string, { error: string; hint?: string; blob?: string }>;
}

/**
 * `dvx diff [a] [b]`: tracked paths added, removed or changed between two
 * revisions (default: HEAD and the working tree's pointers), with sizes and how
 * many bytes are new.
 *
 * A pointer file that does not decode at either end says nothing about its
 * data: the path is listed as invalid, never as added or removed, and the
 * command exits 1 after printing everything else, so that a script reading
 * only added/removed/changed does not take the answer as complete. The same
 * broken file committed at both ends is not a change and is not listed.
 */
export async function run(a: string | undefined, b: string | undefined, opts: OutputOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
    const at = async (rev: string | undefined): Promise<End> => {
      const end: End = { label: rev ?? 'working tree', pointers: new Map(), invalid: new Map() };
      if (rev === undefined) {
        for (const t of ws.tracked()) {
          if (t.pointer) end.pointers.set(t.dataPath, t.pointer);
          else end.invalid.set(t.dataPath, { error: t.error!.message, ...(t.error!.hint ? { hint: t.error!.hint } : {}) });
        }
        return end;
      }
      const sha = await history.resolve(rev);
      if (!sha) throw new DvxError('bad_revision', `${rev} does not name a commit`, history.isShallow() ? UNSHALLOW_HINT : undefined);
      const all = await history.allAt(sha);
      for (const [path, p] of all.set) end.pointers.set(path, p);
      for (const [path, bad] of all.invalid) end.invalid.set(path, { error: `${bad.pointerPath} in commit ${sha.slice(0, 10)} is not a valid pointer: ${bad.reason}`, blob: bad.blob });
      return end;
    };
    const from = await at(a ?? 'HEAD');
    const to = await at(b);
    const cache = await ws.cache();
    const added = [...to.pointers].filter(([p]) => !from.pointers.has(p) && !from.invalid.has(p)).map(([path, p]) => ({ path, size: p.size, sha256: p.sha256, newBytes: newBytes(cache, undefined, p) ?? null }));
    const removed = [...from.pointers].filter(([p]) => !to.pointers.has(p) && !to.invalid.has(p)).map(([path, p]) => ({ path, size: p.size, sha256: p.sha256 }));
    const changed = [...to.pointers]
      .filter(([path, p]) => from.pointers.has(path) && from.pointers.get(path)!.manifest !== p.manifest)
      .map(([path, p]) => {
        const old = from.pointers.get(path)!;
        return { path, from: { size: old.size, sha256: old.sha256 }, to: { size: p.size, sha256: p.sha256 }, sizeDelta: p.size - old.size, newBytes: newBytes(cache, old, p) ?? null };
      });
    // The same broken file at both ends did not change: nothing to say about it between these two commits.
    const unchanged = (path: string) => from.invalid.get(path)?.blob !== undefined && from.invalid.get(path)?.blob === to.invalid.get(path)?.blob;
    const invalid = [from, to].flatMap((end) => [...end.invalid].filter(([path]) => !unchanged(path)).map(([path, e]) => ({ path, in: end.label, error: e.error, ...(e.hint ? { hint: e.hint } : {}) })));
    const result = { from: from.label, to: to.label, added, removed, changed, invalid };
    if (opts.json) printJson(result);
    else if (added.length + removed.length + changed.length + invalid.length === 0) info(opts, `no dataset changes between ${result.from} and ${result.to}`);
    else {
      const nb = (n: number | null) => (n === null ? '? new (not in cache)' : `${formatBytes(n)} new`);
      for (const x of added) info(opts, `added    ${x.path}  ${formatBytes(x.size)}  ${nb(x.newBytes)}`);
      for (const x of removed) info(opts, `removed  ${x.path}  ${formatBytes(x.size)}`);
      for (const x of changed) info(opts, `changed  ${x.path}  ${formatBytes(x.from.size)} -> ${formatBytes(x.to.size)} (${x.sizeDelta >= 0 ? '+' : '-'}${formatBytes(Math.abs(x.sizeDelta))})  ${nb(x.newBytes)}`);
      for (const x of invalid) info(opts, `invalid  ${x.path}  (${x.in}): ${x.error}${x.hint ? `\n         ${x.hint}` : ''}`);
    }
    if (invalid.length > 0) {
      const paths = [...new Set(invalid.map((x) => x.path))];
      throw new DvxError('bad_pointer', `${plural(paths.length, 'path')} could not be compared (invalid pointer file): ${paths.join(', ')}`);
    }
  } finally {
    await ws.close();
  }
}
