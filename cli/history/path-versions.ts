import type { Pointer } from '../../core/pointer.ts';
import { chunkSet } from '../cache/chunk-sets.ts';
import type { LocalCache } from '../cache/local-cache.ts';
import type { CommitInfo, GitHistory, InvalidPointer, PointerChanges } from './git-history.ts';

/**
 * The versions of one data path across history, for `dvx log`: the commits,
 * newest first, in which what the path holds changed.
 */
export type PathState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'pointer'; readonly pointer: Pointer }
  /** the path's pointer file does not decode: what it held there is unknown */
  | { readonly kind: 'invalid'; readonly bad: InvalidPointer };

export interface PathVersion {
  readonly commit: CommitInfo;
  /** what the path holds in this commit */
  readonly state: PathState;
  /** what it held in the commit's first parent */
  readonly prev: PathState;
}

type Lookup = (path: string) => Pointer | InvalidPointer | undefined;

const isInvalid = (p: Pointer | InvalidPointer): p is InvalidPointer => 'reason' in p;

export class PathHistory {
  constructor(
    private readonly history: GitHistory,
    private readonly cache: LocalCache,
    readonly dataPath: string,
  ) {}

  /** The commits reachable from `tip` that change what the path holds, newest first, at most `limit`. */
  async versions(tip: string, limit = Infinity): Promise<PathVersion[]> {
    const out: PathVersion[] = [];
    const p = this.dataPath;
    for (const c of await this.history.ancestry([tip])) {
      if (out.length >= limit) break;
      const ch = await this.history.changes(c.parents[0], c.sha);
      if (!ch.set.has(p) && !ch.invalid.has(p) && !ch.removed.includes(p)) continue;
      const before = c.parents[0] ? lookupIn(await this.history.allAt(c.parents[0])) : () => undefined;
      const after: Lookup = (p) => ch.set.get(p) ?? ch.invalid.get(p) ?? (ch.removed.includes(p) ? undefined : before(p));
      const prev = this.stateIn(before);
      const state = this.stateIn(after);
      if (key(prev) !== key(state)) out.push({ commit: c, state, prev });
    }
    return out;
  }

  /** The chunks (id → length) of what a state holds; undefined when that is not known from the cache. */
  chunks(s: PathState): Map<string, number> | undefined {
    if (s.kind === 'absent') return new Map();
    if (s.kind === 'pointer') return chunkSet(this.cache, s.pointer);
    return undefined;
  }

  private stateIn(lookup: Lookup): PathState {
    const own = lookup(this.dataPath);
    if (own) return isInvalid(own) ? { kind: 'invalid', bad: own } : { kind: 'pointer', pointer: own };
    return { kind: 'absent' };
  }
}

function lookupIn(all: PointerChanges): Lookup {
  return (p) => all.set.get(p) ?? all.invalid.get(p);
}

/** Equal for states that hold the same thing. */
function key(s: PathState): string {
  switch (s.kind) {
    case 'absent':
      return 'absent';
    case 'pointer':
      return `pointer ${s.pointer.manifest}`;
    case 'invalid':
      return `invalid ${s.bad.pointerPath}\0${s.bad.reason}`;
  }
}
