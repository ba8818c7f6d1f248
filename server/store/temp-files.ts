import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Temp files of one process: `DATA_DIR/tmp/<pid>-<random>/`, on the same file
 * system as the fs backend's packs (so a put is a link). A process killed
 * mid-upload leaves its folder behind; the next server start removes folders
 * whose process is gone.
 */
export class TempFiles {
  readonly dir: string;

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
    this.dir = join(root, `${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(this.dir, { recursive: true });
  }

  path(kind: string): string {
    return join(this.dir, `${kind}-${randomBytes(8).toString('hex')}`);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  /** Removes the folders of processes that are no longer running. */
  sweepStale(): number {
    let removed = 0;
    for (const name of readdirSync(this.root)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (join(this.root, name) === this.dir) continue;
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue;
      rmSync(join(this.root, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
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
