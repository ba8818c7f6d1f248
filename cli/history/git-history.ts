import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { PromiseFsClient } from 'isomorphic-git';
import { DvxError, FormatError } from '../../core/errors.ts';
import { dataPathOf, decodePointer, type Pointer } from '../../core/pointer.ts';
import { gitSync } from '../git.ts';
import { diffPointerFilesWithContents, listIndexPointerFiles, listPointerFiles, parseCommit, readBlobs, readObjects, revList, type ParsedCommit } from './git-batch.ts';
import { gitFs, type GitFs } from './git-fs.ts';

/**
 * Reads git history with isomorphic-git, without spawning git: commits, and the
 * dvx pointers each commit contains. Read-only: isomorphic-git runs no hooks and
 * must never write a repository the git CLI may be writing.
 *
 * Trees are compared by object id, so finding what changed between two commits
 * touches only the subtrees that differ; trees are read and pointer blobs
 * decoded once per object id. One isomorphic-git cache and one file system
 * (./git-fs.ts) serve every read, so walking a thousand commits costs little
 * more than inflating the objects that changed.
 */
export interface CommitInfo {
  readonly sha: string;
  /**
   * The parents in this repository: none for a commit at the boundary of a
   * shallow clone (git's own view of it), so a walk stops there as at a root.
   */
  readonly parents: readonly string[];
  /** The parents the commit object names, here or not: what a record of the commit says. */
  readonly objectParents: readonly string[];
  /** At the boundary of a shallow clone: the history before it is not in this repository. */
  readonly shallow: boolean;
  readonly tree: string;
  readonly message: string;
  readonly author: Person;
  readonly committer: Person;
}

export interface Person {
  readonly name: string;
  readonly email: string;
  /** seconds since the epoch */
  readonly time: number;
  /** "+0100" */
  readonly tz: string;
}

export interface PointerChanges {
  /** data path → pointer, for pointers added or changed */
  readonly set: Map<string, Pointer>;
  /** data paths whose pointer was removed */
  readonly removed: string[];
  /**
   * data path → a pointer file added or changed that does not decode. Only
   * filled when the history was opened with `invalidPointers: 'report'`;
   * otherwise such a file is an error.
   */
  readonly invalid: Map<string, InvalidPointer>;
}

/** A pointer file in a commit that is not a valid pointer (a hand edit, or a merge committed with its conflict markers). */
export interface InvalidPointer {
  readonly commit: string;
  readonly pointerPath: string;
  /** git blob id of the file: the same id in two commits is the same bytes */
  readonly blob: string;
  /** what the decoder found wrong */
  readonly reason: string;
}

export interface HistoryOptions {
  /**
   * What an invalid pointer file in a commit does: 'throw' (the default) makes
   * the read fail; 'report' lists it in PointerChanges.invalid, for commands
   * that can carry on without it. History cannot be fixed, only added to, so
   * a command that reads old commits must not be stopped by one bad file.
   */
  readonly invalidPointers?: 'throw' | 'report';
}

/** Why a blob is not a valid pointer, remembered per blob id like a decoded pointer. */
interface BadBlob {
  readonly reason: string;
}

const ZERO = /^0+$/;

/** For a revision not found in a shallow clone: it may be in the history the clone left out. */
export const UNSHALLOW_HINT = "if it is older than this shallow clone's history, `git fetch --unshallow` gets that history";

// Loaded on first use: pre-push reads history with git plumbing only, and half a
// megabyte of isomorphic-git costs every hook start ~40 ms to compile.
let isoGitModule: Promise<typeof import('isomorphic-git').default> | undefined;
function isoGit(): Promise<typeof import('isomorphic-git').default> {
  isoGitModule ??= import('isomorphic-git').then((m) => m.default);
  return isoGitModule;
}

export class GitHistory {
  private readonly cache = {};
  private readonly commits = new Map<string, CommitInfo>();
  private readonly pointerBlobs = new Map<string, Pointer | BadBlob>();
  private readonly trees = new Map<string, Promise<string[]>>();
  private readonly fs: GitFs & PromiseFsClient;

  private shallowCommits: Set<string> | undefined;

  private constructor(
    readonly dir: string,
    readonly gitdir: string,
    private readonly shallowFile: string,
    private readonly opts: HistoryOptions,
  ) {
    this.fs = gitFs(gitdir);
  }

