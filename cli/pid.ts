/**
 * Whether a process with this pid exists. Lock and temp file names carry
 * their writer's pid, so that what a crashed process left behind can be told
 * from what a running one is still using. EPERM means it exists under another
 * user.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
