import { isAbsolute, join } from 'node:path';
import git, { type PromiseFsClient } from 'isomorphic-git';
import { DvxError, FormatError } from '../../core/errors.ts';
import { dataPathOf, decodePointer, type Pointer } from '../../core/pointer.ts';
import { gitSync } from '../git.ts';
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
  readonly parents: readonly string[];
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
}

const ZERO = /^0+$/;

export class GitHistory {
  private readonly cache = {};
  private readonly commits = new Map<string, CommitInfo>();
  private readonly pointerBlobs = new Map<string, Pointer>();
  private readonly treePointers = new Map<string, ReadonlyArray<readonly [string, string]>>();
  private readonly trees = new Map<string, Promise<string[]>>();
  private readonly fs: GitFs & PromiseFsClient;

  private constructor(readonly dir: string, readonly gitdir: string) {
    this.fs = gitFs(gitdir);
  }

  static open(root: string): GitHistory {
    const raw = gitSync(root, ['rev-parse', '--git-dir']).trim();
    return new GitHistory(root, isAbsolute(raw) ? raw : join(root, raw));
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
      t = this.read(() => git.readObject({ ...this.base, oid, format: 'content' })).then((r) => {
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
    const { commit } = await this.read(() => git.readCommit({ ...this.base, oid: sha }));
    const person = (p: { name: string; email: string; timestamp: number; timezoneOffset: number }): Person => ({ name: p.name, email: p.email, time: p.timestamp, tz: formatTz(p.timezoneOffset) });
    c = { sha, parents: commit.parent, tree: commit.tree, message: commit.message, author: person(commit.author), committer: person(commit.committer) };
    this.commits.set(sha, c);
    return c;
  }

  /** Every pointer in a commit, by data path. */
  async pointersAt(sha: string): Promise<Map<string, Pointer>> {
    const c = await this.commit(sha);
    const out = new Map<string, Pointer>();
    for (const [path, blob] of await this.pointerEntries(c.tree, '')) {
      out.set(dataPathOf(path)!, await this.pointer(blob, path, sha));
    }
    return out;
  }

  /** Pointer files under a tree: [path relative to the tree, blob id]. */
  private async pointerEntries(tree: string, at: string): Promise<ReadonlyArray<readonly [string, string]>> {
    const cached = this.treePointers.get(tree);
    if (cached) return cached;
    const out: [string, string][] = [];
    for (const e of (await this.rawTree(tree)).map(decodeEntry)) {
      if (e.type === 'tree') {
        if (at === '' && e.path === '.dvx') continue;
        for (const [p, b] of await this.pointerEntries(e.oid, `${at}${e.path}/`)) out.push([`${e.path}/${p}`, b]);
      } else if (e.type === 'blob' && dataPathOf(e.path) !== undefined) {
        out.push([e.path, e.oid]);
      }
    }
    this.treePointers.set(tree, out);
    return out;
  }

  /** Pointers added, changed or removed from one commit to another (either may be undefined: empty). */
  async changes(from: string | undefined, to: string): Promise<PointerChanges> {
    const a = from ? (await this.commit(from)).tree : undefined;
    const b = (await this.commit(to)).tree;
    const result: PointerChanges = { set: new Map(), removed: [] };
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
      if (yPointer) out.set.set(data, await this.pointer(yPointer, path, commit));
      else if (x?.type === 'blob') out.removed.push(data);
    }
  }

  private async pointer(blob: string, path: string, commit: string): Promise<Pointer> {
    let p = this.pointerBlobs.get(blob);
    if (p) return p;
    const { blob: bytes } = await this.read(() => git.readBlob({ ...this.base, oid: blob }));
    try {
      p = decodePointer(bytes);
    } catch (err) {
      if (err instanceof FormatError) throw new DvxError('bad_pointer', `commit ${commit.slice(0, 10)}: ${path} is not a valid pointer: ${err.message.replace(/^pointer file: /, '')}`, 'fix the pointer in a new commit (`dvx add` rewrites it)');
      throw err;
    }
    this.pointerBlobs.set(blob, p);
    return p;
  }

  /**
   * Commits reachable from `tips`, parents before children, not descending into
   * commits for which `stop` (asked in batches) answers true.
   */
  async newCommits(tips: readonly string[], stop: (shas: string[]) => Promise<Set<string>>, batch = 500): Promise<CommitInfo[]> {
    const found = new Map<string, CommitInfo>();
    const seen = new Set<string>();
    let frontier = [...new Set(tips)].filter((t) => !GitHistory.isZero(t));
    while (frontier.length > 0) {
      // Read ahead up to `batch` commits before asking which are already known.
      const layer: CommitInfo[] = [];
      const queue = [...frontier];
      frontier = [];
      while (queue.length > 0 && layer.length < batch) {
        const sha = queue.shift()!;
        if (seen.has(sha)) continue;
        seen.add(sha);
        let c: CommitInfo;
        try {
          c = await this.commit(sha);
        } catch {
          continue; // outside a shallow clone's history: nothing to send
        }
        layer.push(c);
        queue.push(...c.parents);
      }
      frontier.push(...queue);
      const known = await stop(layer.map((c) => c.sha));
      // A known commit's ancestors were recorded before it: cut them off.
      const cut = new Set<string>();
      const mark = (sha: string) => {
        const stack = [sha];
        while (stack.length) {
          const s = stack.pop()!;
          if (cut.has(s)) continue;
          cut.add(s);
          const c = this.commits.get(s);
          if (c) stack.push(...c.parents);
        }
      };
      for (const s of known) mark(s);
      for (const c of layer) if (!cut.has(c.sha)) found.set(c.sha, c);
      frontier = frontier.filter((s) => !cut.has(s));
      for (const s of cut) found.delete(s);
    }
    return topoOrder([...found.values()]);
  }

  /** Branches and tags of the local repository, with the commits they name. */
  async localRefs(): Promise<{ name: string; sha: string }[]> {
    const out: { name: string; sha: string }[] = [];
    for (const b of await git.listBranches({ ...this.base })) out.push({ name: `refs/heads/${b}`, sha: (await this.resolve(`refs/heads/${b}`))! });
    for (const t of await git.listTags({ ...this.base })) {
      const sha = await this.resolve(`refs/tags/${t}`).catch(() => undefined);
      if (sha) out.push({ name: `refs/tags/${t}`, sha });
    }
    return out;
  }

  /** Commits reachable from `tips`, newest first by committer time. */
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
      } catch {
        continue;
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

function formatTz(offsetMinutes: number): string {
  // isomorphic-git gives minutes *behind* UTC (like Date#getTimezoneOffset).
  const m = -offsetMinutes;
  const sign = m < 0 ? '-' : '+';
  const abs = Math.abs(m);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}
