import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../../core/protocol.ts';
import { CommitIndex, firstCommitIntroducing, InsertMemo, SNAPSHOT_MAX_CHAIN, type NewCommit } from './commit-index.ts';
import { openDatabase } from './database.ts';

/** The commit index on its own: snapshots plus changes give the same datasets as a full list would; lineage's lookup. */
const h = (s: string) => createHash('sha256').update(s).digest('hex');
const person = (time: number) => ({ name: 'Ada', email: 'ada@example.com', time, tz: '+0000' });
const ds = (path: string, v: string, size = 10): Dataset => ({ path, type: 'file', size, sha256: h(`sha ${v}`), manifest: h(`manifest ${v}`) });

function commit(sha: string, base: number | undefined, time: number, changes: NewCommit['changes'], datasets: number, parents: string[] = []): NewCommit {
  return { sha, parents, author: person(time), committer: person(time), message: `m ${time}`, baseParent: base, changes, datasets, metaHash: Buffer.alloc(32), stateDigest: Buffer.alloc(8) };
}

test('datasets at any commit of a long chain equal a replay of its changes; lineage finds the commit that introduced content', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-commit-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'index.sqlite'));
  t.after(() => db.close());
  const rid = db.prepare("INSERT INTO repos (name, created) VALUES ('r', 0) RETURNING rid").pluck().get() as number;
  const index = new CommitIndex(db);

  // A root with 50 paths, then a chain longer than two snapshot intervals, each commit changing or removing a path.
  const expected = new Map<string, Dataset>();
  const rootSets = Array.from({ length: 50 }, (_, i) => ds(`p${i}`, `root ${i}`));
  for (const d of rootSets) expected.set(d.path, d);
  const states: Map<string, Dataset>[] = [];
  const cids: number[] = [];
  const shas: string[] = [];
  // Half of the chain in one transaction with a shared memo (as the recorder does), half without.
  const memo = new InsertMemo(rid);
  db.transaction(() => {
    const sha = h('c0').slice(0, 40);
    cids.push(index.insert(rid, commit(sha, undefined, 1000, rootSets.map((d) => ({ path: d.path, version: d, newBytes: d.size })), 50), 0, memo));
    shas.push(sha);
    states.push(new Map(expected));
    for (let i = 1; i <= 2 * SNAPSHOT_MAX_CHAIN + 7; i++) {
      const path = `p${(i * 7) % 60}`;
      const removed = i % 13 === 0 && expected.has(path);
      const version = removed ? null : ds(path, `v${i}`, i);
      if (version) expected.set(path, version);
      else expected.delete(path);
      const s = h(`c${i}`).slice(0, 40);
      cids.push(index.insert(rid, commit(s, cids[i - 1], 1000 + i, [{ path, version, newBytes: version ? 1 : null }], expected.size, [shas[i - 1]!]), 0, i <= SNAPSHOT_MAX_CHAIN + 3 ? memo : undefined));
      shas.push(s);
      states.push(new Map(expected));
    }
    index.setRef(rid, 'refs/heads/main', cids[cids.length - 1]!, 0);
  })();

  for (const i of [0, 1, SNAPSHOT_MAX_CHAIN - 1, SNAPSHOT_MAX_CHAIN, SNAPSHOT_MAX_CHAIN + 1, 2 * SNAPSHOT_MAX_CHAIN + 7]) {
    const got = index.datasetsAt(cids[i]!);
    assert.deepEqual(new Map([...got].sort()), new Map([...states[i]!].sort()), `datasets at commit ${i}`);
    for (const p of ['p0', 'p7', 'p59']) assert.deepEqual(index.datasetAt(rid, cids[i]!, p), states[i]!.get(p), `${p} at commit ${i}`);
  }
  // Snapshots are occasional: far fewer rows than a full list per commit.
  const rows = db.prepare('SELECT count(*) FROM commit_snapshots').pluck().get() as number;
  assert.ok(rows <= 4 * 60, `${rows} snapshot rows`);
  // Where the rule puts snapshots (one change row per commit here), whether the chain came from the memo or from the table.
  const want: number[] = [cids[0]!];
  for (let i = 1, len = 0, chainRows = 0; i < cids.length; i++) {
    len++;
    chainRows++;
    if (len >= SNAPSHOT_MAX_CHAIN || chainRows > Math.max(256, states[i]!.size)) {
      want.push(cids[i]!);
      len = chainRows = 0;
    }
  }
  assert.ok(want.length >= 3);
  assert.deepEqual(db.prepare('SELECT cid FROM commits WHERE snapshot = cid ORDER BY cid').pluck().all(), want);
  assert.throws(() => index.insert(rid + 1, commit(h('other').slice(0, 40), undefined, 1, [], 0), 0, memo), /InsertMemo of repository/);

  // History of one path: newest first, only the commits that set it.
  const hist = index.history({ rid, path: 'p7', limit: 1000 });
  const setsP7 = [...states.keys()].filter((i) => i === 0 || ((i * 7) % 60 === 7 && states[i]!.has('p7'))).reverse();
  assert.deepEqual(hist.versions.map((v) => v.sha256), setsP7.map((i) => states[i]!.get('p7')!.sha256));
  assert.deepEqual(hist.versions.map((v) => v.commit), setsP7.map((i) => shas[i]));

  // Lineage: the first commit that introduced a content, by sha256 alone or at a path.
  const v8 = ds('p56', 'v8', 8);
  assert.deepEqual(firstCommitIntroducing({ db, rid, sha256: v8.sha256 }), { sha: shas[8], time: 1008, message: 'm 1008', path: 'p56' });
  assert.equal(firstCommitIntroducing({ db, rid, sha256: v8.sha256, path: 'p0' }), undefined);
  assert.equal(firstCommitIntroducing({ db, rid, sha256: rootSets[3]!.sha256, path: 'p3' })?.sha, shas[0]);
  assert.equal(firstCommitIntroducing({ db, rid, sha256: h('nothing') }), undefined);

  // Refs and abbreviations.
  assert.deepEqual(index.resolve(rid, 'main'), { kind: 'commit', cid: cids[cids.length - 1], sha: shas[shas.length - 1], via: 'ref', name: 'refs/heads/main' });
  assert.equal(index.resolve(rid, shas[5]!.slice(0, 12)).kind, 'commit');
  assert.equal(index.resolve(rid, 'nope').kind, 'none');
});

