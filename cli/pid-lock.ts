import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DvxError } from '../core/errors.ts';
import { processAlive } from './pid.ts';

/**
 * A lock file that names its holder, `{"pid": 42, "what": "…", "since": "<ISO time>"}`,
 * created exclusively. A holder that is gone (crashed, killed) is taken over,
 * so a crash never leaves the lock held; a live one is waited for up to
 * `waitMs`, then `busy` says who holds it. A file still being written (no
 * holder yet) is looked at again.
 */
export interface LockHolder {
  pid?: number;
  what?: string;
  since?: string;
}

export class PidLock {
  private constructor(private readonly path: string) {}

  static async acquire(path: string, opts: { what: string; waitMs?: number; pollMs?: number; busy: (holder: LockHolder) => DvxError }): Promise<PidLock> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, JSON.stringify({ pid: process.pid, what: opts.what, since: new Date().toISOString() }));
        closeSync(fd);
        return new PidLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: LockHolder = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
      } catch {
        // being written, or released, right now: look again
      }
      if (holder.pid && !processAlive(holder.pid)) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw opts.busy(holder);
      await sleep(opts.pollMs ?? 200);
    }
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}
