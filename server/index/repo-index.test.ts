import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobType } from '../../core/pack.ts';
import { openDatabase } from './database.ts';
import { RepoIndex } from './repo-index.ts';

/** Removing content (Git LFS object removal): the sha256 entry goes, a tombstone stays, membership and gc roots do not change. */
const h = (s: string) => createHash('sha256').update(s).digest('hex');

test('removeFile withdraws content by sha256, keeps the manifest a member, and an upload of the same content restores it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-repo-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'index.sqlite'));
  t.after(() => db.close());
  const repos = new RepoIndex(db);
  const { repo } = repos.ensure('r', 0);
  const manifest = h('manifest');
  const content = h('content');
  const pid = db.prepare('INSERT INTO packs (id, bytes, data_bytes, blobs, added) VALUES (?, 1, 1, 1, 0) RETURNING pid').pluck().get(Buffer.from(h('pack'), 'hex')) as number;
  db.prepare('INSERT INTO blobs (id, pid, offset, length, type) VALUES (?, ?, 0, 1, ?)').run(Buffer.from(manifest, 'hex'), pid, BlobType.fileManifest);
  repos.addMembers(repo.rid, [manifest]);
  repos.addFile(repo.rid, content, manifest, 1234);
  assert.deepEqual(repos.fileBySha256(repo.rid, content), { manifest, size: 1234 });

  assert.equal(repos.removeFile({ rid: repo.rid, sha256: h('never'), by: 'carol', now: 5 }), 'unknown');
  assert.equal(repos.transaction(() => repos.removeFile({ rid: repo.rid, sha256: content, by: 'carol', now: 1000 })), 'removed');
  assert.equal(repos.fileBySha256(repo.rid, content), undefined);
  assert.deepEqual(repos.removedFile(repo.rid, content), { size: 1234, removedAt: 1000, by: 'carol' });
  // The manifest stays a member, hence a gc root: other data of the repository may name it.
  assert.ok(repos.has(repo.rid, manifest));
  assert.deepEqual([...repos.allManifests()], [manifest]);
  // Removing again keeps the first removal.
  assert.equal(repos.removeFile({ rid: repo.rid, sha256: content, by: 'dave', now: 2000 }), 'already');
  assert.deepEqual(repos.removedFile(repo.rid, content), { size: 1234, removedAt: 1000, by: 'carol' });

  // Uploading the same content again (any route ends in addFile) clears the tombstone.
  repos.addFile(repo.rid, content, manifest, 1234);
  assert.deepEqual(repos.fileBySha256(repo.rid, content), { manifest, size: 1234 });
  assert.equal(repos.removedFile(repo.rid, content), undefined);

  // Tombstones go with their repository.
  repos.removeFile({ rid: repo.rid, sha256: content, by: 'carol', now: 3000 });
  repos.delete(repo.rid);
  assert.equal(db.prepare('SELECT count(*) FROM lfs_removed').pluck().get(), 0);
});
