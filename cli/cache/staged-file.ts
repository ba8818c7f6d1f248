import { closeSync, constants, fsync as fsyncCb, ftruncate as ftruncateCb, openSync, write as writeCb } from 'node:fs';
import { promisify } from 'node:util';
import { DIRECT_ALIGN, type Staging } from '../../core/staging.ts';
import { fsError } from '../fs-util.ts';

/**
 * An append-only new file written through a Staging area: appended bytes are
 * copied into a borrowed block, and each full block goes out in one
 * positional write on libuv's thread pool, so the appending thread never
 * waits for the disk. The file is opened with O_DIRECT where the file system
 * allows it (see core/staging.ts for why); the last block is padded to the
 * alignment and the file truncated back to its length when it is closed.
 *
 * Appends are ordered: one that has to wait for a free block holds back the
 * appends after it. `append` returns a promise only when it waited; until it
 * settles the caller must keep `data` unchanged.
 *
 * DVX_DIRECT_IO=0 turns direct I/O off (buffered writes, same layout).
 */
const write = promisify(writeCb);
const ftruncate = promisify(ftruncateCb);
const fsync = promisify(fsyncCb);

function directWanted(): boolean {
  return process.env.DVX_DIRECT_IO !== '0' && typeof constants.O_DIRECT === 'number';
}

