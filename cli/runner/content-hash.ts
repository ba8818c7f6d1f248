import { sha256 } from '../../core/hash.ts';
import { comparePaths } from '../../core/paths.ts';
import { contentSha256, statOrMissing } from '../workspace/content.ts';
import { Snapshotter } from '../workspace/snapshot.ts';
import type { StatCache } from '../workspace/stat-cache.ts';
import type { Workspace } from '../workspace/workspace.ts';

/**
 * What a dep or out of a stage currently holds, for staleness: a file's
 * sha256, or for a directory the sha256 of its listing — one line
 * "<mode> <size> <sha256> <path>\n" per regular file, sorted by path bytes —
 * computed through the stat cache, so unchanged inputs cost a stat each.
 */
export interface ContentHash {
  readonly type: 'file' | 'dir';
  readonly sha256: string;
  readonly size: number;
}

export function contentHash(ws: Workspace, stats: StatCache, path: string): ContentHash | undefined {
  const st = statOrMissing(ws.abs(path));
  if (!st) return undefined;
  if (st.isFile()) return { type: 'file', sha256: contentSha256(ws, stats, path, st), size: st.size };
  if (!st.isDirectory()) return undefined;
  const { files } = Snapshotter.scan(ws, path);
  files.sort((a, b) => comparePaths(a.path, b.path));
  const h = sha256();
  let size = 0;
  for (const f of files) {
    const mode = f.stat.mode & 0o111 ? '100755' : '100644';
    h.update(`${mode} ${f.stat.size} ${contentSha256(ws, stats, f.path, f.stat)} ${f.path.slice(path.length + 1)}\n`);
    size += f.stat.size;
  }
  return { type: 'dir', sha256: h.digest('hex'), size };
}
