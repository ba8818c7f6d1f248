import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DvxError, FormatError } from '../../core/errors.ts';
import { dataPathOf, decodePointer, encodePointer, pointerPathOf, type Pointer } from '../../core/pointer.ts';
import { pathProblem } from '../../core/paths.ts';
import { LocalCache } from '../cache/local-cache.ts';
import { appendLineOnce, writeFileAtomic } from '../fs-util.ts';
import { gitListFiles, gitTopLevel } from '../git.ts';
import { pointerConflict, unmergedPointers } from './conflicts.ts';
import { chunkerOf, mergeConfig, readConfigFile, type Config } from './config.ts';
import { CONFIG_FILE, DVX_DIR, LOCAL_CONFIG_FILE } from './names.ts';
import { StatCache } from './stat-cache.ts';
import { shellWord } from '../ui.ts';

/**
 * A dvx workspace: a git working tree with a `.dvx/` directory. Owns the mapping
 * between what users type (paths relative to their cwd) and workspace paths
 * (relative to the root, '/'-separated), and opens the cache and state lazily.
 */
export { CONFIG_FILE, DVX_DIR, LOCAL_CONFIG_FILE } from './names.ts';

export interface Tracked {
  /** workspace path of the pointer file */
  readonly pointerPath: string;
  /** workspace path of the data it stands for */
  readonly dataPath: string;
  readonly pointer?: Pointer;
  /** why the pointer could not be read */
  readonly error?: DvxError;
}

export class Workspace {
  private cacheP: Promise<LocalCache> | undefined;
  private stats: StatCache | undefined;
  readonly config: Config;

  private constructor(readonly root: string) {
    this.config = mergeConfig(readConfigFile(join(root, DVX_DIR, CONFIG_FILE)), readConfigFile(join(root, DVX_DIR, LOCAL_CONFIG_FILE)));
  }

  /** Finds the workspace containing `cwd` (or throws a DvxError saying to run `dvx init`). */
  static find(cwd = process.cwd()): Workspace {
    const top = gitTopLevel(cwd);
    if (!top) throw new DvxError('not_a_workspace', `${cwd} is not inside a git working tree`, 'run `git init` and then `dvx init`');
    const root = realpathSync(top);
    if (!existsSync(join(root, DVX_DIR, CONFIG_FILE))) {
      throw new DvxError('not_a_workspace', `${root} has no ${DVX_DIR}/${CONFIG_FILE}`, 'run `dvx init` at the top of the repository');
    }
    return new Workspace(root);
  }

  static at(root: string): Workspace {
    return new Workspace(root);
  }

  get dvxDir(): string {
    return join(this.root, DVX_DIR);
  }

  get cacheDir(): string {
    const dir = this.config.cache?.dir;
    return dir ? resolve(this.root, dir) : join(this.dvxDir, 'cache');
  }

  get chunker() {
    return chunkerOf(this.config);
  }

  cache(opts: { exclusive?: boolean } = {}): Promise<LocalCache> {
    this.cacheP ??= LocalCache.open(this.cacheDir, { fsync: this.config.cache?.fsync ?? false, exclusive: opts.exclusive });
    return this.cacheP;
  }

  statCache(): StatCache {
    if (!this.stats) {
      mkdirSync(this.dvxDir, { recursive: true });
      this.stats = new StatCache(join(this.dvxDir, 'state.sqlite'));
    }
    return this.stats;
  }

  async close(): Promise<void> {
    this.stats?.close();
    this.stats = undefined;
    await this.closeCache();
  }

  /** Closes the cache so that the next cache() opens it afresh; a cache that failed to open has nothing to close. */
  async closeCache(): Promise<void> {
    const opening = this.cacheP;
    this.cacheP = undefined;
    let cache: LocalCache;
    try {
      if (!opening) return;
      cache = await opening;
    } catch {
      return;
    }
    cache.close();
  }

