import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DvxError } from '../../core/errors.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { gitSync } from '../git.ts';

/**
 * Puts dvx's hook shims (hooks/shim.sh) where git looks for hooks, and takes
 * them away again.
 *
 * - The directory is what `git rev-parse --git-path hooks` says, so
 *   core.hooksPath (husky and friends) is respected.
 * - A hook already there is never overwritten: it is renamed
 *   `<hook>.dvx-chained` and the shim runs it first; uninstall renames it back.
 *   A symlink (a team's shared hooks) is renamed as the link itself, even when
 *   what it points to is missing: the shim then skips it, as git skips a hook
 *   whose file is missing, and it works again once its target is back.
 * - Installing twice only refreshes the shims (e.g. after dvx moved).
 * - The shim records the absolute paths of node and of this dvx, so hooks work
 *   where dvx is not on the PATH (GUI clients, CI).
 */
export const HOOK_NAMES = ['pre-commit', 'post-commit', 'pre-push', 'post-checkout', 'post-merge', 'post-rewrite'] as const;
export type HookName = (typeof HOOK_NAMES)[number];
/** Not a git hook: what pre-push leaves running after a push (`dvx hook settle-push`, ../remote/push-settle.ts). */
export const SETTLE_HOOK = 'settle-push';
const MARKER = '# dvx hook shim';
const CHAINED = '.dvx-chained';

function packageRoot(): string {
  // cli/hooks/installer.ts or dist/cli/hooks/installer.js
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the dvx package root');
    dir = up;
  }
  return dir;
}

function dvxEntry(): string {
  // The dvx that runs `install` hooks itself in, wherever it was built (a global
  // install, a benchmark's private build), not whatever dist/ its sources sit beside.
  const self = process.argv[1] && existsSync(process.argv[1]) ? realpathSync(process.argv[1]) : undefined;
  if (self && basename(self) === 'dvx.js') return self;
  const root = packageRoot();
  const built = join(root, 'dist', 'dvx', 'dvx.js');
  if (!existsSync(built)) throw new DvxError('not_built', `dvx is not built (${built} is missing)`, 'run `npm run build` in the dvx checkout');
  return built;
}

function shimText(hook: HookName): string {
  const template = readFileSync(join(packageRoot(), 'hooks', 'shim.sh'), 'utf8');
  const quote = (s: string) => s.replace(/'/g, `'\\''`);
  return template.replaceAll('__HOOK__', hook).replaceAll('__NODE__', quote(process.execPath)).replaceAll('__DVX__', quote(dvxEntry()));
}

/** Whether a dvx shim is at `path`: dvx writes them as plain files, so a symlink is always someone else's hook. */
export function isShim(path: string): boolean {
  try {
    return lstatSync(path).isFile() && readFileSync(path, 'utf8').includes(MARKER);
  } catch {
    return false;
  }
}

/** Whether anything is at `path`, a dangling symlink included (existsSync follows links). */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A symlink whose target is missing, or undefined. */
function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() && !existsSync(path) ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** The directory git runs hooks from, for the repository at `root`. */
export function hooksDir(root: string): string {
  const p = gitSync(root, ['rev-parse', '--git-path', 'hooks']).trim();
  return isAbsolute(p) ? p : resolve(root, p);
}

export interface InstallReport {
  dir: string;
  installed: HookName[];
  chained: HookName[];
  refreshed: HookName[];
  /** chained hooks that are symlinks to nothing (yet): the shim skips them until their target exists */
  missing: { hook: HookName; target: string }[];
}

export function installHooks(dir: string): InstallReport {
  const report: InstallReport = { dir, installed: [], chained: [], refreshed: [], missing: [] };
  mkdirSync(dir, { recursive: true });
  for (const hook of HOOK_NAMES) {
    const path = join(dir, hook);
    const chained = path + CHAINED;
    if (present(path) && !isShim(path)) {
      if (present(chained)) {
        throw new DvxError('hook_conflict', `${path} is not a dvx shim, and ${chained} exists too`, `decide which one to keep, remove the other, and run \`dvx install\` again`);
      }
      renameSync(path, chained);
      report.chained.push(hook);
    }
    const refreshed = present(path);
    writeFileAtomic(path, shimText(hook), { mode: 0o755 });
    chmodSync(path, 0o755);
    (refreshed ? report.refreshed : report.installed).push(hook);
    const target = danglingTarget(chained);
    if (target !== undefined) report.missing.push({ hook, target });
  }
  return report;
}

export interface UninstallReport {
  dir: string;
  removed: HookName[];
  restored: HookName[];
}

export function uninstallHooks(dir: string): UninstallReport {
  const report: UninstallReport = { dir, removed: [], restored: [] };
  for (const hook of HOOK_NAMES) {
    const path = join(dir, hook);
    const chained = path + CHAINED;
    if (isShim(path)) {
      rmSync(path);
      report.removed.push(hook);
      if (present(chained)) {
        renameSync(chained, path);
        report.restored.push(hook);
      }
    }
  }
  return report;
}
