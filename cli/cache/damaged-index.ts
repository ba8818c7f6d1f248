import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { moveAside } from '../damaged-sqlite.ts';

export { isCorruption } from '../damaged-sqlite.ts';

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

export function indexDamaged(path: string, err: unknown): DvxError {
  return new DvxError(INDEX_DAMAGED, `the cache index ${path} is damaged (${(err as Error).message})`, 'run `dvx fsck --repair` to move it aside and rebuild it from the packs', { cause: err });
}

export function isIndexDamaged(err: unknown): err is DvxError {
  return err instanceof DvxError && err.code === INDEX_DAMAGED;
}

/**
 * Moves a damaged index aside (as `<name>.damaged-<time>`, ../damaged-sqlite.ts).
 * The Bloom filter, which describes the old index, is deleted. Returns the new path.
 */
export function moveDamagedIndex(path: string): string {
  const aside = moveAside(path);
  rmSync(join(dirname(path), 'bloom.bin'), { force: true });
  return aside;
}