  abs(path: string): string {
    // The same as joining each segment (join splits on '/' itself), without an array per call: hooks call this 20,000 times.
    const j = join(this.root, path);
    return j.length > 1 && j.endsWith('/') ? j.slice(0, -1) : j;
  }

  /**
   * The workspace path of a path a user typed (relative to `cwd`). Refuses paths
   * outside the working tree and inside `.git` or `.dvx`. The root itself is
   * refused unless `root` is set (commands that take paths as a scope, where
   * `.` at the top means everything), and then returned as ''.
   */
  rel(userPath: string, cwd = process.cwd(), opts: { root?: boolean } = {}): string {
    const absolute = isAbsolute(userPath) ? userPath : resolve(cwd, userPath);
    // Resolve symlinked parents (e.g. /tmp -> /private/tmp) but not the last component.
    let parent = dirname(absolute);
    try {
      parent = realpathSync(parent);
    } catch {
      // parent missing: the caller reports the path as missing
    }
    const full = join(parent, absolute.slice(dirname(absolute).length));
    const rel = relative(this.root, full);
    if (rel === '') {
      if (opts.root) return '';
      throw new DvxError('bad_path', `${userPath === '' ? 'an empty path' : userPath} is the workspace root; name a file or directory inside it`);
    }
    if (rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) throw new DvxError('outside_workspace', `${userPath} is outside the workspace ${this.root}`, 'dvx tracks data inside the git working tree; move or copy it there first');
    const posix = rel.split(sep).join('/');
    const first = posix.split('/')[0];
    if (first === '.git' || first === DVX_DIR) throw new DvxError('bad_path', `${userPath} is inside ${first}/, which dvx does not track`);
    const problem = pathProblem(posix);
    if (problem) throw new DvxError('bad_path', `${userPath}: path ${problem}`);
    return posix;
  }

  /**
   * Every pointer file in the working tree that git does not ignore, parsed.
   * A pointer file whose stat signature is unchanged since it was last parsed
   * is not read again (the stat cache remembers it).
   */
  tracked(): Tracked[] {
    const stats = this.statCache();
    const out: Tracked[] = [];
    for (const p of gitListFiles(this.root, ['*.dvx', ':!:.dvx/**'])) {
      const dataPath = dataPathOf(p);
      if (dataPath === undefined) continue;
      const st = statSync(this.abs(p), { throwIfNoEntry: false });
      if (!st) continue;
      const known = st.isFile() ? stats.knownPointer(p, st) : undefined;
      if (known) {
        out.push({ pointerPath: p, dataPath, pointer: known });
        continue;
      }
      const t = this.readTracked(p);
      if (t.pointer && st.isFile()) stats.recordPointer(p, st, t.pointer);
      out.push(t);
    }
    stats.flush();
    return out;
  }

  /** Tracked paths at or under the given workspace paths (all when none given). */
  /**
   * The tracked entries that `paths` name or contain. A path inside a tracked
   * directory selects that directory, and `inner` keeps the path (relative to
   * the directory) for commands that can act on part of one; a directory also
   * named whole has no entry there.
   */
  trackedUnder(paths: string[]): { tracked: Tracked[]; unmatched: string[]; inner: Map<Tracked, string[]> } {
    const all = this.tracked();
    const inner = new Map<Tracked, string[]>();
    if (paths.length === 0) return { tracked: all, unmatched: [], inner };
    const whole = new Set<Tracked>();
    const unmatched: string[] = [];
    for (const p of paths) {
      const data = dataPathOf(p) ?? p;
      let hit = false;
      for (const t of all) {
        if (data === '' || t.dataPath === data || t.dataPath.startsWith(data + '/')) whole.add(t);
        else if (data.startsWith(t.dataPath + '/')) {
          const rel = data.slice(t.dataPath.length + 1);
          inner.set(t, [...(inner.get(t) ?? []), rel]);
        } else continue;
        hit = true;
      }
      if (!hit) unmatched.push(p);
    }
    for (const t of whole) inner.delete(t);
    return { tracked: all.filter((t) => whole.has(t) || inner.has(t)), unmatched, inner };
  }

