import type { Dataset, DatasetVersion } from '../../core/protocol.ts';
import type { Db } from './database.ts';

/**
 * Commit records, refs and dataset history of each repository (docs/protocol.md
 * "Commit records" and "Dataset history"), in the tables of migration 2.
 *
 * A commit stores only what changed relative to its recorded first parent
 * (commit_changes); the datasets at a commit are the nearest snapshot on its
 * first-parent chain plus the changes after it. A snapshot is written for a
 * commit without a recorded first parent, and whenever the chain since the
 * last one grows past SNAPSHOT_MAX_CHAIN commits or past as many change rows
 * as the commit has datasets: so reading the datasets at any commit costs at
 * most about twice its dataset count in rows (plus one short query per commit
 * of the chain), and a repository with 10,000 paths and one change per commit
 * stores about 10,000 / 500 = 20 rows per commit, not 10,000.
 *
 * This module is the storage only; validating a request and computing the
 * bytes each version adds happen in server/store/commit-recorder.ts.
 */
export const SNAPSHOT_MAX_CHAIN = 500;
const SNAPSHOT_MIN_ROWS = 256;

export interface Person {
  name: string;
  email: string;
  time: number;
  tz: string;
}

/** A commit as stored, without its datasets. */
export interface CommitMeta {
  readonly cid: number;
  readonly sha: string;
  readonly baseParent: number | null;
  readonly snapshot: number;
  readonly chainLen: number;
  readonly chainRows: number;
  readonly datasets: number;
  readonly metaHash: Buffer;
  readonly stateDigest: Buffer;
  readonly committerTime: number;
}

export interface CommitDetails {
  sha: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
  datasets: number;
}

/** What a ref name resolved to. */
export type Resolution =
  | { kind: 'commit'; cid: number; sha: string; via: 'ref' | 'sha'; name: string }
  | { kind: 'none' }
  | { kind: 'ambiguous'; candidates: string[] };

/** One change of one path at a commit: a version, or null when the path was removed. */
export interface NewCommit {
  sha: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
  /** the recorded first parent the changes apply to; undefined: a root here (changes are every dataset) */
  baseParent: number | undefined;
  changes: { path: string; version: Dataset | null; newBytes: number | null }[];
  datasets: number;
  metaHash: Buffer;
  stateDigest: Buffer;
}

/** State: data path → dataset at a commit. */
export type DatasetState = Map<string, Dataset>;

const bin = (h: string) => Buffer.from(h, 'hex');
const hex = (b: Buffer) => b.toString('hex');

interface VersionRow {
  path: string;
  type: 'file' | 'dir';
  size: number;
  files: number | null;
  sha256: Buffer;
  manifest: Buffer;
}

function toDataset(r: VersionRow): Dataset {
  return { path: r.path, type: r.type, size: r.size, ...(r.files !== null ? { files: r.files } : {}), sha256: hex(r.sha256), manifest: hex(r.manifest) };
}

/** Keyset cursor of history pages: committer time and cid of the last version sent. */
export function encodeCursor(time: number, cid: number): string {
  return `${time}.${cid}`;
}

export function decodeCursor(s: string): { time: number; cid: number } | undefined {
  const m = /^(-?\d{1,15})\.(\d{1,15})$/.exec(s);
  return m ? { time: Number(m[1]), cid: Number(m[2]) } : undefined;
}

/**
 * What insert() wrote within one transaction, so that a batch of commits does
 * not query again for the chain, cid and path ids it has just written. Valid
 * only inside the transaction that filled it (a rollback voids it), for one
 * repository.
 */
export class InsertMemo {
  readonly chains = new Map<number, Pick<CommitMeta, 'cid' | 'snapshot' | 'chainLen' | 'chainRows'>>();
  readonly cids = new Map<string, number>();
  readonly pids = new Map<string, number>();
  constructor(readonly rid: number) {}
}

