import { createHash } from 'node:crypto';
import { pathProblem } from '../../core/paths.ts';
import { BlobType } from '../../core/pack.ts';
import type { CommitRecord, Dataset, RefUpdate } from '../../core/protocol.ts';
import { InsertMemo, type CommitMeta, type DatasetState, type NewCommit } from '../index/commit-index.ts';
import { StoreRefusal } from './errors.ts';
import type { Store } from './store.ts';
import { VersionBytes } from './version-bytes.ts';

/**
 * POST /repos/{repo}/commits (docs/protocol.md "Commit records"): checks a
 * batch of commit records, computes what each changed relative to its first
 * parent and what every new version cost to store, then writes it all in one
 * transaction, or nothing.
 *
 * Three phases, because reading manifests is asynchronous and a SQLite
 * transaction cannot wait: (1) plan, synchronously: validate, resolve first
 * parents (recorded before, or earlier in the request), and normalize every
 * commit to changes against its first parent; (2) read the manifests of
 * changed paths to compute newBytes; (3) write, re-checking inside the
 * transaction what a concurrent request could have recorded meanwhile.
 */
export interface RecordOutcome {
  recorded: number;
  /** ref updates applied */
  refs: number;
  /** ref updates not applied because the ref did not name their `expect` (present only when some were) */
  skipped?: string[];
}

type Base = { kind: 'db'; meta: CommitMeta } | { kind: 'plan'; plan: Plan };

interface Plan {
  record: CommitRecord;
  metaHash: Buffer;
  base: Base | undefined;
  /** path → new dataset (null: removed), relative to the base; every dataset for a root */
  changes: Map<string, Dataset | null>;
  /** the base's dataset at each changed path */
  prev: Map<string, Dataset | undefined>;
  newBytes: Map<string, number>;
  datasets: number;
  digest: bigint;
  /** set in phase 3 */
  cid?: number;
  /** a second copy of a commit earlier in the same request */
  duplicate?: boolean;
  /** recorded before this request (as of phase 1) */
  known?: boolean;
}

const MASK = (1n << 64n) - 1n;
const NEW_BYTES_IN_FLIGHT = 8;

/** Runs the tasks, at most `limit` at a time, starting them in order; rejects with the first failure. */
async function inParallel(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}

/** Order-independent digest of a dataset list: the sum of a 64-bit hash of each entry. */
function entryHash(d: Dataset): bigint {
  const h = createHash('sha256').update(`${d.path}\0${d.type}\0${d.size}\0${d.files ?? ''}\0${d.sha256}\0${d.manifest}`).digest();
  return h.readBigUInt64BE(0);
}

function digestBytes(d: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(d & MASK);
  return b;
}

function metaHash(c: CommitRecord): Buffer {
  return createHash('sha256').update(JSON.stringify([c.parents, c.author, c.committer, c.message])).digest();
}

function conflict(sha: string): StoreRefusal {
  return new StoreRefusal(409, 'commit_conflict', `commit ${sha} is already recorded in this repository with different content (parents, author, message or datasets); a git commit never changes, so this repository name is probably shared by two different git repositories`);
}

