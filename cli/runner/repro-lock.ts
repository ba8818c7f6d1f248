import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { PidLock } from '../pid-lock.ts';

/**
 * One `dvx repro` per workspace at a time: `.dvx/lock` holds the pid and what
 * it is doing (../pid-lock.ts). A second repro waits (with --wait) or says who
 * holds the lock. A lock whose process is gone is taken over.
 */
export const ReproLock = {
  acquire(dvxDir: string, what: string, opts: { waitMs?: number } = {}): Promise<PidLock> {
    return PidLock.acquire(join(dvxDir, 'lock'), {
      what,
      waitMs: opts.waitMs,
      busy: (holder) =>
        new DvxError('repro_running', `another dvx repro is running in this workspace${holder.pid ? ` (pid ${holder.pid}, ${holder.what}, since ${holder.since})` : ''}`, 'wait for it to finish, or run with --wait'),
    });
  },
};