export class CommitIndex {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      meta: db.prepare(
        'SELECT cid, sha, base_parent AS baseParent, snapshot, chain_len AS chainLen, chain_rows AS chainRows, datasets, meta_hash AS metaHash, state_digest AS stateDigest, committer_time AS committerTime FROM commits WHERE rid = ? AND sha = ?',
      ),
      metaByCid: db.prepare(
        'SELECT cid, sha, base_parent AS baseParent, snapshot, chain_len AS chainLen, chain_rows AS chainRows, datasets, meta_hash AS metaHash, state_digest AS stateDigest, committer_time AS committerTime FROM commits WHERE cid = ?',
      ),
      cidOf: db.prepare('SELECT cid FROM commits WHERE rid = ? AND sha = ?').pluck(),
      details: db.prepare(
        'SELECT sha, author_name, author_email, author_time, author_tz, committer_name, committer_email, committer_time, committer_tz, message, datasets FROM commits WHERE cid = ?',
      ),
      parents: db.prepare('SELECT sha FROM commit_parents WHERE cid = ? ORDER BY n').pluck(),
      byPrefix: db.prepare('SELECT cid, sha FROM commits WHERE rid = ? AND sha >= ? AND sha < ? ORDER BY sha LIMIT 5'),
      ref: db.prepare('SELECT r.cid, c.sha FROM refs r JOIN commits c ON c.cid = r.cid WHERE r.rid = ? AND r.name = ?'),
      refs: db.prepare('SELECT r.name, c.sha FROM refs r JOIN commits c ON c.cid = r.cid WHERE r.rid = ? ORDER BY r.name'),
      latestRef: db.prepare('SELECT name FROM refs WHERE rid = ? ORDER BY updated DESC, name LIMIT 1').pluck(),
      setRef: db.prepare('INSERT INTO refs (rid, name, cid, updated) VALUES (?, ?, ?, ?) ON CONFLICT(rid, name) DO UPDATE SET cid = excluded.cid, updated = excluded.updated'),
      deleteRef: db.prepare('DELETE FROM refs WHERE rid = ? AND name = ?'),
      insertCommit: db.prepare(
        `INSERT INTO commits (rid, sha, author_name, author_email, author_time, author_tz, committer_name, committer_email, committer_time, committer_tz, message,
           base_parent, snapshot, chain_len, chain_rows, datasets, meta_hash, state_digest, recorded)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING cid`,
      ).pluck(),
      setSnapshot: db.prepare('UPDATE commits SET snapshot = ? WHERE cid = ?'),
      insertParent: db.prepare('INSERT INTO commit_parents (cid, n, sha, parent) VALUES (?, ?, ?, ?)'),
      // Correlated, not `cid IN (SELECT cid FROM commits WHERE rid = ?)`: SQLite builds that list from every commit of the repository, on every insert.
      fillParent: db.prepare('UPDATE commit_parents SET parent = ? WHERE sha = ? AND parent IS NULL AND EXISTS (SELECT 1 FROM commits c WHERE c.cid = commit_parents.cid AND c.rid = ?)'),
      pathId: db.prepare('SELECT pid FROM dataset_paths WHERE rid = ? AND path = ?').pluck(),
      insertPath: db.prepare('INSERT INTO dataset_paths (rid, path) VALUES (?, ?) RETURNING pid').pluck(),
      versionId: db.prepare('SELECT vid FROM dataset_versions WHERE pid = ? AND manifest = ?').pluck(),
      // A pushed version is usually new: insert first, look up only when it was there already.
      insertVersion: db.prepare('INSERT INTO dataset_versions (pid, type, size, files, sha256, manifest) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pid, manifest) DO NOTHING RETURNING vid').pluck(),
      version: db.prepare('SELECT p.path, v.type, v.size, v.files, v.sha256, v.manifest FROM dataset_versions v JOIN dataset_paths p ON p.pid = v.pid WHERE v.vid = ?'),
      insertChange: db.prepare('INSERT INTO commit_changes (cid, pid, vid, new_bytes) VALUES (?, ?, ?, ?)'),
      insertSnapshot: db.prepare('INSERT INTO commit_snapshots (cid, pid, vid) VALUES (?, ?, ?)'),
      copySnapshot: db.prepare('INSERT INTO commit_snapshots (cid, pid, vid) SELECT ?, pid, vid FROM commit_snapshots WHERE cid = ?'),
      upsertSnapshotRow: db.prepare('INSERT INTO commit_snapshots (cid, pid, vid) VALUES (?, ?, ?) ON CONFLICT(cid, pid) DO UPDATE SET vid = excluded.vid'),
      deleteSnapshotRow: db.prepare('DELETE FROM commit_snapshots WHERE cid = ? AND pid = ?'),
      changeOf: db.prepare('SELECT vid FROM commit_changes WHERE cid = ? AND pid = ?').raw(),
      snapshotOf: db.prepare('SELECT vid FROM commit_snapshots WHERE cid = ? AND pid = ?').pluck(),
      chainStep: db.prepare('SELECT base_parent, snapshot FROM commits WHERE cid = ?').raw(),
      changesOf: db.prepare('SELECT pid, vid FROM commit_changes WHERE cid = ?').raw(),
      snapshotRows: db.prepare(
        'SELECT p.pid, p.path, v.type, v.size, v.files, v.sha256, v.manifest FROM commit_snapshots s JOIN dataset_versions v ON v.vid = s.vid JOIN dataset_paths p ON p.pid = s.pid WHERE s.cid = ?',
      ),
      changeRows: db.prepare(
        'SELECT p.pid, p.path, v.type, v.size, v.files, v.sha256, v.manifest FROM commit_changes c JOIN dataset_paths p ON p.pid = c.pid LEFT JOIN dataset_versions v ON v.vid = c.vid WHERE c.cid = ?',
      ),
      history: db.prepare(
        `SELECT c.cid, c.sha, c.committer_time AS time, c.message, c.author_name, c.author_email, c.author_time, c.author_tz,
                v.type, v.size, v.files, v.sha256, v.manifest, ch.new_bytes AS newBytes
         FROM commit_changes ch JOIN commits c ON c.cid = ch.cid JOIN dataset_versions v ON v.vid = ch.vid
         WHERE ch.pid = ? AND (c.committer_time < ? OR (c.committer_time = ? AND c.cid < ?))
         ORDER BY c.committer_time DESC, c.cid DESC`,
      ),
      reachableFromRefs: db.prepare(
        `WITH RECURSIVE anc(cid) AS (SELECT cid FROM refs WHERE rid = ? UNION SELECT p.parent FROM commit_parents p JOIN anc ON p.cid = anc.cid WHERE p.parent IS NOT NULL)
         SELECT cid FROM anc`,
      ).pluck(),
      reachableFrom: db.prepare(
        `WITH RECURSIVE anc(cid) AS (SELECT ? UNION SELECT p.parent FROM commit_parents p JOIN anc ON p.cid = anc.cid WHERE p.parent IS NOT NULL)
         SELECT cid FROM anc`,
      ).pluck(),
      introducedBySha: db.prepare(
        `SELECT c.sha, c.committer_time AS time, c.message, p.path FROM dataset_versions v JOIN commit_changes ch ON ch.vid = v.vid JOIN commits c ON c.cid = ch.cid JOIN dataset_paths p ON p.pid = v.pid
         WHERE v.sha256 = ? AND c.rid = ? ORDER BY c.committer_time, c.cid LIMIT 1`,
      ),
      introducedByPath: db.prepare(
        `SELECT c.sha, c.committer_time AS time, c.message, p.path FROM dataset_paths p JOIN dataset_versions v ON v.pid = p.pid JOIN commit_changes ch ON ch.vid = v.vid JOIN commits c ON c.cid = ch.cid
         WHERE p.rid = ? AND p.path = ? AND v.sha256 = ? ORDER BY c.committer_time, c.cid LIMIT 1`,
      ),
      manifests: db.prepare('SELECT DISTINCT manifest FROM dataset_versions').pluck(),
    };
  }

  // ---- reading ----

  meta(rid: number, sha: string): CommitMeta | undefined {
    return this.s.meta.get(rid, sha) as CommitMeta | undefined;
  }

  metaByCid(cid: number): CommitMeta | undefined {
    return this.s.metaByCid.get(cid) as CommitMeta | undefined;
  }

  /** The shas among `shas` the repository has records of. */
  known(rid: number, shas: readonly string[]): string[] {
    return shas.filter((s) => this.s.cidOf.get(rid, s) !== undefined);
  }

  details(cid: number): CommitDetails {
    const r = this.s.details.get(cid) as Record<string, string & number>;
    return {
      sha: r.sha,
      parents: this.s.parents.all(cid) as string[],
      author: { name: r.author_name, email: r.author_email, time: r.author_time, tz: r.author_tz },
      committer: { name: r.committer_name, email: r.committer_email, time: r.committer_time, tz: r.committer_tz },
      message: r.message,
      datasets: r.datasets,
    };
  }

  refs(rid: number): { name: string; sha: string }[] {
    return this.s.refs.all(rid) as { name: string; sha: string }[];
  }

  /** The ref used when none is given: main, else master, else the ref updated last. */
  defaultRef(rid: number): string | undefined {
    for (const name of ['refs/heads/main', 'refs/heads/master']) if (this.s.ref.get(rid, name)) return name;
    return this.s.latestRef.get(rid) as string | undefined;
  }

  /**
   * A ref as users write it: a full sha; `refs/...`; a branch or tag name
   * (branches first, as git does); an abbreviated sha of at least 7 hex digits.
   */
  resolve(rid: number, ref: string): Resolution {
    if (/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(ref)) {
      const cid = this.s.cidOf.get(rid, ref) as number | undefined;
      if (cid !== undefined) return { kind: 'commit', cid, sha: ref, via: 'sha', name: ref };
    }
    const names = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
    for (const name of names) {
      const r = this.s.ref.get(rid, name) as { cid: number; sha: string } | undefined;
      if (r) return { kind: 'commit', cid: r.cid, sha: r.sha, via: 'ref', name };
    }
    if (/^[0-9a-f]{7,63}$/.test(ref)) {
      const upper = ref + 'g'; // every hex string with this prefix sorts below it
      const rows = this.s.byPrefix.all(rid, ref, upper) as { cid: number; sha: string }[];
      if (rows.length === 1) return { kind: 'commit', cid: rows[0]!.cid, sha: rows[0]!.sha, via: 'sha', name: ref };
      if (rows.length > 1) return { kind: 'ambiguous', candidates: rows.map((r) => r.sha) };
    }
    return { kind: 'none' };
  }

  private version(vid: number): Dataset {
    return toDataset(this.s.version.get(vid) as VersionRow);
  }

  /** The dataset at `path` in commit `cid` (exactly that path), if any: a walk down the first-parent chain, one point lookup per commit. */
  datasetAt(rid: number, cid: number, path: string): Dataset | undefined {
    const pid = this.s.pathId.get(rid, path) as number | undefined;
    if (pid === undefined) return undefined;
    for (let c: number | null = cid; c !== null; ) {
      const change = this.s.changeOf.get(c, pid) as [number | null] | undefined;
      if (change) return change[0] === null ? undefined : this.version(change[0]);
      const [base, snapshot] = this.s.chainStep.get(c) as [number | null, number];
      if (snapshot === c) {
        const vid = this.s.snapshotOf.get(c, pid) as number | undefined;
        return vid === undefined ? undefined : this.version(vid);
      }
      c = base;
    }
    return undefined;
  }

  /** Every dataset at commit `cid`: its snapshot plus the changes after it. */
  datasetsAt(cid: number): DatasetState {
    const { snapshot, commits: chain } = this.chainTo(cid);
    const state: DatasetState = new Map();
    for (const r of this.s.snapshotRows.iterate(snapshot) as Iterable<VersionRow>) state.set(r.path, toDataset(r));
    for (let i = chain.length - 1; i >= 0; i--) {
      for (const r of this.s.changeRows.iterate(chain[i]) as Iterable<VersionRow & { type: string | null }>) {
        if (r.type === null) state.delete(r.path);
        else state.set(r.path, toDataset(r));
      }
    }
    return state;
  }

  /** The commits from `cid` down its first-parent chain to (excluding) the snapshot its datasets derive from. */
  private chainTo(cid: number): { snapshot: number; commits: number[] } {
    const commits: number[] = [];
    let c = cid;
    for (;;) {
      const [base, snapshot] = this.s.chainStep.get(c) as [number | null, number];
      if (snapshot === c || base === null) break;
      commits.push(c);
      c = base;
    }
    return { snapshot: c, commits };
  }

  /**
   * The versions of one path, newest first (committer time, then record
   * order), among commits reachable from `from` (a commit id), or from any ref
   * when `from` is undefined. One page of at most `limit`.
   */
  history(args: { rid: number; path: string; from?: number; limit: number; cursor?: { time: number; cid: number } }): { versions: (DatasetVersion & { cid: number })[]; next?: string } {
    const pid = this.s.pathId.get(args.rid, args.path) as number | undefined;
    if (pid === undefined) return { versions: [] };
    const reachable = new Set((args.from === undefined ? this.s.reachableFromRefs.all(args.rid) : this.s.reachableFrom.all(args.from)) as number[]);
    const after = args.cursor ?? { time: Number.MAX_SAFE_INTEGER, cid: Number.MAX_SAFE_INTEGER };
    const versions: (DatasetVersion & { cid: number })[] = [];
    let more = false;
    for (const r of this.s.history.iterate(pid, after.time, after.time, after.cid) as Iterable<Record<string, any>>) {
      if (!reachable.has(r.cid)) continue;
      if (versions.length === args.limit) {
        more = true;
        break;
      }
      versions.push({
        cid: r.cid,
        commit: r.sha,
        time: r.time,
        message: r.message,
        author: { name: r.author_name, email: r.author_email, time: r.author_time, tz: r.author_tz },
        type: r.type,
        size: r.size,
        ...(r.files !== null ? { files: r.files } : {}),
        sha256: hex(r.sha256),
        manifest: hex(r.manifest),
        newBytes: r.newBytes ?? r.size,
      });
    }
    const last = versions[versions.length - 1];
    return more && last ? { versions, next: encodeCursor(last.time, last.cid) } : { versions };
  }

  /** The first recorded commit (by committer time) that introduced this content, at `path` when given. */
  introducedBy(args: { rid: number; sha256: string; path?: string }): { sha: string; time: number; message: string; path: string } | undefined {
    const r = args.path === undefined ? this.s.introducedBySha.get(bin(args.sha256), args.rid) : this.s.introducedByPath.get(args.rid, args.path, bin(args.sha256));
    return r as { sha: string; time: number; message: string; path: string } | undefined;
  }

  /** Every manifest some commit record names: roots of gc. */
  *allManifests(): Generator<string> {
    for (const m of this.s.manifests.iterate() as Iterable<Buffer>) yield hex(m);
  }

  // ---- writing (inside the caller's transaction) ----

  /**
   * Records one commit; its recorded first parent (if any) must be recorded
   * already. Returns its cid. Commits recorded in one transaction may share a
   * memo (see InsertMemo).
   */
  insert(rid: number, c: NewCommit, now: number, memo: InsertMemo = new InsertMemo(rid)): number {
    if (memo.rid !== rid) throw new Error(`an InsertMemo of repository ${memo.rid} used for repository ${rid}`);
    const parent = c.baseParent === undefined ? undefined : (memo.chains.get(c.baseParent) ?? this.metaByCid(c.baseParent));
    const chainLen = parent ? parent.chainLen + 1 : 0;
    const chainRows = parent ? parent.chainRows + c.changes.length : 0;
    const snapshot = !parent || chainLen >= SNAPSHOT_MAX_CHAIN || chainRows > Math.max(SNAPSHOT_MIN_ROWS, c.datasets);
    const cid = this.s.insertCommit.get(
      rid, c.sha,
      c.author.name, c.author.email, c.author.time, c.author.tz,
      c.committer.name, c.committer.email, c.committer.time, c.committer.tz,
      c.message, parent ? parent.cid : null, snapshot ? 0 : parent!.snapshot, snapshot ? 0 : chainLen, snapshot ? 0 : chainRows, c.datasets, c.metaHash, c.stateDigest, now,
    ) as number;
    memo.chains.set(cid, { cid, snapshot: snapshot ? cid : parent!.snapshot, chainLen: snapshot ? 0 : chainLen, chainRows: snapshot ? 0 : chainRows });
    memo.cids.set(c.sha, cid);
    c.parents.forEach((sha, n) => this.s.insertParent.run(cid, n, sha, memo.cids.get(sha) ?? (this.s.cidOf.get(rid, sha) as number | undefined) ?? null));
    this.s.fillParent.run(cid, c.sha, rid);
    const changed: [number, number | null][] = [];
    for (const ch of c.changes) {
      const pid = this.pathId(memo, ch.path);
      const vid = ch.version ? this.versionId(pid, ch.version) : null;
      changed.push([pid, vid]);
      this.s.insertChange.run(cid, pid, vid, ch.newBytes);
    }
    if (snapshot) {
      this.s.setSnapshot.run(cid, cid);
      if (parent) {
        // The parent's snapshot copied inside SQLite (10,000 rows in one statement), then the
        // changes since it, this commit's last, applied over the copy.
        const chain = this.chainTo(parent.cid);
        const over = new Map<number, number | null>();
        for (let i = chain.commits.length - 1; i >= 0; i--) for (const [pid, vid] of this.s.changesOf.iterate(chain.commits[i]) as Iterable<[number, number | null]>) over.set(pid, vid);
        for (const [pid, vid] of changed) over.set(pid, vid);
        this.s.copySnapshot.run(cid, chain.snapshot);
        for (const [pid, vid] of over) {
          if (vid === null) this.s.deleteSnapshotRow.run(cid, pid);
          else this.s.upsertSnapshotRow.run(cid, pid, vid);
        }
      } else for (const [pid, vid] of changed) if (vid !== null) this.s.insertSnapshot.run(cid, pid, vid);
    }
    return cid;
  }

  setRef(rid: number, name: string, cid: number, now: number): void {
    this.s.setRef.run(rid, name, cid, now);
  }

  deleteRef(rid: number, name: string): void {
    this.s.deleteRef.run(rid, name);
  }

  /** The commit a ref names now; undefined if there is no such ref. */
  refSha(rid: number, name: string): string | undefined {
    return (this.s.ref.get(rid, name) as { sha: string } | undefined)?.sha;
  }

  cidOf(rid: number, sha: string): number | undefined {
    return this.s.cidOf.get(rid, sha) as number | undefined;
  }

  private pathId(memo: InsertMemo, path: string): number {
    let pid = memo.pids.get(path);
    if (pid === undefined) {
      pid = ((this.s.pathId.get(memo.rid, path) as number | undefined) ?? (this.s.insertPath.get(memo.rid, path) as number));
      memo.pids.set(path, pid);
    }
    return pid;
  }

  private versionId(pid: number, d: Dataset): number {
    const m = bin(d.manifest);
    return (this.s.insertVersion.get(pid, d.type, d.size, d.files ?? null, bin(d.sha256), m) as number | undefined) ?? (this.s.versionId.get(pid, m) as number);
  }
}

/**
 * For lineage: the first recorded commit of repository `rid` whose pointers
 * introduced content `sha256` (at `path` when given), or undefined when no
 * commit record names it.
 */
export function firstCommitIntroducing(args: { db: Db; rid: number; sha256: string; path?: string }): { sha: string; time: number; message: string; path: string } | undefined {
  let index = indexes.get(args.db);
  if (!index) indexes.set(args.db, (index = new CommitIndex(args.db)));
  return index.introducedBy(args);
}
const indexes = new WeakMap<Db, CommitIndex>();
