import { execFile as execFileCb, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { DvxError } from '../core/errors.ts';

/**
 * The git CLI, for what must go through it: anything that writes the repository
 * (staging pointers), asking git where things are, and bulk reads of history
 * (cli/history/git-batch.ts: one read-only plumbing command for a thousand
 * commits). Other history reads use isomorphic-git; neither writes the
 * repository while the other may.
 */
const execFile = promisify(execFileCb);

/** What a git command that could not start (`err`) or failed (its `stderr`) is reported as. */
export function gitError(args: readonly string[], err: unknown, stderr?: string): DvxError {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return new DvxError('git_missing', 'git is not installed or not on the PATH', 'install git');
  return new DvxError('git_failed', `git ${args.join(' ')} failed: ${stderr?.trim() || String(err)}`);
}

export function gitSync(cwd: string, args: string[], opts: { input?: string | Buffer; allowFail?: boolean; env?: Record<string, string> } = {}): string {
  try {
    const env = opts.env ? { ...process.env, ...opts.env } : undefined;
    return execFileSync('git', args, { cwd, encoding: 'utf8', input: opts.input, env, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  } catch (err) {
    if (opts.allowFail) return '';
    throw gitError(args, err, (err as { stderr?: string }).stderr);
  }
}

/** A read-only git command's raw output (object contents are bytes, not text). */
export function gitBytes(cwd: string, args: string[], input?: string | Buffer): Buffer {
  try {
    return execFileSync('git', args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  } catch (err) {
    throw gitError(args, err, (err as { stderr?: Buffer }).stderr?.toString('utf8'));
  }
}

export async function git(cwd: string, args: string[]): Promise<string> {
  try {
    return (await execFile('git', args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20 })).stdout;
  } catch (err) {
    throw gitError(args, err, (err as { stderr?: string }).stderr);
  }
}

/** Whether git knows `a` as an ancestor of `b` (false also when it does not have `a`). */
export function isAncestor(root: string, a: string, b: string): boolean {
  return spawnSync('git', ['merge-base', '--is-ancestor', a, b], { cwd: root, stdio: 'ignore' }).status === 0;
}

/** The top of the git working tree containing `dir`, or undefined outside one. */
export function gitTopLevel(dir: string): string | undefined {
  const out = gitSync(dir, ['rev-parse', '--show-toplevel'], { allowFail: true }).trim();
  return out || undefined;
}

/** Stages paths (relative to `root`); ignores paths that git ignores. */
export function gitAdd(root: string, paths: string[]): void {
  if (paths.length === 0) return;
  gitSync(root, ['add', '--', ...paths]);
}

/** Paths (relative to `root`) of files git knows or would add, matching the pathspecs. */
export function gitListFiles(root: string, pathspecs: string[]): string[] {
  const out = gitSync(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate', '--', ...pathspecs]);
  return out.split('\0').filter(Boolean);
}
