import { DvxError } from '../../core/errors.ts';
import type { Pointer } from '../../core/pointer.ts';
import { newBytes } from '../cache/chunk-sets.ts';
import { GitHistory } from '../history/git-history.ts';
import { formatBytes, info, printJson, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

/**
 * `dvx diff [a] [b]`: tracked paths added, removed or changed between two
 * revisions (default: HEAD and the working tree's pointers), with sizes and how
 * many bytes are new.
 */
export async function run(a: string | undefined, b: string | undefined, opts: OutputOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const history = GitHistory.open(ws.root);
    const at = async (rev: string | undefined): Promise<Map<string, Pointer>> => {
      if (rev === undefined) {
        const out = new Map<string, Pointer>();
        for (const t of ws.tracked()) if (t.pointer) out.set(t.dataPath, t.pointer);
        return out;
      }
      const sha = await history.resolve(rev);
      if (!sha) throw new DvxError('bad_revision', `${rev} does not name a commit`);
      return history.pointersAt(sha);
    };
    const fromRev = a ?? 'HEAD';
    const from = await at(fromRev);
    const to = await at(b);
    const cache = await ws.cache();
    const added = [...to].filter(([p]) => !from.has(p)).map(([path, p]) => ({ path, size: p.size, sha256: p.sha256, newBytes: newBytes(cache, undefined, p) ?? null }));
    const removed = [...from].filter(([p]) => !to.has(p)).map(([path, p]) => ({ path, size: p.size, sha256: p.sha256 }));
    const changed = [...to]
      .filter(([path, p]) => from.has(path) && from.get(path)!.manifest !== p.manifest)
      .map(([path, p]) => {
        const old = from.get(path)!;
        return { path, from: { size: old.size, sha256: old.sha256 }, to: { size: p.size, sha256: p.sha256 }, sizeDelta: p.size - old.size, newBytes: newBytes(cache, old, p) ?? null };
      });
    const result = { from: fromRev, to: b ?? 'working tree', added, removed, changed };
    if (opts.json) return printJson(result);
    if (added.length + removed.length + changed.length === 0) return info(opts, `no dataset changes between ${result.from} and ${result.to}`);
    const nb = (n: number | null) => (n === null ? '? new (not in cache)' : `${formatBytes(n)} new`);
    for (const x of added) info(opts, `added    ${x.path}  ${formatBytes(x.size)}  ${nb(x.newBytes)}`);
    for (const x of removed) info(opts, `removed  ${x.path}  ${formatBytes(x.size)}`);
    for (const x of changed) info(opts, `changed  ${x.path}  ${formatBytes(x.from.size)} -> ${formatBytes(x.to.size)} (${x.sizeDelta >= 0 ? '+' : '-'}${formatBytes(Math.abs(x.sizeDelta))})  ${nb(x.newBytes)}`);
  } finally {
    await ws.close();
  }
}
