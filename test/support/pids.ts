import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

/**
 * Process ids for tests of what dvx leaves behind (lock files, temp files):
 * one of a process that has exited, and one of a process that runs for as long
 * as the test needs it.
 */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.equal(r.status, 0);
  return r.pid!;
}

export async function withLivePid(fn: (pid: number) => void | Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  try {
    await fn(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}
