import { chmodSync, closeSync, openSync, read as readCb, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { DvxError } from '../../core/errors.ts';
import type { FileManifest } from '../../core/file-manifest.ts';
import { defaultHashPool } from '../../core/hash-pool.ts';
import { sha256 } from '../../core/hash.ts';
import { Staging } from '../../core/staging.ts';
import { MODE_EXEC } from '../../core/tree-manifest.ts';
import { fsError, tempPathBeside } from '../fs-util.ts';
import type { LocalCache } from './local-cache.ts';
import { StagedFile } from './staged-file.ts';

/**
 * Writes a file's bytes from the cache to a path, verified: the content goes to
 * a temp file beside the destination, its SHA-256 is checked against the
 * manifest, and only then is it renamed over the destination. A reader of the
 * destination never sees a partial or wrong file.
 *
 * Large files stream through whole blocks of a staging area: pack bytes are
 * read straight into a block on libuv's thread pool, hashed here in file
 * order, and the block is written out with direct I/O (./staged-file.ts: no
 * page cache to fill, which on this kind of VM cost more than the hashing);
 * chunks that lie next to each other in a pack are read in one call.
 */
const BUF = 8 << 20;
const SMALL = 1 << 20;
const RESTORE_STAGING = { blockBytes: BUF, blocks: 6 };
const readAsync = promisify(readCb);
/** A staging area kept between files restored one after another (concurrent restores make their own). */
let spare: Staging | undefined;

interface Range {
  pack: string;
  offset: number;
  length: number;
}

export function planReads(cache: LocalCache, m: FileManifest, what: string): Range[] {
  const ranges: Range[] = [];
  let missing = 0;
  const locations = cache.index.locateMany(m.chunks.map((c) => c.id));
  for (const [i, c] of m.chunks.entries()) {
    const loc = locations[i];
    if (!loc) {
      missing++;
      continue;
    }
    if (loc.length !== c.length) throw new DvxError('cache_damaged', `chunk ${c.id} of ${what} has length ${loc.length} in the cache, ${c.length} in its manifest`, 'run `dvx fsck`');
    const last = ranges[ranges.length - 1];
    if (last && last.pack === loc.pack && last.offset + last.length === loc.offset && last.length + loc.length <= BUF) last.length += loc.length;
    else ranges.push({ pack: loc.pack, offset: loc.offset, length: loc.length });
  }
  if (missing > 0) {
    throw new DvxError('not_in_cache', `${what}: ${missing} of ${m.chunks.length} chunks are not in the local cache`, 'run `dvx pull` to fetch them');
  }
  return ranges;
}

export async function restoreFile(cache: LocalCache, m: FileManifest, dest: string, opts: { mode?: number; what?: string; onBytes?: (n: number) => void } = {}): Promise<void> {
  const what = opts.what ?? dest;
  const ranges = planReads(cache, m, what);
  const tmp = tempPathBeside(dest);
  const mode = opts.mode === MODE_EXEC ? 0o755 : 0o644;
  let ok = false;
  try {
    const hash = m.size <= SMALL ? restoreSmall(cache, ranges, tmp, mode) : await restoreLarge(cache, ranges, tmp, mode, opts.onBytes);
    if (hash !== m.sha256) {
      throw new DvxError('cache_damaged', `${what}: the cached bytes hash to ${hash}, not ${m.sha256}; the cache is damaged`, 'run `dvx fsck` to find the damage, then `dvx fsck --repair` and `dvx pull`');
    }
    if (opts.mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, dest);
    ok = true;
  } catch (err) {
    const e = fsError(err, what, 'write');
    // Said for the file being restored (not its temp file), and with the hint that fits a checkout.
    if (e instanceof DvxError && e.code === 'disk_full') throw new DvxError('disk_full', `no space left on device while writing ${what}`, 'free some disk space and check it out again; the cache is unchanged', { cause: err });
    throw e;
  } finally {
    if (!ok) rmSync(tmp, { force: true });
  }
}

function restoreSmall(cache: LocalCache, ranges: Range[], tmp: string, mode: number): string {
  const fd = openSync(tmp, 'wx', mode);
  try {
    const h = sha256();
    for (const r of ranges) {
      const bytes = cache.packs.read(r.pack, r.offset, r.length);
      h.update(bytes);
      writeSync(fd, bytes);
    }
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

interface Piece {
  r: Range;
  /** offset into the range */
  from: number;
  length: number;
  /** offset into the block */
  at: number;
}

async function restoreLarge(cache: LocalCache, ranges: Range[], tmp: string, mode: number, onBytes?: (n: number) => void): Promise<string> {
  const staging = spare ?? Staging.standalone(RESTORE_STAGING);
  spare = undefined;
  const file = StagedFile.create(tmp, staging, mode);
  // SHA-256 on a hash worker: this thread only schedules reads and writes.
  const pool = defaultHashPool();
  const stream = pool.newShaStream();
  const hashes: Promise<void>[] = [];
  const pending: { block: number; used: number; filled: Promise<void> }[] = [];
  let ri = 0;
  let rFrom = 0;
  let written = 0;

  /** The next block's worth of the file, as pieces of ranges (a range may span two blocks). */
  const claim = (): { pieces: Piece[]; used: number } => {
    const pieces: Piece[] = [];
    let used = 0;
    while (ri < ranges.length && used < staging.blockBytes) {
      const r = ranges[ri]!;
      const length = Math.min(r.length - rFrom, staging.blockBytes - used);
      pieces.push({ r, from: rFrom, length, at: used });
      used += length;
      rFrom += length;
      if (rFrom === r.length) {
        ri++;
        rFrom = 0;
      }
    }
    return { pieces, used };
  };

  const fill = async (block: number, pieces: Piece[]): Promise<void> => {
    const view = staging.block(block);
    await Promise.all(
      pieces.map(async ({ r, from, length, at }) => {
        const packFd = cache.packs.fd(r.pack);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await readAsync(packFd, view, at + done, length - done, r.offset + from + done);
          if (bytesRead === 0) throw new DvxError('pack_truncated', `pack ${r.pack} is truncated`, 'run `dvx fsck`');
          done += bytesRead;
        }
      }),
    );
  };

  let ok = false;
  try {
    // Reads run up to blocks - 1 ahead of the block being hashed; the file returns blocks as their writes land.
    let more = true;
    for (;;) {
      while (more && pending.length < staging.blocks - 1) {
        const block = await staging.acquire();
        const { pieces, used } = claim();
        if (used === 0) {
          staging.release(block);
          more = false;
          break;
        }
        const filled = fill(block, pieces);
        filled.catch(() => {});
        pending.push({ block, used, filled });
      }
      const p = pending.shift();
      if (!p) break;
      try {
        await p.filled;
      } catch (err) {
        staging.release(p.block);
        throw err;
      }
      // The block goes back once both its hash and its write are done.
      staging.retain(p.block);
      const block = p.block;
      const hashed = pool.shaUpdate(staging.buffer, stream, staging.offsetOf(block), p.used).finally(() => staging.release(block));
      hashed.catch(() => {});
      hashes.push(hashed);
      file.appendBlock(p.block, p.used);
      written += p.used;
      onBytes?.(written);
    }
    await file.end();
    await Promise.all(hashes);
    const digest = await pool.shaDigest(stream);
    ok = true;
    return digest;
  } finally {
    await Promise.allSettled(hashes);
    if (!ok) await pool.shaDigest(stream).catch(() => {});
    for (const p of pending.splice(0)) {
      await p.filled.catch(() => {});
      staging.release(p.block);
    }
    await file.close();
    // Reused only when every block came back.
    if (ok) spare = staging;
  }
}
