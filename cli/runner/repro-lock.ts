import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DvxError } from '../../core/errors.ts';

/**
 * One `dvx repro` per workspace at a time: `.dvx/lock` holds the pid and what
 * it is doing. A second repro waits (with --wait) or says who holds the lock.
 * A lock whose process is gone is taken over.
 */
export class ReproLock {
  private constructor(private readonly path: string) {}

  static async acquire(dvxDir: string, what: string, opts: { waitMs?: number } = {}): Promise<ReproLock> {
    const path = join(dvxDir, 'lock');
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }));
        closeSync(fd);
        return new ReproLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: { pid?: number; what?: string; since?: string } = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder;
      } catch {
        // being written right now: look again
      }
      if (holder.pid && !alive(holder.pid)) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new DvxError('repro_running', `another dvx repro is running in this workspace${holder.pid ? ` (pid ${holder.pid}, ${holder.what}, since ${holder.since})` : ''}`, 'wait for it to finish, or run with --wait');
      }
      await sleep(200);
    }
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