export class StagedFile {
  /** descriptors opened, the current one last (a fallback from O_DIRECT opens a second) */
  private readonly fds: number[];
  private direct: boolean;
  private block: number | undefined;
  private fill = 0;
  /** file offset of the current block */
  private blockAt = 0;
  private length = 0;
  private waiting: Promise<void> | undefined;
  private readonly writes: Promise<void>[] = [];
  private failure: { err: unknown } | undefined;
  private ended = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly staging: Staging,
    fd: number,
    direct: boolean,
  ) {
    this.fds = [fd];
    this.direct = direct;
  }

  /** Creates `path` (which must not exist) with `mode` (default 0o644). Throws the open's error. */
  static create(path: string, staging: Staging, mode = 0o644): StagedFile {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    if (directWanted()) {
      try {
        return new StagedFile(path, staging, openSync(path, flags | constants.O_DIRECT, mode), true);
      } catch (err) {
        // The file system refuses direct I/O (tmpfs on old kernels, some FUSE): buffered writes.
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      }
    }
    return new StagedFile(path, staging, openSync(path, flags, mode), false);
  }

  /** Bytes appended so far. */
  get size(): number {
    return this.length;
  }

  /** Whether writes bypass the page cache. */
  get isDirect(): boolean {
    return this.direct;
  }

  /** With `copyIfWaiting`, an append that must wait queues a copy of the rest, so `data` is free at once. */
  append(data: Uint8Array, opts: { copyIfWaiting?: boolean } = {}): Promise<void> | undefined {
    this.throwIfFailed();
    if (this.ended) throw new Error(`${this.path}: append after end`);
    if (data.length === 0) return undefined;
    const later = (rest: Uint8Array) => this.queue(opts.copyIfWaiting ? rest.slice() : rest);
    if (this.waiting) return later(data);
    let at = 0;
    while (at < data.length) {
      if (this.block === undefined) {
        this.block = this.staging.tryAcquire();
        if (this.block === undefined) return later(data.subarray(at));
      }
      at += this.copy(data, at);
    }
    return undefined;
  }

  /**
   * Hands over a block of the staging area that the caller acquired and
   * filled with the next `n` bytes of the file (n <= the block size), when
   * nothing partial is staged: no copy. The file writes the block and returns
   * it to the staging area. Only the last block of a file may be partial.
   */
  appendBlock(block: number, n: number): void {
    this.throwIfFailed();
    if (this.ended || this.waiting || this.block !== undefined) throw new Error(`${this.path}: a block can only follow whole blocks`);
    if (n < 1 || n > this.staging.blockBytes) throw new Error(`${this.path}: block of ${n} bytes`);
    this.block = block;
    this.fill = n;
    this.length += n;
    if (n === this.staging.blockBytes) this.emit(n);
  }

  private queue(data: Uint8Array): Promise<void> {
    const run = async () => {
      let at = 0;
      while (at < data.length) {
        if (this.block === undefined) {
          const b = await this.staging.acquire();
          if (this.closed) {
            this.staging.release(b);
            return;
          }
          this.block = b;
        }
        at += this.copy(data, at);
      }
    };
    const p = (this.waiting ?? Promise.resolve()).then(run);
    this.waiting = p;
    void p.then(
      () => {
        if (this.waiting === p) this.waiting = undefined;
      },
      () => {},
    );
    return p;
  }

  private copy(data: Uint8Array, at: number): number {
    const n = Math.min(this.staging.blockBytes - this.fill, data.length - at);
    this.staging.copyIn(this.block!, this.fill, data.subarray(at, at + n));
    this.fill += n;
    this.length += n;
    if (this.fill === this.staging.blockBytes) this.emit(this.staging.blockBytes);
    return n;
  }

  /** Writes the current block's first `bytes` bytes at its place and returns the block once written. */
  private emit(bytes: number): void {
    const block = this.block!;
    const at = this.blockAt;
    this.block = undefined;
    this.blockAt += this.staging.blockBytes;
    this.fill = 0;
    const w = this.writeBlock(block, bytes, at).finally(() => this.staging.release(block));
    const tracked = w.catch((err) => {
      this.failure ??= { err: fsError(err, this.path, 'write') };
      throw this.failure.err;
    });
    tracked.catch(() => {});
    this.writes.push(tracked);
  }

  private async writeBlock(block: number, bytes: number, position: number): Promise<void> {
    const view = this.staging.block(block);
    let done = 0;
    while (done < bytes) {
      const fd = this.fds[this.fds.length - 1]!;
      let n: number;
      try {
        ({ bytesWritten: n } = await write(fd, view, done, bytes - done, position + done));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EINVAL' && this.direct) {
          // Opened with O_DIRECT but refused on write: go on buffered through a second descriptor.
          this.fallBackToBuffered();
          continue;
        }
        throw err;
      }
      if (n === 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      // A short direct write may end off the alignment; the rest goes buffered.
      if (this.direct && n < bytes - done && (position + done + n) % DIRECT_ALIGN !== 0) this.fallBackToBuffered();
      done += n;
    }
  }

  private fallBackToBuffered(): void {
    if (!this.direct) return;
    this.direct = false;
    this.fds.push(openSync(this.path, constants.O_WRONLY));
  }

  /**
   * Writes what is staged and waits for every write; the file then holds
   * exactly the appended bytes (synced to disk with `fsync`). Throws the first
   * write error. The descriptors stay open until close().
   */
  async end(opts: { fsync?: boolean } = {}): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.waiting;
      if (this.fill > 0) {
        const used = this.fill;
        const padded = Math.ceil(used / DIRECT_ALIGN) * DIRECT_ALIGN;
        // Direct writes go in whole aligned blocks: pad, then truncate back.
        this.staging.block(this.block!).fill(0, used, padded);
        this.emit(this.direct ? padded : used);
      } else if (this.block !== undefined) {
        this.staging.release(this.block);
        this.block = undefined;
      }
    }
    await Promise.all(this.writes);
    this.throwIfFailed();
    const fd = this.fds[this.fds.length - 1]!;
    try {
      await ftruncate(fd, this.length);
      if (opts.fsync) await fsync(fd);
    } catch (err) {
      throw fsError(err, this.path, 'write');
    }
  }

  /** Closes the descriptors, after end() or to abandon the file (its blocks are returned once in-flight writes settle). */
  async close(): Promise<void> {
    // Not waiting for a queued append: it may wait for a block another open file holds.
    this.closed = true;
    await Promise.allSettled(this.writes);
    if (this.block !== undefined) {
      this.staging.release(this.block);
      this.block = undefined;
    }
    for (const fd of this.fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }
}
