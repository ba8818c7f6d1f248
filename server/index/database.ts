import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { MIGRATIONS } from './migrations.ts';

/**
 * Opens the server's SQLite index (WAL, so the admin commands can write while
 * the server runs) and brings its schema up to date.
 */
export type Db = Database.Database;

export function openDatabase(path: string, opts: { readonly?: boolean } = {}): Db {
  mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path, { fileMustExist: false });
  } catch (err) {
    throw new DvxError('index_unavailable', `cannot open the index ${path}: ${(err as Error).message}`, 'check DVX_DATA_DIR and its permissions');
  }
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode loses at most the last transactions on power loss, never on a crash of the process.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 15000');
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -65536');
  if (!opts.readonly) migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  return (db.prepare('SELECT max(version) FROM schema_version').pluck().get() as number | null) ?? 0;
}

/**
 * Applies every migration not yet recorded, in version order. Versions may have
 * gaps and may be appended out of order (parallel branches each take a number):
 * a database that already has version 4 still gets 2 and 3 when they arrive,
 * because what counts is the set of applied versions, not the highest one.
 */
export function migrate(db: Db, migrations: readonly { version: number; sql: string }[] = MIGRATIONS): void {
  const known = new Set(migrations.map((m) => m.version));
  if (known.size !== migrations.length) throw new Error('two migrations share a version number');
  const latest = Math.max(...known);
  // IMMEDIATE: two processes starting at once must not both apply a migration.
  db.transaction(() => {
    const current = schemaVersion(db);
    if (current > latest) {
      throw new DvxError('index_too_new', `the index has schema version ${current}, newer than this dvx-server knows (${latest})`, 'run a newer dvx-server');
    }
    // By set, not by maximum: migrations are numbered per branch, so an index made by a
    // build that had version 3 but not yet 2 still gets 2 once it is merged in.
    const applied = new Set(db.prepare('SELECT version FROM schema_version').pluck().all() as number[]);
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
    }
  }).immediate();
}
