import { DvxError } from '../../core/errors.ts';
import { dataPathOf, type Pointer } from '../../core/pointer.ts';
import { newBytes } from '../cache/chunk-sets.ts';
import { GitHistory } from '../history/git-history.ts';
import { formatBytes, info, printJson, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

interface LogOptions extends OutputOptions {
  rev?: string;
  maxCount?: string;
}

function maxCount(value: string | undefined): number {
  if (value === undefined) return Infinity;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new DvxError('usage', `--max-count must be a whole number of at least 1, got ${value}`);
  return Number(value);
}

/** `dvx log <path>`: the versions of a dataset across the local git history, newest first. */
export async function run(path: string, opts: LogOptions): Promise<void> {
  const limit = maxCount(opts.maxCount);
  const ws = Workspace.find();
  try {
    const rel = ws.rel(path);
    const dataPath = dataPathOf(rel) ?? rel;
    const history = GitHistory.open(ws.root);
    const rev = opts.rev ?? 'HEAD';
    const tip = await history.resolve(rev);
    if (!tip) throw new DvxError('bad_revision', `${rev} does not name a commit`, rev === 'HEAD' ? 'make a first commit' : 'use a branch, tag or commit sha');
    const cache = await ws.cache();
    const versions: { commit: string; time: number; author: string; message: string; pointer: Pointer | null; newBytes: number | undefined }[] = [];
    for (const c of await history.ancestry([tip])) {
      if (versions.length >= limit) break;
      const changes = await history.changes(c.parents[0], c.sha);
      const set = changes.set.get(dataPath);
      const removed = changes.removed.includes(dataPath);
      if (!set && !removed) continue;
      const prev = c.parents[0] ? (await history.pointersAt(c.parents[0])).get(dataPath) : undefined;
      versions.push({
        commit: c.sha,
        time: c.committer.time,
        author: c.author.name,
        message: c.message.split('\n')[0]!,
        pointer: set ?? null,
        newBytes: set ? newBytes(cache, prev, set) : 0,
      });
    }
    if (opts.json) {
      printJson({ path: dataPath, versions: versions.map((v) => ({ ...v, time: new Date(v.time * 1000).toISOString(), pointer: undefined, removed: v.pointer === null, size: v.pointer?.size, sha256: v.pointer?.sha256, manifest: v.pointer?.manifest, newBytes: v.newBytes ?? null })) });
      return;
    }
    if (versions.length === 0) {
      info(opts, `no commit reachable from ${rev} changes ${dataPath}`);
      return;
    }
    for (const v of versions) {
      const date = new Date(v.time * 1000).toISOString().replace('T', ' ').slice(0, 16);
      const what = v.pointer ? `${formatBytes(v.pointer.size).padStart(10)}  ${v.pointer.sha256.slice(0, 12)}  ${v.newBytes === undefined ? '       ?' : formatBytes(v.newBytes).padStart(10)} new` : '   removed';
      info(opts, `${v.commit.slice(0, 10)}  ${date}  ${what}  ${v.author}: ${v.message}`);
    }
  } finally {
    await ws.close();
  }
}
