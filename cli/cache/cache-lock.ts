import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { processAlive as alive } from '../pid.ts';

/**
 * Keeps `dvx gc` from deleting blobs under a command that uses the cache.
 * Every command that opens the cache holds a shared lock (a file
 * `locks/shared-<pid>-<random>`); gc holds the exclusive one (`locks/gc`).
 * Each side creates its own file before looking for the other's, so at least
 * one of two racing commands sees the other. Locks of dead processes are
 * ignored, so a crash never leaves the cache locked, and gc removes them.
 */
function pidOf(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function create(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export class CacheLock {
  private constructor(private readonly path: string) {}

  static shared(cacheDir: string): CacheLock {
    const dir = join(cacheDir, 'locks');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `shared-${process.pid}-${randomBytes(4).toString('hex')}`);
    create(path);
    const gcPid = pidOf(join(dir, 'gc'));
    if (gcPid && gcPid !== process.pid && alive(gcPid)) {
      rmSync(path, { force: true });
      throw new DvxError('cache_busy', `\`dvx gc\` (pid ${gcPid}) is cleaning the cache`, 'wait for it to finish, then run the command again');
    }
    return new CacheLock(path);
  }

  static exclusive(cacheDir: string): CacheLock {
    const dir = join(cacheDir, 'locks');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'gc');
    if (!create(path)) {
      const pid = pidOf(path);
      if (pid && alive(pid)) throw new DvxError('cache_busy', `another \`dvx gc\` (pid ${pid}) is running`);
      rmSync(path, { force: true });
      if (!create(path)) throw new DvxError('cache_busy', 'another `dvx gc` just started');
    }
    const users: number[] = [];
    for (const name of readdirSync(dir).filter((n) => n.startsWith('shared-'))) {
      const pid = pidOf(join(dir, name));
      if (pid === process.pid) continue;
      if (pid && alive(pid)) users.push(pid);
      // A crashed command's lock goes: left in place, its pid would in time belong to some
      // other process, and that process would keep gc out for as long as it lives. (A lock
      // still being written has no pid yet; its owner looks for gc's file next and backs off.)
      else if (pid) rmSync(join(dir, name), { force: true });
    }
    if (users.length > 0) {
      rmSync(path, { force: true });
      throw new DvxError('cache_busy', `another dvx command (pid ${users[0]}) is using the cache`, 'run `dvx gc` again when it has finished');
    }
    return new CacheLock(path);
  }

  release(): void {
    rmSync(this.path, { force: true });
  }

  /**
   * The pid of a `dvx gc` that was killed before it finished (its lock file
   * outlived it), if one was: blobs it was deleting may then be half gone.
   */
  static interruptedGc(cacheDir: string): number | undefined {
    const pid = pidOf(join(cacheDir, 'locks', 'gc'));
    return pid && pid !== process.pid && !alive(pid) ? pid : undefined;
  }
}
