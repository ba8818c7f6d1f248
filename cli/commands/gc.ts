import { GitHistory } from '../history/git-history.ts';
import { invalidPointerWarner } from '../history/invalid-pointers.ts';
import { collectGarbage } from '../cache/collect.ts';
import { formatBytes, info, plural, printJson, warn, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';
import type { Pointer } from '../../core/pointer.ts';
import { gitSync } from '../git.ts';

interface GcOptions extends OutputOptions {
  dryRun?: boolean;
}

/**
 * `dvx gc`: drop cache data that no commit on a local branch or tag (nor HEAD,
 * nor a stash, nor the working tree's pointers) needs. Everything such a commit
 * names stays, whether or not it was pushed. A stash counts because `git stash
 * pop` after a gc must give back data, not pointers to nothing.
 */
export async function run(opts: GcOptions): Promise<void> {
  const ws = Workspace.find();
  try {
    const cache = await ws.cache({ exclusive: true });
    // A bad pointer file in an old commit names no data, so there is nothing to keep for it; it must not stop gc for good.
    const history = GitHistory.open(ws.root, { invalidPointers: 'report' });
    const warnInvalid = invalidPointerWarner('it names no data, so gc keeps nothing for it');
    const tips = (await history.localRefs()).map((r) => r.sha);
    const head = await history.resolve('HEAD');
    if (head) tips.push(head);
    // A stash commit's parents are the HEAD it was made on, its index and its untracked files: the walk reaches all three.
    tips.push(...gitSync(ws.root, ['stash', 'list', '--format=%H'], { allowFail: true }).split('\n').filter((l) => /^[0-9a-f]{40,64}$/.test(l)));
    // Every pointer of every reachable commit is in that commit's changes
    // against its first parent, or in an ancestor's: the union covers them all.
    const pointers = new Map<string, Pick<Pointer, 'type' | 'manifest'>>();
    // An invalid file does not break that: a valid pointer after it differs from it, so is in its commit's changes.
    for (const c of await history.ancestry([...new Set(tips)])) {
      const changes = await history.changes(c.parents[0], c.sha);
      for (const p of changes.set.values()) pointers.set(p.manifest, p);
      for (const bad of changes.invalid.values()) warnInvalid(bad);
    }
    for (const t of ws.tracked()) {
      if (t.pointer) pointers.set(t.pointer.manifest, t.pointer);
      else if (t.error) warn(`${t.error.message}: it names no data, so gc keeps nothing for it beyond what commits name`);
    }

    const keep = new Set<string>();
    for (const p of pointers.values()) {
      keep.add(p.manifest);
      try {
        const files = p.type === 'file' ? [p.manifest] : cache.treeManifest(p.manifest).entries.map((e) => e.manifest);
        for (const f of files) {
          keep.add(f);
          for (const ch of cache.fileManifest(f).chunks) keep.add(ch.id);
        }
      } catch {
        // not in this cache: nothing here to keep
      }
    }
    const r = await collectGarbage(cache, keep, { dryRun: opts.dryRun });
    if (opts.json) return printJson({ ...r, keptBlobs: keep.size, dryRun: !!opts.dryRun });
    const verb = opts.dryRun ? 'would free' : 'freed';
    info(opts, r.deletedBlobs === 0 && r.removedTemp === 0 ? `nothing to collect: every blob in the cache is needed (${plural(pointers.size, 'dataset version')})` : `${verb} ${formatBytes(r.freedBytes)}: ${plural(r.deletedBlobs, 'unused blob')}, ${plural(r.deletedPacks, 'pack')} deleted, ${plural(r.rewrittenPacks, 'pack')} rewritten`);
  } finally {
    await ws.close();
  }
}