  readTracked(pointerPath: string): Tracked {
    const dataPath = dataPathOf(pointerPath)!;
    let bytes: Buffer | undefined;
    try {
      bytes = readFileSync(this.abs(pointerPath));
      const pointer = decodePointer(bytes);
      const expected = dataPath.slice(dataPath.lastIndexOf('/') + 1);
      if (pointer.path !== expected) {
        // `git mv a.dvx b.dvx` keeps the old name inside: the data is the same, only the pointer needs rewriting.
        return {
          pointerPath,
          dataPath,
          error: new DvxError(
            'bad_pointer',
            `${pointerPath}: names ${JSON.stringify(pointer.path)} but sits beside ${JSON.stringify(expected)} (a renamed pointer file?)`,
            `once the data is at ${dataPath}, \`dvx add ${shellWord(dataPath)}\` rewrites the pointer under its new name (the data is stored already, so nothing new is stored); or move the pointer back`,
          ),
        };
      }
      return { pointerPath, dataPath, pointer };
    } catch (err) {
      return { pointerPath, dataPath, error: this.pointerError(pointerPath, dataPath, err, bytes) };
    }
  }

  private pointerError(pointerPath: string, dataPath: string, err: unknown, bytes: Buffer | undefined): DvxError {
    if (!(err instanceof FormatError)) return new DvxError('bad_pointer', `${pointerPath}: cannot read: ${(err as Error).message}`);
    // A merge that changed both sides leaves git's conflict markers (without merge=binary): name the conflict and its ways out.
    if (bytes && /^<{7} .*$[^]*^={7}$[^]*^>{7} /m.test(bytes.toString('utf8'))) {
      return pointerConflict(pointerPath, dataPath, { markers: true, unmerged: unmergedPointers(this.root).get(pointerPath) });
    }
    return new DvxError('bad_pointer', `${pointerPath}: ${err.message.replace(/^pointer file: /, '')}`, `restore it with \`git checkout -- ${shellWord(pointerPath)}\`, or re-add the data with \`dvx add ${shellWord(dataPath)}\``);
  }

  /** Writes the pointer of data just recorded (so the data is that version: StatCache.synced). */
  writePointer(dataPath: string, pointer: Pointer): string {
    const pointerPath = pointerPathOf(dataPath);
    writeFileAtomic(this.abs(pointerPath), encodePointer(pointer));
    this.statCache().recordSynced(dataPath, pointer.manifest);
    return pointerPath;
  }

  /**
   * A .gitignore line cannot hold a line break (there is no escape for one):
   * `/a\nb.csv` would ignore nothing it should, and `b.csv` everywhere. Such a
   * data path cannot be tracked; refuse it before anything is stored.
   */
  static assertIgnorable(dataPath: string): void {
    if (/[\r\n]/.test(dataPath)) throw new DvxError('bad_path', `${JSON.stringify(dataPath)}: a name with a line break cannot be listed in .gitignore, so git could not be told to leave the data alone`, 'rename it (files with such names inside a tracked directory are fine)');
  }

  /** Ensures git ignores a data path, with an anchored entry in the .gitignore of its directory; returns that .gitignore. */
  ignoreDataPath(dataPath: string): string {
    Workspace.assertIgnorable(dataPath);
    const slash = dataPath.lastIndexOf('/');
    const dir = slash < 0 ? '' : dataPath.slice(0, slash);
    const name = dataPath.slice(slash + 1);
    const entry = '/' + name.replace(/([\\*?[\]!# ])/g, '\\$1');
    const gitignore = dir ? `${dir}/.gitignore` : '.gitignore';
    appendLineOnce(this.abs(gitignore), entry);
    return gitignore;
  }

  isDirectory(path: string): boolean {
    try {
      return statSync(this.abs(path)).isDirectory();
    } catch {
      return false;
    }
  }
}