export async function recordCommits(args: { store: Store; repo: string; commits: readonly CommitRecord[]; refs: readonly RefUpdate[]; now?: number }): Promise<RecordOutcome> {
  const { store, repo } = args;
  const now = args.now ?? Date.now();
  const index = store.commits;
  const rid = store.repos.get(repo)?.rid;

  // ---- phase 1: plan ----
  const plans: Plan[] = [];
  const bySha = new Map<string, Plan>();
  const dbStates = new Map<number, DatasetState>();
  const dbState = (cid: number) => {
    let s = dbStates.get(cid);
    if (!s) dbStates.set(cid, (s = index.datasetsAt(cid)));
    return s;
  };
  // Paths are looked up one by one (a walk of the commit's chain, two point queries per
  // commit) until that has cost about as many rows as reading its whole state once.
  const dbLookups = new Map<number, number>();
  const dbDataset = (meta: CommitMeta, path: string): Dataset | undefined => {
    const n = dbLookups.get(meta.cid) ?? 0;
    dbLookups.set(meta.cid, n + 1);
    const pointCost = 2 * (meta.chainLen + 2);
    return (n + 1) * pointCost <= Math.max(64, meta.datasets + meta.chainRows) && !dbStates.has(meta.cid) ? index.datasetAt(rid!, meta.cid, path) : dbState(meta.cid).get(path);
  };
  // The usual request is one chain of commits, each the child of the one before: the
  // paths changed along the chain so far are kept in one map, so that a lookup from its
  // newest plan does not walk back through every plan of the request.
  let head: Plan | undefined;
  let headRoot: Base | undefined;
  let headState = new Map<string, Dataset | null>();
  const datasetIn = (base: Base | undefined, path: string): Dataset | undefined => {
    if (head && base?.kind === 'plan' && base.plan === head) {
      if (headState.has(path)) return headState.get(path) ?? undefined;
      base = headRoot;
    }
    for (let b = base; b; ) {
      if (b.kind === 'db') return dbDataset(b.meta, path);
      const p = b.plan;
      if (p.changes.has(path)) return p.changes.get(path) ?? undefined;
      b = p.base;
    }
    return undefined;
  };
  const fullState = (base: Base): DatasetState => {
    if (base.kind === 'db') return new Map(dbState(base.meta.cid));
    const p = base.plan;
    const state = p.base ? fullState(p.base) : new Map<string, Dataset>();
    for (const [path, d] of p.changes) {
      if (d) state.set(path, d);
      else state.delete(path);
    }
    return state;
  };

  for (const c of args.commits) {
    checkPointers(store, rid, c);
    const earlier = bySha.get(c.sha);
    const existing = rid === undefined ? undefined : index.meta(rid, c.sha);
    const hash = metaHash(c);
    if (existing && !existing.metaHash.equals(hash)) throw conflict(c.sha);

    const first = c.parents[0];
    const basePlan = first === undefined ? undefined : bySha.get(first);
    const baseMeta = first === undefined || basePlan || rid === undefined ? undefined : index.meta(rid, first);
    const base: Base | undefined = basePlan ? { kind: 'plan', plan: basePlan } : baseMeta ? { kind: 'db', meta: baseMeta } : undefined;

    const plan: Plan = { record: c, metaHash: hash, base, changes: new Map(), prev: new Map(), newBytes: new Map(), datasets: 0, digest: 0n, known: existing !== undefined };
    if (c.changes) {
      if (!base) {
        throw new StoreRefusal(
          422,
          'parent_not_recorded',
          first === undefined
            ? `commit ${c.sha} has no parent, so it must carry its full pointer list, not changes`
            : `commit ${c.sha} carries changes, but its first parent ${first} is not recorded in this repository: send the parent first (parents before children), or send this commit's full pointer list`,
        );
      }
      for (const d of c.changes.set) plan.changes.set(d.path, d);
      for (const path of c.changes.removed) if (!plan.changes.has(path)) plan.changes.set(path, null);
    } else if (base) {
      // A full list with a recorded parent: stored as changes all the same.
      const before = fullState(base);
      const after = new Map(c.pointers!.map((d) => [d.path, d]));
      for (const [path, d] of after) plan.changes.set(path, d);
      for (const path of before.keys()) if (!after.has(path)) plan.changes.set(path, null);
    } else {
      for (const d of c.pointers!) plan.changes.set(d.path, d);
    }

    // Keep real changes only; find each path's previous version; derive count and digest.
    let datasets = base ? (base.kind === 'db' ? base.meta.datasets : base.plan.datasets) : 0;
    let digest = base ? (base.kind === 'db' ? base.meta.stateDigest.readBigUInt64BE(0) : base.plan.digest) : 0n;
    for (const [path, d] of [...plan.changes]) {
      const prev = base ? datasetIn(base, path) : undefined;
      if (d === null ? prev === undefined : prev !== undefined && prev.manifest === d.manifest && prev.type === d.type && prev.size === d.size) {
        plan.changes.delete(path);
        continue;
      }
      plan.prev.set(path, prev);
      if (prev) {
        digest -= entryHash(prev);
        datasets--;
      }
      if (d) {
        digest += entryHash(d);
        datasets++;
      }
    }
    plan.datasets = datasets;
    plan.digest = digest & MASK;
    if (head && base?.kind === 'plan' && base.plan === head) {
      for (const [path, d] of plan.changes) headState.set(path, d);
    } else {
      headRoot = base;
      headState = new Map(plan.changes);
    }
    head = plan;

    if (earlier) {
      if (!earlier.metaHash.equals(hash) || earlier.digest !== plan.digest) throw conflict(c.sha);
      plan.duplicate = true;
    } else if (existing && !existing.stateDigest.equals(digestBytes(plan.digest))) throw conflict(c.sha);
    plans.push(plan);
    if (!earlier) bySha.set(c.sha, plan);
  }

  // ---- phase 2: what each new version cost ----
  // Manifest reads are latency-bound (storage round trips): keep several in
  // flight, started in commit order so that a chain of versions of one path
  // still finds each version's chunks in VersionBytes' recent set.
  const bytes = new VersionBytes(store);
  const work: (() => Promise<void>)[] = [];
  for (const plan of plans) {
    if (plan.duplicate || plan.known) continue;
    for (const [path, d] of plan.changes) if (d) work.push(async () => void plan.newBytes.set(path, await bytes.newBytes(plan.prev.get(path), d)));
  }
  await inParallel(work, NEW_BYTES_IN_FLIGHT);

  // ---- phase 3: write, all or nothing ----
  return store.transaction(() => {
    const row = store.repos.ensure(repo, now).repo;
    const memo = new InsertMemo(row.rid);
    let recorded = 0;
    for (const plan of plans) {
      const c = plan.record;
      if (plan.duplicate) continue;
      // Usually not recorded: the cheap lookup first, the whole row only for a commit that is.
      const existing = index.cidOf(row.rid, c.sha) === undefined ? undefined : index.meta(row.rid, c.sha);
      if (existing) {
        // Recorded before, or by a request that ran meanwhile: the same content is a no-op.
        if (!existing.metaHash.equals(plan.metaHash) || !existing.stateDigest.equals(digestBytes(plan.digest))) throw conflict(c.sha);
        plan.cid = existing.cid;
        continue;
      }
      const baseParent = plan.base === undefined ? undefined : plan.base.kind === 'db' ? plan.base.meta.cid : plan.base.plan.cid;
      const commit: NewCommit = {
        sha: c.sha,
        parents: c.parents,
        author: c.author,
        committer: c.committer,
        message: c.message,
        baseParent,
        changes: [...plan.changes].map(([path, version]) => ({ path, version, newBytes: version ? (plan.newBytes.get(path) ?? version.size) : null })),
        datasets: plan.datasets,
        metaHash: plan.metaHash,
        stateDigest: digestBytes(plan.digest),
      };
      plan.cid = index.insert(row.rid, commit, now, memo);
      recorded++;
    }
    let applied = 0;
    const skipped: string[] = [];
    for (const r of args.refs) {
      if (r.expect !== undefined && (index.refSha(row.rid, r.name) ?? null) !== r.expect) {
        skipped.push(r.name);
        continue;
      }
      applied++;
      if (r.sha === null) {
        index.deleteRef(row.rid, r.name);
        continue;
      }
      const cid = index.cidOf(row.rid, r.sha);
      if (cid === undefined) throw new StoreRefusal(422, 'commit_not_recorded', `ref ${r.name} names commit ${r.sha}, which is not recorded in this repository: send its commit record first (in this request or an earlier one)`);
      index.setRef(row.rid, r.name, cid, now);
    }
    return skipped.length > 0 ? { recorded, refs: applied, skipped } : { recorded, refs: applied };
  });
}