test('a parent recorded after its child is linked to it, in its own repository only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-commit-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'index.sqlite'));
  t.after(() => db.close());
  const repo = (name: string) => db.prepare('INSERT INTO repos (name, created) VALUES (?, 0) RETURNING rid').pluck().get(name) as number;
  const [a, b] = [repo('a'), repo('b')];
  const index = new CommitIndex(db);
  const link = (cid: number) => db.prepare('SELECT n, parent FROM commit_parents WHERE cid = ? ORDER BY n').raw().all(cid);
  const [root, side, merge] = ['root', 'side', 'merge'].map((s) => h(s).slice(0, 40)) as [string, string, string];
  db.transaction(() => {
    const r = index.insert(a, commit(root, undefined, 1, [], 0), 0);
    // The merge's second parent is not recorded yet, in either repository.
    const m = index.insert(a, commit(merge, r, 3, [], 0, [root, side]), 0);
    assert.deepEqual(link(m), [[0, r], [1, null]]);
    const other = index.insert(b, commit(side, undefined, 2, [], 0), 0);
    assert.deepEqual(link(m), [[0, r], [1, null]], 'a commit of another repository is not its parent');
    const s = index.insert(a, commit(side, r, 2, [], 0, [root]), 0);
    assert.notEqual(s, other);
    assert.deepEqual(link(m), [[0, r], [1, s]]);
  })();
});
