import { existsSync, renameSync } from 'node:fs';
import { fsError } from './fs-util.ts';

/**
 * SQLite files that SQLite cannot read: each of dvx's databases decides what
 * to do about its own (the cache index: ./cache/damaged-index.ts; the stat
 * cache: ./workspace/stat-cache.ts; the tracking store: ./tracking/open.ts),
 * with these two pieces in common.
 */

/** Whether a better-sqlite3 error says the database file itself is not sound. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Moves a damaged database aside as `<name>.damaged-<time>`, and its -wal and
 * -shm under the same name if they are still there (SQLite deletes them when
 * the last connection closes, even of a damaged file; one left behind would be
 * replayed into a new file at the old name). Returns the new path.
 */
export function moveAside(path: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let aside = `${path}.damaged-${stamp}`;
  for (let n = 2; existsSync(aside); n++) aside = `${path}.damaged-${stamp}-${n}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (!existsSync(path + suffix)) continue;
    try {
      renameSync(path + suffix, aside + suffix);
    } catch (err) {
      throw fsError(err, path + suffix, 'move aside');
    }
  }
  return aside;
}
