import { closeSync, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { sha256 } from '../../core/hash.ts';
import { fsError } from '../fs-util.ts';
import type { StatCache } from './stat-cache.ts';
import type { Workspace } from './workspace.ts';

/**
 * What a working-tree file contains, by sha256: from the stat cache when its
 * signature is unchanged, else by reading it (SHA-256 only: no chunking).
 */
const BLOCK = 8 << 20;
let buffer: Buffer | undefined;

export function contentSha256(ws: Workspace, stats: StatCache, path: string, st: Stats, knownManifest?: { sha256: string; manifest: string }): string {
  const known = stats.lookup(path, st);
  if (known) return known.sha256;
  buffer ??= Buffer.allocUnsafe(BLOCK);
  let fd: number;
  try {
    fd = openSync(ws.abs(path), 'r');
  } catch (err) {
    throw fsError(err, path, 'read');
  }
  try {
    const h = sha256();
    const before = fstatSync(fd);
    for (;;) {
      const n = readSync(fd, buffer, 0, BLOCK, null);
      if (n === 0) break;
      h.update(buffer.subarray(0, n));
    }
    const digest = h.digest('hex');
    // The manifest is known only when the content is what the pointer says.
    const manifest = knownManifest && knownManifest.sha256 === digest ? knownManifest.manifest : undefined;
    stats.record(path, before, { sha256: digest, manifest });
    return digest;
  } catch (err) {
    throw fsError(err, path, 'read');
  } finally {
    closeSync(fd);
  }
}

/** lstat that answers undefined for a missing path. */
export function statOrMissing(abs: string): Stats | undefined {
  try {
    return lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}