  static open(root: string, opts: HistoryOptions = {}): GitHistory {
    const [gitdir, shallow] = gitSync(root, ['rev-parse', '--git-dir', '--git-path', 'shallow']).trim().split('\n').map((p) => (isAbsolute(p) ? p : join(root, p)));
    return new GitHistory(root, gitdir!, shallow!, opts);
  }

  /**
   * The boundary commits of a shallow clone (empty in a full one): git lists
   * them in `shallow` (in the common git directory, so --git-path) and treats
   * them as roots; their parents are not in the repository. isomorphic-git
   * does not read that file, so GitHistory cuts their parents itself.
   */
  private get shallow(): Set<string> {
    if (!this.shallowCommits) {
      let text = '';
      try {
        text = readFileSync(this.shallowFile, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.shallowCommits = new Set(text.split('\n').filter((l) => /^[0-9a-f]{40,64}$/.test(l)));
    }
    return this.shallowCommits;
  }

  /** Whether this is a shallow clone: history stops at some commits, and `git fetch --unshallow` gets the rest. */
  isShallow(): boolean {
    return this.shallow.size > 0;
  }

  private get base() {
    return { fs: this.fs, dir: this.dir, gitdir: this.gitdir, cache: this.cache };
  }

  /**
   * Runs an isomorphic-git read; if the object is not found, the file system's
   * remembered listings may predate a write by git (a new pack, a loose
   * object): forget them and try once more.
   */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== 'NotFoundError') throw err;
      this.fs.forget();
      return fn();
    } finally {
      this.enableDeltaCache();
    }
  }

  private readonly packsSeen = new WeakSet<object>();

  /**
   * isomorphic-git keeps inflated pack objects (delta bases) only once a
   * pack's `readDepth` counter passes 3, but a pack opened from its .idx never
   * gets that counter set (undefined + 1 is NaN): every read then inflates the
   * object's whole delta chain again (a fast-import pack of 1,000 commits: 110,000
   * inflates for 6,000 objects). Start the counter of every pack in our cache.
   * If a later isomorphic-git keeps its packs elsewhere, this finds nothing.
   */
  private enableDeltaCache(): void {
    for (const sym of Object.getOwnPropertySymbols(this.cache)) {
      const packs = (this.cache as Record<symbol, unknown>)[sym];
      if (!(packs instanceof Map)) continue;
      for (const pending of packs.values()) {
        if (!pending || this.packsSeen.has(pending)) continue;
        this.packsSeen.add(pending);
        void Promise.resolve(pending).then(
          (p: { readDepth?: number; offsetCache?: unknown } | undefined) => {
            if (p && typeof p === 'object' && 'offsetCache' in p && !(Number(p.readDepth) >= 0)) p.readDepth = 0;
          },
          () => undefined,
        );
      }
    }
  }

  /**
   * A tree's entries, read once per object id, as raw strings (the entry's
   * bytes as latin1: mode, name, object id): two equal strings are the same
   * entry, so comparing two trees needs no decoding of the entries they share.
   */
  private rawTree(oid: string): Promise<string[]> {
    let t = this.trees.get(oid);
    if (!t) {
      t = this.read(async () => (await isoGit()).readObject({ ...this.base, oid, format: 'content' })).then((r) => {
        if (r.type !== 'tree') throw new DvxError('bad_tree', `git object ${oid} is a ${r.type}, not a tree`);
        return splitTree(r.object as Uint8Array, oid.length / 2);
      });
      t.catch(() => this.trees.delete(oid));
      this.trees.set(oid, t);
    }
    return t;
  }

  static isZero(sha: string): boolean {
    return ZERO.test(sha);
  }

  /**
   * The commit a revision names (any syntax git accepts: branches, tags, shas,
   * HEAD~2, main@{yesterday}); undefined if none. Revision parsing is git's
   * own, read-only, so it is asked of the git CLI.
   */
  async resolve(rev: string): Promise<string | undefined> {
    if (rev.startsWith('-')) return undefined;
    const out = gitSync(this.dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { allowFail: true }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : undefined;
  }

  async commit(sha: string): Promise<CommitInfo> {
    let c = this.commits.get(sha);
    if (c) return c;
    const { commit } = await this.read(async () => (await isoGit()).readCommit({ ...this.base, oid: sha }));
    c = toCommitInfo(sha, { ...commit, parents: commit.parent }, this.shallow.has(sha));
    this.commits.set(sha, c);
    return c;
  }

  /** Every pointer in a commit, by data path. */
  async pointersAt(sha: string): Promise<Map<string, Pointer>> {
    return (await this.allAt(sha)).set;
  }

  /** Every pointer file in a commit: the valid ones in `set`, the others (when reported) in `invalid`. */
  async allAt(sha: string): Promise<PointerChanges> {
    return (await this.changesMany([{ from: undefined, to: sha }]))[0]!;
  }

  /**
   * What changes(from, to) answers, for many pairs at once, with two git
   * plumbing commands in all (./git-batch.ts) instead of a tree walk per pair:
   * pre-push asks this for every commit it sends. A pair without `from`
   * lists every pointer of `to`.
   */
  async changesMany(pairs: readonly { from: string | undefined; to: string }[]): Promise<PointerChanges[]> {
    const withBase = pairs.filter((p): p is { from: string; to: string } => p.from !== undefined);
    const { changes: diffs, contents } = await diffPointerFilesWithContents(this.dir, withBase, (blob) => this.pointerBlobs.has(blob));
    let d = 0;
    const files = pairs.map((p) => (p.from === undefined ? listPointerFiles(this.dir, p.to).map(([path, blob]) => ({ path, blob })) : diffs[d++]!));
    const unread = new Set<string>();
    for (const list of files) for (const f of list) if (f.blob && !this.pointerBlobs.has(f.blob) && !contents.has(f.blob)) unread.add(f.blob);
    for (const [id, bytes] of readBlobs(this.dir, [...unread])) contents.set(id, bytes);
    return files.map((list, i) => {
      const out: PointerChanges = { set: new Map(), removed: [], invalid: new Map() };
      for (const f of list) {
        const data = dataPathOf(f.path)!;
        if (f.blob === undefined) out.removed.push(data);
        else this.record(out, data, f.path, pairs[i]!.to, f.blob, this.decodeOnce(f.blob, () => contents.get(f.blob!)!));
      }
      return out;
    });
  }

  /** Pointers added, changed or removed from one commit to another (either may be undefined: empty). */
  async changes(from: string | undefined, to: string): Promise<PointerChanges> {
    const a = from ? (await this.commit(from)).tree : undefined;
    const b = (await this.commit(to)).tree;
    const result: PointerChanges = { set: new Map(), removed: [], invalid: new Map() };
    await this.diffTrees(a, b, '', result, to);
    return result;
  }

  private async diffTrees(a: string | undefined, b: string | undefined, prefix: string, out: PointerChanges, commit: string): Promise<void> {
    if (a === b) return;
    const ra = a ? await this.rawTree(a) : [];
    const rb = b ? await this.rawTree(b) : [];
    // Entries present, byte for byte, on both sides did not change: decode only the rest.
    const inA = new Set(ra);
    const inB = new Set(rb);
    const ea = new Map(ra.filter((e) => !inB.has(e)).map((e) => decodeEntry(e)).map((e) => [e.path, e]));
    const eb = new Map(rb.filter((e) => !inA.has(e)).map((e) => decodeEntry(e)).map((e) => [e.path, e]));
    for (const name of new Set([...ea.keys(), ...eb.keys()])) {
      if (prefix === '' && name === '.dvx') continue;
      const x = ea.get(name);
      const y = eb.get(name);
      if (x?.oid === y?.oid && x?.type === y?.type) continue;
      const path = prefix + name;
      const xTree = x?.type === 'tree' ? x.oid : undefined;
      const yTree = y?.type === 'tree' ? y.oid : undefined;
      if (xTree || yTree) await this.diffTrees(xTree, yTree, `${path}/`, out, commit);
      const data = dataPathOf(path);
      if (data === undefined) continue;
      const yPointer = y?.type === 'blob' ? y.oid : undefined;
      if (yPointer) this.record(out, data, path, commit, yPointer, await this.pointer(yPointer));
      else if (x?.type === 'blob') out.removed.push(data);
    }
  }

  private async pointer(blob: string): Promise<Pointer | BadBlob> {
    const p = this.pointerBlobs.get(blob);
    if (p) return p;
    const { blob: bytes } = await this.read(async () => (await isoGit()).readBlob({ ...this.base, oid: blob }));
    return this.decodeOnce(blob, () => bytes);
  }

  /** A pointer blob decoded once per blob id; one that does not decode, with the decoder's reason. */
  private decodeOnce(blob: string, bytes: () => Uint8Array): Pointer | BadBlob {
    let p = this.pointerBlobs.get(blob);
    if (p) return p;
    try {
      p = decodePointer(bytes());
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      p = { reason: err.message.replace(/^pointer file: /, '') };
    }
    this.pointerBlobs.set(blob, p);
    return p;
  }

  private record(out: PointerChanges, data: string, path: string, commit: string, blob: string, p: Pointer | BadBlob): void {
    if (!('reason' in p)) {
      out.set.set(data, p);
      return;
    }
    if (this.opts.invalidPointers !== 'report') throw new DvxError('bad_pointer', `commit ${commit.slice(0, 10)}: ${path} is not a valid pointer: ${p.reason}`, 'fix the pointer in a new commit (`dvx add` rewrites it)');
    out.invalid.set(data, { commit, pointerPath: path, blob, reason: p.reason });
  }

  /**
   * Commits reachable from `tips`, parents before children, not descending into
   * commits for which `stop` (asked in batches) answers true.
   *
   * git walks the graph (`git rev-list --parents`, streamed); every `batch`
   * commits, `stop` is asked about them, and a known commit's ancestors are
   * cut off (they were recorded before it). The walk ends once no commit
   * found so far has a parent that is neither listed nor cut off. Then the
   * commits found are read in one `git cat-file --batch`.
   */
  async newCommits(tips: readonly string[], stop: (shas: string[]) => Promise<Set<string>>, batch = 500): Promise<CommitInfo[]> {
    const start = [...new Set(tips)].filter((t) => !GitHistory.isZero(t));
    if (start.length === 0) return [];
    const parentsOf = new Map<string, string[]>();
    const order: string[] = [];
    const cut = new Set<string>();
    // parents of listed, not cut commits that are not listed yet: while any remain, the walk goes on
    const open = new Set<string>(start);
    const markCut = (sha: string) => {
      const stack = [sha];
      while (stack.length) {
        const s = stack.pop()!;
        if (cut.has(s)) continue;
        cut.add(s);
        open.delete(s);
        stack.push(...(parentsOf.get(s) ?? []));
      }
    };
    let pending: string[] = [];
    const ask = async () => {
      const shas = pending.filter((s) => !cut.has(s));
      pending = [];
      if (shas.length > 0) for (const s of await stop(shas)) markCut(s);
    };
    const walk = revList(this.dir, start);
    try {
      for await (const [sha, parents] of walk.lines) {
        if (parentsOf.has(sha)) continue;
        parentsOf.set(sha, parents);
        order.push(sha);
        open.delete(sha);
        if (cut.has(sha)) {
          for (const p of parents) markCut(p);
        } else {
          for (const p of parents) if (!parentsOf.has(p) && !cut.has(p)) open.add(p);
          pending.push(sha);
          if (pending.length >= batch) await ask();
        }
        if (open.size === 0) {
          await ask();
          if (open.size === 0) break;
        }
      }
      await ask();
    } finally {
      walk.stop();
    }
    const found = order.filter((s) => !cut.has(s));
    const objects = readObjects(this.dir, found.filter((s) => !this.commits.has(s)));
    for (const [sha, o] of objects) {
      if (o.type !== 'commit') throw new DvxError('bad_commit', `git object ${sha} is a ${o.type}, not a commit`);
      this.commits.set(sha, toCommitInfo(sha, parseCommit(sha, o.bytes), this.shallow.has(sha)));
    }
    return topoOrder(found.map((s) => this.commits.get(s)!));
  }

  /**
   * The pointers staged in git's index, every stage of a conflicted path
   * included (they may differ from the working tree's pointer files): the
   * valid ones in `pointers`, the others in `invalid`.
   */
  indexPointers(): { pointers: { pointerPath: string; pointer: Pointer }[]; invalid: { pointerPath: string; blob: string; reason: string }[] } {
    const files = listIndexPointerFiles(this.dir);
    const contents = readBlobs(this.dir, [...new Set(files.map(([, blob]) => blob).filter((b) => !this.pointerBlobs.has(b)))]);
    const out: ReturnType<GitHistory['indexPointers']> = { pointers: [], invalid: [] };
    for (const [pointerPath, blob] of files) {
      const p = this.decodeOnce(blob, () => contents.get(blob)!);
      if ('reason' in p) out.invalid.push({ pointerPath, blob, reason: p.reason });
      else out.pointers.push({ pointerPath, pointer: p });
    }
    return out;
  }

  /**
   * Commits reachable from `tips`, newest first by committer time; in a
   * shallow clone, down to its boundary. A commit that cannot be read fails
   * the walk: skipping it would hide all history before it, and gc would
   * delete the data that history names.
   */
  async ancestry(tips: readonly string[], limit = Infinity): Promise<CommitInfo[]> {
    const seen = new Set<string>();
    const out: CommitInfo[] = [];
    const queue = [...tips];
    while (queue.length && out.length < limit) {
      const sha = queue.pop()!;
      if (seen.has(sha)) continue;
      seen.add(sha);
      let c: CommitInfo;
      try {
        c = await this.commit(sha);
      } catch (err) {
        if ((err as { code?: string }).code !== 'NotFoundError') throw err;
        throw new DvxError('missing_commit', `git commit ${sha} is not in the repository, though a later commit or a ref names it`, '`git fsck` says what else is missing; fetch it again from a clone that has it');
      }
      out.push(c);
      queue.push(...c.parents);
    }
    return out.sort((a, b) => b.committer.time - a.committer.time);
  }
}

