import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { HOOK_NAMES, SETTLE_HOOK, type HookName } from '../hooks/installer.ts';
import { gitSync, gitTopLevel } from '../git.ts';
import { CONFIG_FILE, DVX_DIR, PIPELINE_FILE } from '../workspace/names.ts';
import { warn } from '../ui.ts';
import type { HeadMove } from '../hooks/materialize.ts';
import type { Workspace } from '../workspace/workspace.ts';

/**
 * `dvx hook <name> [args...]`: what the shims in .git/hooks call. In a
 * repository without dvx (e.g. hooks installed globally) every hook is a no-op.
 */
export async function run(name: string, args: string[]): Promise<void> {
  if (name === SETTLE_HOOK) return settlePush();
  if (!(HOOK_NAMES as readonly string[]).includes(name)) throw new DvxError('usage', `unknown hook ${JSON.stringify(name)}; dvx handles ${HOOK_NAMES.join(', ')}`);
  if (name === 'pre-commit' || name === 'pre-push') return runHook(name, args);
  // The others run after git has done its work and cannot undo it: a failing exit
  // would only make `git checkout` report failure for a switch that happened.
  try {
    await runHook(name as HookName, args);
  } catch (err) {
    const hint = err instanceof DvxError && err.hint ? ` (${err.hint})` : '';
    warn(`${name}: the data was not updated: ${(err as Error).message}${hint}`);
  }
}

async function runHook(name: HookName, args: string[]): Promise<void> {
  const top = gitTopLevel(process.cwd());
  if (!top) return;
  // A checkout of a commit from before `dvx init` has no config, but this clone's
  // .dvx state is still there, and so is the data of the pointers git just removed.
  const afterCheckout = name === 'post-checkout' || name === 'post-merge' || name === 'post-rewrite';
  if (!existsSync(join(top, DVX_DIR, CONFIG_FILE)) && !(afterCheckout && existsSync(join(top, DVX_DIR)))) return;
  // post-commit acts only on a pipeline or a merge commit: otherwise it need not load the workspace (~0.1 s on every commit).
  const merge = name === 'post-commit' ? mergeMove(top) : undefined;
  if (name === 'post-commit' && !existsSync(join(top, PIPELINE_FILE)) && !merge) return;
  const { Workspace } = await import('../workspace/workspace.ts');
  // The top was just asked of git: do not ask again (each git start costs ~30 ms, on every commit).
  const ws = Workspace.at(realpathSync(top));
  try {
    await dispatch(ws, name, args, merge);
  } finally {
    await ws.close();
  }
}

async function dispatch(ws: Workspace, hook: HookName, args: string[], merge: HeadMove | undefined): Promise<void> {
  switch (hook) {
    case 'pre-commit':
      return (await import('../hooks/pre-commit.ts')).preCommit(ws);
    case 'pre-push':
      return (await import('../hooks/pre-push.ts')).prePush(ws, await readStdin(), args);
    case 'post-checkout':
    case 'post-merge':
    case 'post-rewrite': {
      if (hook === 'post-rewrite') await readStdin();
      const { headMoves, materializeAfterGit } = await import('../hooks/materialize.ts');
      return materializeAfterGit(ws, headMoves(ws, hook, args));
    }
    case 'post-commit': {
      void args;
      // git runs no post-merge hook for a merge it stopped (a conflict); the commit that concludes it
      // is the first hook after it, so the data the merge brought in is checked out here.
      if (merge) await (await import('../hooks/materialize.ts')).materializeAfterGit(ws, [merge]);
      return (await import('../hooks/post-commit.ts')).postCommit(ws);
    }
  }
}

/** The detached settler pre-push starts (../remote/push-settle.ts): not a git hook, and nobody watches it. */
async function settlePush(): Promise<void> {
  const top = gitTopLevel(process.cwd());
  if (!top) return;
  const { Workspace } = await import('../workspace/workspace.ts');
  const ws = Workspace.at(realpathSync(top));
  try {
    await (await import('../remote/push-settle.ts')).settleAfterPush(ws);
  } finally {
    await ws.close();
  }
}

/** For a merge commit at HEAD, the move from its first parent; undefined for any other commit (one git call). */
function mergeMove(dir: string): HeadMove | undefined {
  const [head, first, second] = gitSync(dir, ['show', '-s', '--format=%H %P', 'HEAD'], { allowFail: true }).trim().split(' ');
  return head && first && second ? { from: first, to: head } : undefined;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
