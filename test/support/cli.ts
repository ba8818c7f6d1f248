import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/**
 * Runs the real, compiled `dvx` (dist/, built by `npm test`) in real git
 * repositories, the way users do.
 */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DVX_BIN = join(REPO_ROOT, 'dist', 'dvx', 'dvx.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string } = { cwd: process.cwd() }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, DVX_NO_PROGRESS: '1', ...opts.env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export function dvx(cwd: string, args: string[], env?: Record<string, string>): Promise<RunResult> {
  return run(process.execPath, [DVX_BIN, ...args], { cwd, env });
}

/** Runs dvx and fails the test with its output if it exits non-zero. */
export async function dvxOk(cwd: string, args: string[], env?: Record<string, string>): Promise<RunResult> {
  const r = await dvx(cwd, args, env);
  if (r.code !== 0) throw new Error(`dvx ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export async function dvxJson<T = any>(cwd: string, args: string[], env?: Record<string, string>): Promise<T> {
  return JSON.parse((await dvxOk(cwd, [...args, '--json'], env)).stdout) as T;
}

export function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs git as the hooks see it (progress off) and returns { code, stdout, stderr } without throwing. */
export function gitRun(cwd: string, args: string[], env: Record<string, string> = {}): RunResult {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, DVX_NO_PROGRESS: '1', ...env } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** gitRun that fails the test with git's output on a non-zero exit; returns stdout and stderr. */
export function gitOk(cwd: string, args: string[], env: Record<string, string> = {}): string {
  const r = gitRun(cwd, args, env);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

export function tempDir(t: TestContext, prefix = 'dvx-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Retried: a detached dvx process (a push's settler, a background repro) may still be finishing in it.
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/** A fresh git repository with dvx initialized. */
export async function workspace(t: TestContext): Promise<string> {
  const dir = tempDir(t);
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['config', 'user.email', 'test@example.com']);
  git(dir, ['config', 'user.name', 'dvx test']);
  git(dir, ['config', 'commit.gpgsign', 'false']);
  await dvxOk(dir, ['init', '-q']);
  return dir;
}

/** A workspace with dvx's hooks installed, a bare git remote `origin` (branch main) and `dvxRemoteUrl` as its default dvx remote. */
export async function hookedWorkspace(t: TestContext, dvxRemoteUrl: string): Promise<{ ws: string; bare: string }> {
  const ws = await workspace(t);
  const bare = tempDir(t, 'dvx-bare-');
  git(bare, ['init', '-q', '--bare', '-b', 'main']);
  git(ws, ['remote', 'add', 'origin', bare]);
  await dvxOk(ws, ['install']);
  await dvxOk(ws, ['remote', 'add', '--default', 'origin', dvxRemoteUrl]);
  return { ws, bare };
}