/** Paths must be safe and unique; every manifest must be known to the repository, with the type its pointer says. */
function checkPointers(store: Store, rid: number | undefined, c: CommitRecord): void {
  const list = c.pointers ?? c.changes!.set;
  const seen = new Set<string>();
  const checkPath = (path: string) => {
    const problem = pathProblem(path);
    if (problem) throw new StoreRefusal(400, 'bad_request', `commit ${c.sha}: invalid data path ${JSON.stringify(path.slice(0, 200))}: it ${problem}`);
  };
  for (const d of list) {
    checkPath(d.path);
    if (seen.has(d.path)) throw new StoreRefusal(400, 'bad_request', `commit ${c.sha} names ${JSON.stringify(d.path)} twice`);
    seen.add(d.path);
    if (d.type === 'dir' && d.files === undefined) throw new StoreRefusal(400, 'bad_request', `commit ${c.sha}: the directory pointer ${JSON.stringify(d.path)} needs "files"`);
    const type = rid === undefined ? undefined : store.repos.memberType(rid, d.manifest);
    const want = d.type === 'file' ? BlobType.fileManifest : BlobType.treeManifest;
    if (type === undefined) {
      throw new StoreRefusal(422, 'missing_manifest', `commit ${c.sha} names manifest ${d.manifest} (${d.path}), which this repository does not have: push the data first (\`dvx push\`), then the commit records`);
    }
    if (type !== want) throw new StoreRefusal(422, 'wrong_manifest_type', `commit ${c.sha}: ${d.path} is a ${d.type} pointer but blob ${d.manifest} is not a ${d.type === 'file' ? 'file' : 'tree'} manifest`);
  }
  for (const path of c.changes?.removed ?? []) checkPath(path);
}
