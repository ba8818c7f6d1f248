import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { DvxError } from '../core/errors.ts';
import { processAlive } from './pid.ts';

/**
 * A temp name beside `path`, so a rename onto `path` stays on one file system:
 * `.<name>.dvx-tmp-<pid>-<12 hex digits>`. The writer's pid is in the name so
 * that a file left by a crash (a checkout killed halfway through a 1 GiB file)
 * can be told from one still being written, and removed.
 */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.dvx-tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** dvx's temp names; older versions wrote them without the pid. */
const TEMP_NAME = /^\..+\.dvx-tmp-(?:(\d+)-)?[0-9a-f]{12}$/;

/** Whether a directory entry is one of dvx's temp files: never data, whoever wrote it. */
export function isDvxTemp(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Whether it is a temp file whose writer is gone (or unknown: an older version's), so safe to delete. */
export function isStaleDvxTemp(name: string): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m) return false;
  if (m[1] === undefined) return true;
  const pid = Number(m[1]);
  return pid !== process.pid && !processAlive(pid);
}

/** Deletes the stale temp files in `dir`; returns their names. */
export function removeStaleTemps(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of entries) {
    if (!isStaleDvxTemp(name)) continue;
    // a folder too: `dvx get` unpacks a directory into a temp folder
    rmSync(join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Appends `block` to a text file (created if missing) unless one of its lines
 * is `line` already: how .gitignore and .gitattributes entries are added, so
 * that running a command twice adds nothing. Returns whether it wrote.
 */
export function appendLineOnce(path: string, line: string, block = `${line}\n`): boolean {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (text.split('\n').includes(line)) return false;
  writeFileAtomic(path, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${block}`);
  return true;
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
