import { mkdirSync, readdirSync, rmdirSync, rmSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import type { FileManifest } from '../../core/file-manifest.ts';
import { MODE_EXEC, MODE_FILE, type TreeEntry, type TreeManifest } from '../../core/tree-manifest.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { restoreFile } from '../cache/restore.ts';
import { fsError, removeStaleTemps } from '../fs-util.ts';
import { contentSha256, statOrMissing } from './content.ts';
import { Snapshotter } from './snapshot.ts';
import type { StatCache } from './stat-cache.ts';
import type { Tracked, Workspace } from './workspace.ts';

/**
 * Makes the working tree match the pointers, from the cache.
 *
 * Safety rule: a file in the way is replaced only if its current content can be
 * reproduced from the cache (or with force). Anything else is a local change
 * that would be lost: it is left alone and reported as a conflict.
 */
export interface MaterializeResult {
  restored: string[];
  removed: string[];
  unchanged: number;
  conflicts: { path: string; reason: string }[];
  failed: { path: string; error: DvxError }[];
}

export class Materializer {
  readonly result: MaterializeResult = { restored: [], removed: [], unchanged: 0, conflicts: [], failed: [] };
  private bytes = 0;
  /** Directories already cleared of temp files that crashed dvx processes left (one listing each per run). */
  private readonly swept = new Set<string>();

  constructor(
    private readonly ws: Workspace,
    private readonly cache: LocalCache,
    private readonly stats: StatCache,
    private readonly opts: { force?: boolean; onBytes?: (n: number) => void } = {},
  ) {}

  /** Bytes that materializing these paths may have to write (for progress). */
  static plannedBytes(tracked: Tracked[]): number {
    return tracked.reduce((n, t) => n + (t.pointer?.size ?? 0), 0);
  }

  /**
   * `only`: paths inside a tracked directory (relative to it) to materialize
   * instead of the whole directory. The caller refuses, before materializing
   * anything, those the version does not hold (absentInside).
   */
  async materialize(t: Tracked, only?: string[]): Promise<void> {
    try {
      if (!t.pointer) throw t.error!;
      const problems = this.result.conflicts.length + this.result.failed.length;
      const p = t.pointer;
      if (p.type === 'file') {
        await this.file(t.dataPath, p, undefined, t);
      } else {
        const tree = this.cache.treeManifest(p.manifest);
        const size = tree.entries.reduce((n, e) => n + e.size, 0);
        if (size !== p.size || tree.entries.length !== (p.files ?? tree.entries.length)) throw editedPointer(t, `${p.size} bytes in ${p.files} files`, `${size} bytes in ${tree.entries.length} files`);
        await this.dir(t.dataPath, tree, only);
      }
      if (!only && this.result.conflicts.length + this.result.failed.length === problems) this.stats.recordSynced(t.dataPath, t.pointer.manifest);
    } catch (err) {
      if (err instanceof DvxError) this.result.failed.push({ path: t.dataPath, error: err });
      else throw err;
    }
  }

  /**
   * Of `only` (paths inside tracked `t`), the ones its version does not hold,
   * as workspace paths: a tracked file holds none. A tree that cannot be read
   * is left for materialize to report.
   */
  absentInside(t: Tracked, only: string[] | undefined): string[] {
    if (!only || !t.pointer) return [];
    let entries: readonly TreeEntry[] = [];
    if (t.pointer.type === 'dir') {
      try {
        entries = this.cache.treeManifest(t.pointer.manifest).entries;
      } catch {
        return [];
      }
    }
    return only.filter((o) => !entries.some((e) => e.path === o || e.path.startsWith(o + '/'))).map((o) => `${t.dataPath}/${o}`);
  }

  /**
   * Whether the content at `path` may be replaced without losing anything: a
   * file the cache can give back, or a directory of only such files (the
   * path is a directory in another commit: a branch switch left it there).
   */
  private replaceable(path: string, st: Stats): boolean {
    if (this.opts.force) return true;
    if (st.isDirectory()) {
      let scan: ReturnType<typeof Snapshotter.scan>;
      try {
        scan = Snapshotter.scan(this.ws, path);
      } catch {
        return false;
      }
      return scan.skipped.length === 0 && scan.files.every((f) => this.replaceable(f.path, f.stat));
    }
    if (!st.isFile()) return false;
    return this.cache.index.fileManifest(contentSha256(this.ws, this.stats, path, st)) !== undefined;
  }

  /**
   * `want`: the version the pointer (`owner`, for a single-file pointer) or tree
   * entry names. Its size and sha256 are checked against the content already
   * there, else against the manifest when restoring: a pointer that disagrees
   * was edited (its manifest id hashes the manifest); a tree entry that does
   * means the cache is damaged.
   */
  private async file(path: string, want: { sha256: string; size: number; manifest: string }, mode: number | undefined, owner?: Tracked): Promise<void> {
    const { sha256, manifest: manifestId } = want;
    const disagrees = (size: number, sha: string) =>
      owner
        ? editedPointer(owner, `size ${want.size} and sha256 ${sha256.slice(0, 12)}…`, `size ${size} and sha256 ${sha.slice(0, 12)}…`)
        : new DvxError('cache_damaged', `the tree entry for ${path} says ${want.size} bytes with sha256 ${sha256}, but its manifest ${manifestId} describes ${size} bytes with ${sha}`, 'run `dvx fsck`');
    const abs = this.ws.abs(path);
    const st = statOrMissing(abs);
    if (st?.isFile()) {
      const wantMode = mode ?? (st.mode & 0o111 ? MODE_EXEC : MODE_FILE);
      const haveMode = st.mode & 0o111 ? MODE_EXEC : MODE_FILE;
      if (contentSha256(this.ws, this.stats, path, st) === sha256 && wantMode === haveMode) {
        if (st.size !== want.size) throw disagrees(st.size, sha256);
        this.result.unchanged++;
        this.bytes += st.size;
        this.opts.onBytes?.(this.bytes);
        return;
      }
    }
    if (st && !this.replaceable(path, st)) {
      this.result.conflicts.push({ path, reason: st.isDirectory() ? 'a directory is in the way' : 'it has local changes that are not stored anywhere' });
      return;
    }
    const manifest: FileManifest = this.cache.fileManifest(manifestId);
    if (manifest.sha256 !== sha256 || manifest.size !== want.size) throw disagrees(manifest.size, manifest.sha256);
    try {
      if (st?.isDirectory()) rmSync(abs, { recursive: true });
      mkdirSync(this.ws.abs(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.'), { recursive: true });
    } catch (err) {
      throw fsError(err, path, 'replace');
    }
    this.sweep(dirname(abs));
    const base = this.bytes;
    await restoreFile(this.cache, manifest, abs, { mode, what: path, onBytes: (n) => this.opts.onBytes?.((this.bytes = base + n)) });
    this.bytes = base + manifest.size;
    this.opts.onBytes?.(this.bytes);
    const after = statOrMissing(abs);
    if (after) this.stats.record(path, after, { sha256, manifest: manifestId });
    this.result.restored.push(path);
  }

  private async dir(path: string, tree: TreeManifest, only?: string[]): Promise<void> {
    const selected = (rel: string) => !only || only.some((o) => rel === o || rel.startsWith(o + '/'));
    const abs = this.ws.abs(path);
    const st = statOrMissing(abs);
    if (st && !st.isDirectory()) {
      if (!this.replaceable(path, st)) {
        this.result.conflicts.push({ path, reason: inTheWay(st) });
        return;
      }
      rmSync(abs, { force: true });
    }
    // An empty directory is a version too.
    if (!st?.isDirectory() && tree.entries.length === 0) mkdirSync(abs, { recursive: true });
    const wanted = new Map<string, TreeEntry>(tree.entries.filter((e) => selected(e.path)).map((e) => [`${path}/${e.path}`, e]));
    // Files present but not in the tree: removed when recoverable.
    if (st?.isDirectory()) {
      const { files, temps } = Snapshotter.scan(this.ws, path);
      for (const t of temps) this.sweep(dirname(this.ws.abs(t)));
      const dirs = new Set<string>();
      for (const full of wanted.keys()) for (let i = full.indexOf('/', path.length + 1); i > 0; i = full.indexOf('/', i + 1)) dirs.add(full.slice(0, i));
      for (const f of files) {
        // A file where the tree needs a directory is clearDirs' to judge.
        if (wanted.has(f.path) || dirs.has(f.path) || !selected(f.path.slice(path.length + 1))) continue;
        if (!this.replaceable(f.path, f.stat)) {
          this.result.conflicts.push({ path: f.path, reason: 'it is not part of this version and is not stored anywhere' });
          continue;
        }
        rmSync(this.ws.abs(f.path), { force: true });
        this.result.removed.push(f.path);
      }
    }
    const blocked = this.clearDirs(path, wanted.keys());
    for (const [full, e] of wanted) {
      if (blocked.some((b) => full.startsWith(b + '/'))) continue;
      try {
        await this.file(full, e, e.mode);
      } catch (err) {
        if (err instanceof DvxError) this.result.failed.push({ path: full, error: err });
        else throw err;
      }
    }
    pruneEmptyDirs(abs, true);
  }

  /**
   * Makes every directory that `files` need under the tracked directory `root`
   * a real directory. A symlink there (git checks them out from a commit) would
   * send writes outside the working tree, so it is never followed: it is a
   * conflict, and --force removes the link itself. A file in the way goes when
   * it is recoverable. Returns the directories left blocked (their conflicts
   * recorded), whose files must not be written.
   */
  private clearDirs(root: string, files: Iterable<string>): string[] {
    const checked = new Set<string>();
    const blocked: string[] = [];
    for (const full of files) {
      const parts = full.slice(root.length + 1).split('/');
      let dir = root;
      for (const part of parts.slice(0, -1)) {
        dir = `${dir}/${part}`;
        if (checked.has(dir)) continue;
        checked.add(dir);
        const st = statOrMissing(this.ws.abs(dir));
        if (!st) break;
        if (st.isDirectory()) continue;
        if (!st.isSymbolicLink() && this.replaceable(dir, st)) {
          rmSync(this.ws.abs(dir), { force: true });
          this.result.removed.push(dir);
          break;
        }
        if (st.isSymbolicLink() && this.opts.force) {
          rmSync(this.ws.abs(dir));
          break;
        }
        this.result.conflicts.push({ path: dir, reason: inTheWay(st) });
        blocked.push(dir);
        break;
      }
    }
    return blocked;
  }

  /**
   * A checkout killed while writing leaves `.<name>.dvx-tmp-<pid>-…` beside
   * the file (as large as what it had written); the next materialization of
   * that directory removes it. Files of live dvx processes stay.
   */
  private sweep(dirAbs: string): void {
    if (this.swept.has(dirAbs)) return;
    this.swept.add(dirAbs);
    removeStaleTemps(dirAbs);
  }
}

/** The manifest id is a hash of the manifest: when the two disagree, the pointer is what changed. */
function editedPointer(t: Tracked, says: string, has: string): DvxError {
  return new DvxError('bad_pointer', `${t.pointerPath} says ${says}, but the version it names has ${has}: the pointer was edited`, `\`git checkout -- ${t.pointerPath}\` restores the committed pointer; \`dvx add ${t.dataPath}\` records the data now there`);
}

function inTheWay(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink is in the way of a directory (dvx never writes through symlinks; --force replaces the link)';
  if (st.isFile()) return 'a file with local changes is in the way of a directory';
  return 'something that is not a regular file or directory is in the way';
}

/** Removes empty directories under `dir` (not `dir` itself), bottom up. */
function pruneEmptyDirs(dir: string, top: boolean): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  let empty = true;
  for (const e of entries) {
    if (e.isDirectory() && pruneEmptyDirs(`${dir}/${e.name}`, false)) continue;
    empty = false;
  }
  if (empty && !top) {
    rmdirSync(dir);
    return true;
  }
  return false;
}
