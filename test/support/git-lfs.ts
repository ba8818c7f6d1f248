import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { run, tempDir, type RunResult } from './cli.ts';

/**
 * A git + git-lfs user for tests: a private HOME whose global config points
 * git-lfs at a dvx-server (`lfs.url`) and answers credentials from a helper
 * script (any user name, the dvx token as password), so nothing ever prompts.
 */
export interface LfsUser {
  readonly env: Record<string, string>;
  readonly home: string;
  git(cwd: string, args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  /** git, failing the test with its output unless it exits 0 */
  gitOk(cwd: string, args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
}

export async function lfsUser(t: TestContext, opts: { lfsUrl: string; password: string; name: string; locksVerify?: boolean }): Promise<LfsUser> {
  const home = tempDir(t, 'dvx-lfs-home-');
  const helper = join(home, 'credential-helper.sh');
  // The token goes in the file, not the command line: it never shows in `ps`.
  // Like a real store, it forgets credentials git rejects (else git-lfs retries a wrong password forever).
  writeFileSync(
    helper,
    `#!/bin/sh\ncase "$1" in\n  get) test -e "$0.rejected" || printf 'username=%s\\npassword=%s\\n' '${opts.name}' '${opts.password}' ;;\n  erase) touch "$0.rejected" ;;\nesac\n`,
  );
  chmodSync(helper, 0o700);
  writeFileSync(
    join(home, '.gitconfig'),
    [
      '[user]',
      `\tname = ${opts.name}`,
      `\temail = ${opts.name}@example.com`,
      '[commit]',
      '\tgpgsign = false',
      '[init]',
      '\tdefaultBranch = main',
      '[credential]',
      `\thelper = ${helper}`,
      '[lfs]',
      `\turl = ${opts.lfsUrl}`,
      `\tlocksverify = ${opts.locksVerify === false ? 'false' : 'true'}`,
      // Failures should show fast: the default retries back off for minutes.
      '[lfs "transfer"]',
      '\tmaxretries = 3',
      '\tmaxretrydelay = 1',
      '',
    ].join('\n'),
  );
  mkdirSync(join(home, 'tmp'), { recursive: true });
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' };
  const git = (cwd: string, args: string[], extraEnv: Record<string, string> = {}) => run('git', args, { cwd, env: { ...env, ...extraEnv } });
  const gitOk = async (cwd: string, args: string[], extraEnv?: Record<string, string>) => {
    const r = await git(cwd, args, extraEnv);
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const r = await git(home, ['lfs', 'install', '--skip-repo']);
  if (r.code !== 0) throw new Error(`git lfs install failed: ${r.stderr}`);
  return { env, home, git, gitOk };
}

/** A bare git remote (the git side of a push; the LFS side goes to dvx-server). */
export async function bareRemote(t: TestContext, user: LfsUser): Promise<string> {
  const bare = tempDir(t, 'dvx-lfs-bare-');
  await user.gitOk(bare, ['init', '-q', '--bare', '-b', 'main']);
  return bare;
}

/** A fresh repository of `user` tracking `patterns` with git-lfs, with `bare` as origin. */
export async function lfsRepo(t: TestContext, user: LfsUser, bare: string, patterns: string[]): Promise<string> {
  const ws = tempDir(t, 'dvx-lfs-ws-');
  await user.gitOk(ws, ['init', '-q', '-b', 'main']);
  await user.gitOk(ws, ['lfs', 'install', '--local']);
  for (const p of patterns) await user.gitOk(ws, ['lfs', 'track', p]);
  await user.gitOk(ws, ['remote', 'add', 'origin', bare]);
  return ws;
}
