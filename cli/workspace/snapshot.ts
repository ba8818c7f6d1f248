import { closeSync, fstatSync, lstatSync, openSync, readdirSync, type Stats } from 'node:fs';
import { DvxError } from '../../core/errors.ts';
import { fdSourceSync, Ingestor } from '../../core/ingest.ts';
import { DEFAULT_STAGING } from '../../core/staging.ts';
import type { Pointer } from '../../core/pointer.ts';
import { comparePaths } from '../../core/paths.ts';
import { MODE_EXEC, MODE_FILE, type TreeEntry } from '../../core/tree-manifest.ts';
import type { CacheWriter } from '../cache/cache-writer.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import { fsError, isDvxTemp } from '../fs-util.ts';
import type { StatCache } from './stat-cache.ts';
import type { Workspace } from './workspace.ts';

/**
 * Snapshots data in the working tree into the cache: chunks every file whose
 * content is not already known (stat cache), stores chunks and manifests through
 * one CacheWriter, and returns the pointer that names the result.
 *
 * Symlinks policy: a symlink given as the path to track is refused; symlinks
 * (and sockets, FIFOs, devices) inside a tracked directory are skipped and
 * reported, never followed, so a snapshot can never read outside the tree.
 */
export interface SnapshotOutcome {
  readonly dataPath: string;
  readonly pointer: Pointer;
  /** bytes of chunks this snapshot added to the cache */
  readonly newBytes: number;
  /** files read and chunked (the rest were known from the stat cache) */
  readonly hashedFiles: number;
  readonly skipped: string[];
}

export interface FileEntry {
  readonly path: string;
  readonly stat: Stats;
}

/**
 * Runs `fn` with a Snapshotter over a fresh ingestor and cache writer; then
 * every pack it wrote is sealed and indexed, or on failure the unfinished pack
 * is dropped. Pointers may name the outcomes only once this has returned.
 */
export async function snapshotting<T>(ws: Workspace, onBytes: ((n: number) => void) | undefined, fn: (snap: Snapshotter) => Promise<T>): Promise<T> {
  const cache = await ws.cache();
  const ingestor = await Ingestor.create({ params: ws.chunker, staging: DEFAULT_STAGING });
  const writer = cache.writer({ staging: ingestor.staging });
  const stats = ws.statCache();
  try {
    const out = await fn(new Snapshotter(ws, cache, writer, ingestor, stats, onBytes));
    await writer.flush();
    return out;
  } catch (err) {
    await writer.discard();
    throw err;
  } finally {
    ingestor.close();
    stats.flush();
  }
}

export class Snapshotter {
  constructor(
    private readonly ws: Workspace,
    private readonly cache: LocalCache,
    private readonly writer: CacheWriter,
    private readonly ingestor: Ingestor,
    private readonly stats: StatCache,
    private readonly onBytes?: (n: number) => void,
  ) {}

  private done = 0;

  /** Lists what a snapshot of `dataPath` will read, for progress and validation. */
  static scan(ws: Workspace, dataPath: string): { kind: 'file' | 'dir'; files: FileEntry[]; skipped: string[]; temps: string[] } {
    const abs = ws.abs(dataPath);
    let st: Stats;
    try {
      st = lstatSync(abs);
    } catch (err) {
      throw fsError(err, dataPath, 'read');
    }
    if (st.isSymbolicLink()) {
      throw new DvxError('symlink', `${dataPath} is a symbolic link; dvx tracks regular files and directories, never links`, 'add the link target instead, or replace the link with the data');
    }
    if (st.isFile()) return { kind: 'file', files: [{ path: dataPath, stat: st }], skipped: [], temps: [] };
    if (!st.isDirectory()) throw new DvxError('not_regular', `${dataPath} is not a regular file or directory`);
    const files: FileEntry[] = [];
    const skipped: string[] = [];
    // dvx's own temp files (a checkout interrupted halfway) are never part of a directory's content.
    const temps: string[] = [];
    const walk = (rel: string) => {
      let entries;
      try {
        entries = readdirSync(ws.abs(rel), { withFileTypes: true });
      } catch (err) {
        throw fsError(err, rel, 'list');
      }
      for (const e of entries) {
        const child = `${rel}/${e.name}`;
        if (e.isDirectory()) walk(child);
        else if (e.isFile() && isDvxTemp(e.name)) temps.push(child);
        else if (e.isFile()) {
          try {
            files.push({ path: child, stat: lstatSync(ws.abs(child)) });
          } catch (err) {
            throw fsError(err, child, 'read');
          }
        } else skipped.push(child);
      }
    };
    walk(dataPath);
    return { kind: 'dir', files, skipped, temps };
  }

