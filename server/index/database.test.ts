import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrate, schemaVersion } from './database.ts';
import { MIGRATIONS } from './migrations.ts';

/**
 * Migrations are numbered by parallel branches, so versions have gaps and may
 * arrive out of order: an index that already has version 4 must still get 2
 * and 3 when a later server knows them, each exactly once.
 */
const m = (version: number) => ({ version, sql: `CREATE TABLE t${version} (x INTEGER);` });
const tables = (db: Database.Database) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name").pluck().all() as string[]);

test('migrations with gaps apply once each, late arrivals included', () => {
  const db = new Database(':memory:');
  migrate(db, [m(1), m(4)]);
  assert.deepEqual(tables(db), ['t1', 't4']);
  assert.equal(schemaVersion(db), 4);
  // Versions 2 and 3 arrive after the index reached 4.
  migrate(db, [m(1), m(4), m(3), m(2)]);
  assert.deepEqual(tables(db), ['t1', 't2', 't3', 't4']);
  migrate(db, [m(1), m(2), m(3), m(4)]);
  assert.deepEqual((db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all() as number[]), [1, 2, 3, 4]);
  // An index newer than every known migration is refused.
  assert.throws(() => migrate(db, [m(1), m(2)]), /newer than this dvx-server knows/);
  assert.throws(() => migrate(db, [m(1), m(1)]), /share a version/);
});

test('the real migrations apply to an empty index', () => {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  assert.equal(schemaVersion(db), Math.max(...MIGRATIONS.map((x) => x.version)));
  assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'lfs_locks'").get());
});
