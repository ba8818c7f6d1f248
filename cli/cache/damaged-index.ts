import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { fsError } from '../fs-util.ts';

/**
 * A cache index (index.sqlite) that SQLite cannot read. The index is derived
 * data, so nothing is lost while the packs are intact: `dvx fsck --repair`
 * moves the damaged file aside and rebuilds it from the packs.
 *
 * Its -wal needs no check of its own: SQLite checksums every WAL frame and
 * drops a damaged tail, which loses only the last index transactions; their
 * packs are then on disk but unindexed (or indexed but gone), which fsck
 * reports and --repair fixes like any interrupted command.
 */
export const INDEX_DAMAGED = 'cache_index_damaged';

/** Whether a better-sqlite3 error says the database file itself is not sound. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

export function indexDamaged(path: string, err: unknown): DvxError {
  return new DvxError(INDEX_DAMAGED, `the cache index ${path} is damaged (${(err as Error).message})`, 'run `dvx fsck --repair` to move it aside and rebuild it from the packs', { cause: err });
}

export function isIndexDamaged(err: unknown): err is DvxError {
  return err instanceof DvxError && err.code === INDEX_DAMAGED;
}

/**
 * Moves a damaged index aside as `<name>.damaged-<time>`, and its -wal and
 * -shm under the same name if they are still there (SQLite deletes them when
 * the last connection closes, even of a damaged file; one left behind would be
 * replayed into the new index.sqlite). The Bloom filter, which describes the
 * old index, is deleted. Returns the new path.
 */
export function moveDamagedIndex(path: string): string {
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
  rmSync(join(dirname(path), 'bloom.bin'), { force: true });
  return aside;
}