  /** Content of one file: from the stat cache when unchanged and stored, else by chunking it. */
  async file(path: string, stBefore?: Stats): Promise<{ sha256: string; manifest: string; size: number; newBytes: number; hashed: boolean; stat: Stats }> {
    const abs = this.ws.abs(path);
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (err) {
      throw fsError(err, path, 'read');
    }
    try {
      const st = fstatSync(fd);
      if (stBefore && (st.ino !== stBefore.ino || st.size !== stBefore.size)) throw changedWhileAdding(path);
      const known = this.stats.lookup(path, st);
      if (known?.manifest && this.cache.has(known.manifest)) {
        this.done += st.size;
        this.onBytes?.(this.done);
        return { sha256: known.sha256, manifest: known.manifest, size: st.size, newBytes: 0, hashed: false, stat: st };
      }
      let newBytes = 0;
      const base = this.done;
      let result;
      try {
        result = await this.ingestor.ingest(
          fdSourceSync(fd),
          (chunks) =>
            this.writer.putChunks(chunks).then((n) => {
              newBytes += n;
            }),
          (n) => this.onBytes?.((this.done = base + n)),
        );
      } catch (err) {
        throw fsError(err, path, 'read');
      }
      const after = fstatSync(fd);
      if (result.size !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs) throw changedWhileAdding(path);
      const manifest = this.writer.putFileManifestEntries({ chunker: this.ingestor.params, size: result.size, sha256: result.sha256 }, result.chunks.entries());
      this.stats.record(path, st, { sha256: result.sha256, manifest });
      return { sha256: result.sha256, manifest, size: result.size, newBytes, hashed: true, stat: st };
    } finally {
      closeSync(fd);
    }
  }

  async snapshot(dataPath: string, scanned = Snapshotter.scan(this.ws, dataPath)): Promise<SnapshotOutcome> {
    const name = dataPath.slice(dataPath.lastIndexOf('/') + 1);
    if (scanned.kind === 'file') {
      const f = await this.file(dataPath, scanned.files[0]!.stat);
      return { dataPath, pointer: { path: name, type: 'file', size: f.size, sha256: f.sha256, manifest: f.manifest }, newBytes: f.newBytes, hashedFiles: f.hashed ? 1 : 0, skipped: [] };
    }
    const entries: TreeEntry[] = [];
    let newBytes = 0;
    let hashed = 0;
    for (const entry of scanned.files) {
      const f = await this.file(entry.path, entry.stat);
      newBytes += f.newBytes;
      if (f.hashed) hashed++;
      entries.push({ path: entry.path.slice(dataPath.length + 1), mode: f.stat.mode & 0o111 ? MODE_EXEC : MODE_FILE, size: f.size, sha256: f.sha256, manifest: f.manifest });
    }
    entries.sort((a, b) => comparePaths(a.path, b.path));
    const tree = this.writer.putTreeManifest({ entries });
    const size = entries.reduce((n, e) => n + e.size, 0);
    return {
      dataPath,
      pointer: { path: name, type: 'dir', size, files: entries.length, sha256: tree.sha256, manifest: tree.id },
      newBytes,
      hashedFiles: hashed,
      skipped: scanned.skipped,
    };
  }
}

function changedWhileAdding(path: string): DvxError {
  return new DvxError('changed_while_adding', `${path} changed while it was being added`, 'wait until whatever writes it has finished, then run the command again');
}
