import { chmodSync, closeSync, openSync, read as readCb, renameSync, rmSync, write as writeCb, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { DvxError } from '../../core/errors.ts';
import type { FileManifest } from '../../core/file-manifest.ts';
import { sha256 } from '../../core/hash.ts';
import { MODE_EXEC } from '../../core/tree-manifest.ts';
import { fsError, tempPathBeside } from '../fs-util.ts';
import type { LocalCache } from './local-cache.ts';

/**
 * Writes a file's bytes from the cache to a path, verified: the content goes to
 * a temp file beside the destination, its SHA-256 is checked against the
 * manifest, and only then is it renamed over the destination. A reader of the
 * destination never sees a partial or wrong file.
 *
 * Large files stream through a small ring of buffers: reads and writes run on
 * libuv's thread pool while this thread hashes, and chunks that lie next to each
 * other in a pack are read in one call.
 */
const BUF = 8 << 20;
const BUFFERS = 4;
const SMALL = 1 << 20;
const readAsync = promisify(readCb);
const writeAsync = promisify(writeCb);

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
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', opts.mode === MODE_EXEC ? 0o755 : 0o644);
  } catch (err) {
    throw fsError(err, dest, 'write');
  }
  let ok = false;
  try {
    const hash = m.size <= SMALL ? restoreSmall(cache, ranges, fd) : await restoreLarge(cache, ranges, fd, opts.onBytes);
    if (hash !== m.sha256) {
      throw new DvxError('cache_damaged', `${what}: the cached bytes hash to ${hash}, not ${m.sha256}; the cache is damaged`, 'run `dvx fsck` to find the damage, then `dvx fsck --repair` and `dvx pull`');
    }
    closeSync(fd);
    fd = -1;
    if (opts.mode !== undefined) chmodSync(tmp, opts.mode === MODE_EXEC ? 0o755 : 0o644);
    renameSync(tmp, dest);
    ok = true;
  } catch (err) {
    throw fsError(err, dest, 'write');
  } finally {
    if (fd >= 0) closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
}

function restoreSmall(cache: LocalCache, ranges: Range[], fd: number): string {
  const h = sha256();
  for (const r of ranges) {
    const bytes = cache.packs.read(r.pack, r.offset, r.length);
    h.update(bytes);
    writeSync(fd, bytes);
  }
  return h.digest('hex');
}

async function restoreLarge(cache: LocalCache, ranges: Range[], fd: number, onBytes?: (n: number) => void): Promise<string> {
  const h = sha256();
  const bufs = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafe(BUF));
  const writes: Promise<unknown>[] = bufs.map(() => Promise.resolve());
  let next = 0;
  let written = 0;

  /**
   * Claims the next ranges that fit one buffer (synchronously, so buffers fill
   * in file order however their reads interleave), then reads them all at once
   * on the thread pool once that buffer's previous write is done.
   */
  const fill = (slot: number): Promise<number> => {
    const mine: { r: Range; at: number }[] = [];
    let used = 0;
    while (next < ranges.length && used + ranges[next]!.length <= BUF) {
      mine.push({ r: ranges[next]!, at: used });
      used += ranges[next++]!.length;
    }
    return writes[slot]!.then(async () => {
      await Promise.all(
        mine.map(async ({ r, at }) => {
          const packFd = cache.packs.fd(r.pack);
          let done = 0;
          while (done < r.length) {
            const { bytesRead } = await readAsync(packFd, bufs[slot]!, at + done, r.length - done, r.offset + done);
            if (bytesRead === 0) throw new DvxError('pack_truncated', `pack ${r.pack} is truncated`, 'run `dvx fsck`');
            done += bytesRead;
          }
        }),
      );
      return used;
    });
  };

  // Keep BUFFERS - 1 fills in flight ahead of the one being hashed.
  const fills: Promise<number>[] = [];
  for (let i = 0; i < BUFFERS - 1; i++) fills.push(fill(i));
  for (let k = 0; ; k++) {
    const slot = k % BUFFERS;
    const used = await fills.shift()!;
    if (used === 0) break;
    fills.push(fill((k + BUFFERS - 1) % BUFFERS));
    const view = bufs[slot]!.subarray(0, used);
    h.update(view);
    // Explicit positions: writes of consecutive buffers may be in flight together.
    writes[slot] = writeFully(fd, view, written);
    written += used;
    onBytes?.(written);
  }
  await Promise.allSettled(fills);
  await Promise.all(writes);
  return h.digest('hex');
}

async function writeFully(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) done += (await writeAsync(fd, data, done, data.length - done, position + done)).bytesWritten;
}
