import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { DvxError } from '../core/errors.ts';

/** A temp name beside `path`, so a rename onto `path` stays on one file system. */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.dvx-tmp-${randomBytes(6).toString('hex')}`);
}

/** Writes a whole file so that readers see the old or the new content, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: { fsync?: boolean; mode?: number } = {}): void {
  const tmp = tempPathBeside(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (opts.fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw fsError(err, path, 'write');
  }
}

/** Turns a Node fs error into a DvxError that names the path and what to do. */
export function fsError(err: unknown, path: string, doing: string): Error {
  if (err instanceof DvxError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new DvxError('disk_full', `no space left on device while trying to ${doing} ${path}`, 'free some disk space and run the command again; nothing was recorded', { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new DvxError('permission_denied', `permission denied: cannot ${doing} ${path}`, 'check the file permissions', { cause: err });
    case 'ENOENT':
      return new DvxError('not_found', `no such file or directory: ${path}`, undefined, { cause: err });
    case 'EISDIR':
      return new DvxError('is_directory', `${path} is a directory`, undefined, { cause: err });
    case 'EROFS':
      return new DvxError('read_only', `read-only file system: cannot ${doing} ${path}`, undefined, { cause: err });
    default:
      return new DvxError('io_error', `cannot ${doing} ${path}: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err });
  }
}
