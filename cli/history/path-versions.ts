import { DvxError } from '../../core/errors.ts';
import type { Pointer } from '../../core/pointer.ts';
import type { TreeEntry } from '../../core/tree-manifest.ts';
import { chunkSet } from '../cache/chunk-sets.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import type { CommitInfo, GitHistory, InvalidPointer, PointerChanges } from './git-history.ts';

/**
 * The versions of one data path across history, for `dvx log`: the commits,
 * newest first, in which what the path holds changed. The path is either
 * tracked itself (its own pointer) or lies inside a tracked directory, whose
 * tree manifest (from the local cache) says what the path holds there.
 */
export type PathState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'pointer'; readonly pointer: Pointer }
  /** entries: the directory's files at the path or under it (paths relative to the directory) */
  | { readonly kind: 'inside'; readonly dir: string; readonly rel: string; readonly entries: readonly TreeEntry[] }
  /** the path's pointer file, or its directory's, does not decode: what it held there is unknown */
  | { readonly kind: 'invalid'; readonly bad: InvalidPointer }
  /** inside a directory whose tree manifest is not in the local cache */
  | { readonly kind: 'unknown'; readonly dir: string; readonly manifest: string };

export interface PathVersion {
  readonly commit: CommitInfo;
  /** what the path holds in this commit; unknown also when the parent's is, and so whether this commit changed it */
  readonly state: PathState;
  /** what it held in the commit's first parent; undefined at a shallow clone's boundary, whose parents are not here */
  readonly prev: PathState | undefined;
}

export interface PathLog {
  readonly versions: PathVersion[];
  /** the boundary commits of a shallow clone the walk reached: the history before them is not in this repository */
  readonly boundary: string[];
}

type Lookup = (path: string) => Pointer | InvalidPointer | undefined;

const isInvalid = (p: Pointer | InvalidPointer): p is InvalidPointer => 'reason' in p;

/** The directories a path lies in, nearest first: "a/b/c" → "a/b", "a". */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) out.push(path.slice(0, i));
  return out;
}

export class PathHistory {
  private readonly trees = new Map<string, readonly TreeEntry[] | undefined>();
  private readonly watched: string[];

  constructor(
    private readonly history: GitHistory,
    private readonly cache: LocalCache,
    readonly dataPath: string,
  ) {
    this.watched = [dataPath, ...ancestors(dataPath)];
  }

  /**
   * The commits reachable from `tip` that change what the path holds, newest
   * first, at most `limit`. A shallow clone's boundary commit is listed when
   * the path is there: the oldest version in sight, though whether that
   * commit changed it is unknown.
   */
  async versions(tip: string, limit = Infinity): Promise<PathLog> {
    const out: PathVersion[] = [];
    const boundary: string[] = [];
    for (const c of await this.history.ancestry([tip])) {
      if (out.length >= limit) break;
      if (c.shallow) boundary.push(c.sha);
      const ch = await this.history.changes(c.parents[0], c.sha);
      if (c.shallow) {
        const state = this.stateIn(lookupIn(ch));
        if (state.kind !== 'absent') out.push({ commit: c, state, prev: undefined });
        continue;
      }
      if (!this.watched.some((p) => ch.set.has(p) || ch.invalid.has(p) || ch.removed.includes(p))) continue;
      const before = c.parents[0] ? lookupIn(await this.history.allAt(c.parents[0])) : () => undefined;
      const after: Lookup = (p) => ch.set.get(p) ?? ch.invalid.get(p) ?? (ch.removed.includes(p) ? undefined : before(p));
      const prev = this.stateIn(before);
      const state = this.stateIn(after);
      if (key(prev) === key(state)) continue;
      // Without the parent's tree manifest, a directory's change may have left the path as it was.
      const sure = prev.kind !== 'unknown' || (state.kind !== 'inside' && state.kind !== 'absent');
      out.push({ commit: c, state: sure ? state : prev, prev });
    }
    return { versions: out, boundary };
  }

  /** The chunks (id → length) of what a state holds; undefined when that is not known from the cache. */
  chunks(s: PathState | undefined): Map<string, number> | undefined {
    if (s === undefined) return undefined;
    if (s.kind === 'absent') return new Map();
    if (s.kind === 'pointer') return chunkSet(this.cache, s.pointer);
    if (s.kind !== 'inside') return undefined;
    const out = new Map<string, number>();
    for (const e of s.entries) {
      const part = chunkSet(this.cache, { type: 'file', manifest: e.manifest });
      if (!part) return undefined;
      for (const [id, len] of part) out.set(id, len);
    }
    return out;
  }

  private stateIn(lookup: Lookup): PathState {
    const own = lookup(this.dataPath);
    if (own) return isInvalid(own) ? { kind: 'invalid', bad: own } : { kind: 'pointer', pointer: own };
    for (const dir of this.watched.slice(1)) {
      const p = lookup(dir);
      if (!p) continue;
      if (isInvalid(p)) return { kind: 'invalid', bad: p };
      if (p.type !== 'dir') return { kind: 'absent' };
      const all = this.tree(p.manifest);
      if (!all) return { kind: 'unknown', dir, manifest: p.manifest };
      const rel = this.dataPath.slice(dir.length + 1);
      const entries = all.filter((e) => e.path === rel || e.path.startsWith(rel + '/'));
      return entries.length > 0 ? { kind: 'inside', dir, rel, entries } : { kind: 'absent' };
    }
    return { kind: 'absent' };
  }

  private tree(manifest: string): readonly TreeEntry[] | undefined {
    if (!this.trees.has(manifest)) {
      try {
        this.trees.set(manifest, this.cache.treeManifest(manifest).entries);
      } catch (err) {
        if (!(err instanceof DvxError && err.code === 'not_in_cache')) throw err;
        this.trees.set(manifest, undefined);
      }
    }
    return this.trees.get(manifest);
  }
}

function lookupIn(all: PointerChanges): Lookup {
  return (p) => all.set.get(p) ?? all.invalid.get(p);
}

/** Equal for states that hold the same thing; an unknown state equals only the same unknown manifest. */
function key(s: PathState): string {
  switch (s.kind) {
    case 'absent':
      return 'absent';
    case 'pointer':
      return `pointer ${s.pointer.manifest}`;
    case 'inside':
      return `inside ${s.entries.map((e) => `${e.path}\0${e.mode}\0${e.sha256}`).join('\0')}`;
    case 'invalid':
      return `invalid ${s.bad.pointerPath}\0${s.bad.blob}`;
    case 'unknown':
      return `unknown ${s.manifest}`;
  }
}
