import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { isId } from '../../core/hex.ts';
import { decodePackIndex, decodePackTrailer, PACK_TRAILER_BYTES, type PackIndex } from '../../core/pack.ts';
import { fsError } from '../fs-util.ts';

/**
 * The pack files of a local cache: `packs/<first two hex digits>/<pack id>`,
 * immutable once published. Temp files being written live in `tmp/` on the
 * same file system, so publishing is a rename.
 */
const MAX_OPEN = 64;

export class PackFiles {
  private readonly fds = new Map<string, number>();

  constructor(readonly dir: string) {}

  get packsDir(): string { return join(this.dir, 'packs'); }
  get tmpDir(): string { return join(this.dir, 'tmp'); }

  /** A fresh name in tmpDir for a pack being written (the pid says whose it is). */
  newTempPath(): string {
    return join(this.tmpDir, `pack-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  path(id: string): string {
    return join(this.packsDir, id.slice(0, 2), id);
  }

  exists(id: string): boolean {
    return existsSync(this.path(id));
  }

  size(id: string): number {
    return statSync(this.path(id)).size;
  }

  /** Every pack file present, by id (names that are not pack ids are ignored). */
  list(): string[] {
    if (!existsSync(this.packsDir)) return [];
    const ids: string[] = [];
    for (const sub of readdirSync(this.packsDir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of readdirSync(join(this.packsDir, sub))) if (isId(name) && name.startsWith(sub)) ids.push(name);
    }
    return ids;
  }

  /** An open descriptor for a pack (kept in a small LRU; do not close it). */
  fd(id: string): number {
    let fd = this.fds.get(id);
    if (fd !== undefined) {
      // refresh LRU position
      this.fds.delete(id);
      this.fds.set(id, fd);
      return fd;
    }
    try {
      fd = openSync(this.path(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new DvxError('pack_missing', `pack ${id} is missing from the cache (${this.path(id)})`, 'run `dvx fsck` to see what is affected, then `dvx fsck --repair` and `dvx pull`');
      }
      throw fsError(err, this.path(id), 'open');
    }
    if (this.fds.size >= MAX_OPEN) {
      const [oldId, oldFd] = this.fds.entries().next().value as [string, number];
      closeSync(oldFd);
      this.fds.delete(oldId);
    }
    this.fds.set(id, fd);
    return fd;
  }

  /** Reads exactly `length` bytes at `offset` of a pack. */
  read(id: string, offset: number, length: number, into: Uint8Array = Buffer.allocUnsafe(length), at = 0): Uint8Array {
    const fd = this.fd(id);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, into, at + done, length - done, offset + done);
      if (n === 0) throw new DvxError('pack_truncated', `pack ${id} is truncated: cannot read ${length} bytes at offset ${offset}`, 'run `dvx fsck`');
      done += n;
    }
    return into.subarray(at, at + length);
  }

  readWhole(id: string): Buffer {
    try {
      return readFileSync(this.path(id));
    } catch (err) {
      throw fsError(err, this.path(id), 'read');
    }
  }

  /** Reads and validates a pack's index from its tail, without reading its blobs. */
  /**
   * Whether the published pack is `packBytes` long and ends with exactly
   * `tail` (its index and trailer, as encoded): a byte comparison, where
   * decoding the index back would cost ~1 µs per blob for a weaker check.
   */
  tailMatches(id: string, packBytes: number, tail: Uint8Array): boolean {
    const fd = this.fd(id);
    if (fstatSync(fd).size !== packBytes || tail.length > packBytes) return false;
    return Buffer.from(this.read(id, packBytes - tail.length, tail.length)).equals(tail);
  }

  readIndex(id: string): PackIndex {
    const fd = this.fd(id);
    const size = fstatSync(fd).size;
    if (size < PACK_TRAILER_BYTES) throw new DvxError('bad_format', `pack ${id}: ${size} bytes is too short to be a pack`);
    const { indexBytes } = decodePackTrailer(this.read(id, size - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES), size);
    return decodePackIndex(this.read(id, size - PACK_TRAILER_BYTES - indexBytes, indexBytes), size);
  }

  /** Moves a finished temp file into place under its id. */
  publish(tmpPath: string, id: string): void {
    const dest = this.path(id);
    // A salvaged pack can take the place of its damaged original: reads must not go on from the old file.
    this.forget(id);
    try {
      mkdirSync(join(this.packsDir, id.slice(0, 2)), { recursive: true });
      renameSync(tmpPath, dest);
    } catch (err) {
      throw fsError(err, dest, 'publish pack');
    }
  }

  remove(id: string): void {
    this.forget(id);
    rmSync(this.path(id), { force: true });
  }

  private forget(id: string): void {
    const fd = this.fds.get(id);
    if (fd !== undefined) {
      closeSync(fd);
      this.fds.delete(id);
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