interface RawTreeEntry {
  readonly path: string;
  readonly type: 'tree' | 'blob' | 'commit';
  readonly oid: string;
}

/** A tree object's entries ("<mode> <name>\0<id bytes>" each) as latin1 strings, in order. */
function splitTree(bytes: Uint8Array, idBytes: number): string[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  for (let i = 0; i < buf.length; ) {
    const nul = buf.indexOf(0, i);
    if (nul < 0 || nul + 1 + idBytes > buf.length) throw new DvxError('bad_tree', 'a git tree object is truncated');
    const end = nul + 1 + idBytes;
    out.push(buf.toString('latin1', i, end));
    i = end;
  }
  return out;
}

function decodeEntry(raw: string): RawTreeEntry {
  const sp = raw.indexOf(' ');
  const nul = raw.indexOf('\0', sp);
  const mode = raw.slice(0, sp);
  const type = mode === '40000' || mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
  return { path: Buffer.from(raw.slice(sp + 1, nul), 'latin1').toString('utf8'), type, oid: Buffer.from(raw.slice(nul + 1), 'latin1').toString('hex') };
}

/** Parents before children (Kahn's algorithm over the commits given). */
function topoOrder(commits: CommitInfo[]): CommitInfo[] {
  const bySha = new Map(commits.map((c) => [c.sha, c]));
  const pending = new Map(commits.map((c) => [c.sha, c.parents.filter((p) => bySha.has(p)).length]));
  const children = new Map<string, string[]>();
  for (const c of commits) for (const p of c.parents) if (bySha.has(p)) children.set(p, [...(children.get(p) ?? []), c.sha]);
  const ready = commits.filter((c) => pending.get(c.sha) === 0).sort((a, b) => a.committer.time - b.committer.time);
  const out: CommitInfo[] = [];
  while (ready.length) {
    const c = ready.shift()!;
    out.push(c);
    for (const ch of children.get(c.sha) ?? []) {
      const n = pending.get(ch)! - 1;
      pending.set(ch, n);
      if (n === 0) ready.push(bySha.get(ch)!);
    }
  }
  return out;
}

/** `shallow`: the commit is at a shallow clone's boundary, so it has no parents here. */
function toCommitInfo(sha: string, c: Pick<ParsedCommit, 'tree' | 'parents' | 'message' | 'author' | 'committer'>, shallow: boolean): CommitInfo {
  const person = (p: ParsedCommit['author']): Person => ({ name: p.name, email: p.email, time: p.timestamp, tz: formatTz(p.timezoneOffset) });
  return { sha, parents: shallow ? [] : c.parents, objectParents: c.parents, shallow, tree: c.tree, message: c.message, author: person(c.author), committer: person(c.committer) };
}

function formatTz(offsetMinutes: number): string {
  // isomorphic-git gives minutes *behind* UTC (like Date#getTimezoneOffset).
  const m = -offsetMinutes;
  const sign = m < 0 ? '-' : '+';
  const abs = Math.abs(m);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}
