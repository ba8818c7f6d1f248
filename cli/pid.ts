import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

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

/**
 * A process's command name and the fields of /proc/<pid>/stat after it
 * (state, ppid, pgrp, ...); undefined if there is no such process or no /proc.
 * The name may hold spaces and parentheses, so the line is split at its last ')'.
 */
export function procStat(pid: number): { comm: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
  } catch {
    return undefined;
  }
}

/** A process's parent and command name (Linux's /proc, else `ps`); undefined if it is gone. */
function parentOf(pid: number): { ppid: number; comm: string } | undefined {
  const stat = procStat(pid);
  if (stat) return { ppid: Number(stat.fields[1]), comm: stat.comm };
  if (existsSync('/proc/self/stat')) return undefined;
  const r = spawnSync('ps', ['-o', 'ppid=', '-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' });
  const m = /^\s*(\d+)\s+(.*)$/.exec(r.stdout?.trim() ?? '');
  return m ? { ppid: Number(m[1]), comm: basename(m[2]!.trim()) } : undefined;
}

/**
 * The nearest ancestor of this process whose command is `name` (at most
 * `levels` up): a hook finds the git that runs it this way, through the shim
 * and any hook manager in between.
 */
export function ancestorNamed(name: string, levels = 6): number | undefined {
  let pid = process.ppid;
  for (let i = 0; i < levels && pid > 1; i++) {
    const p = parentOf(pid);
    if (!p) return undefined;
    if (p.comm === name) return pid;
    pid = p.ppid;
  }
  return undefined;
}
