import { cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { gitSync } from '../git.ts';
import { installHooks, uninstallHooks, type InstallReport, type UninstallReport } from './installer.ts';

/**
 * `dvx install --global` and `dvx uninstall --global`: git copies the folder
 * named by init.templateDir into every repository `git init` and `git clone`
 * make, so dvx's hooks go there.
 *
 * dvx points init.templateDir at a folder of its own (under
 * $XDG_CONFIG_HOME/dvx), filled first with what git would otherwise have
 * copied: the template named before (its hooks are then chained like any
 * other), else git's default template (info/exclude, description, sample
 * hooks). A folder with dvx's hooks alone would leave every new repository
 * without them. The value it replaced is kept in the global git config as
 * dvx.previousTemplateDir; uninstall puts it back (or unsets init.templateDir
 * if there was none) and deletes dvx's folder, which held only copies.
 */
const KEY = 'init.templateDir';
const PREVIOUS_KEY = 'dvx.previousTemplateDir';

export interface GlobalInstallReport extends InstallReport {
  templateDir: string;
  /** the init.templateDir value replaced (restored by uninstall), or null */
  previous: string | null;
  /** the template copied into dvx's folder, or null when none could be found */
  copiedFrom: string | null;
}

export interface GlobalUninstallReport extends UninstallReport {
  /** init.templateDir after uninstall: the previous value, or null when unset */
  templateDir: string | null;
}

export function dvxTemplateDir(): string {
  const base = process.env.XDG_CONFIG_HOME || join(process.env.HOME ?? '', '.config');
  return join(base, 'dvx', 'git-template');
}

export function installGlobal(): GlobalInstallReport {
  const ours = dvxTemplateDir();
  const current = globalConfig(KEY);
  let previous: string | null;
  let source: string | undefined;
  if (current !== undefined && samePath(current, ours)) {
    // Installed before (perhaps by a dvx that copied nothing): only add what is missing.
    previous = globalConfig(PREVIOUS_KEY) ?? null;
    source = templateSource(previous ?? undefined);
    if (source) copyTemplate(source, ours, false);
  } else {
    previous = current ?? null;
    source = templateSource(current);
    rmSync(ours, { recursive: true, force: true });
    if (source) copyTemplate(source, ours, true);
  }
  ensureExclude(ours);
  const hooks = installHooks(join(ours, 'hooks'));
  // Last, so that a failure above leaves git's configuration as it was.
  if (previous !== null) setGlobalConfig(PREVIOUS_KEY, previous);
  else unsetGlobalConfig(PREVIOUS_KEY);
  setGlobalConfig(KEY, ours);
  return { ...hooks, templateDir: ours, previous, copiedFrom: source ?? null };
}

export function uninstallGlobal(): GlobalUninstallReport {
  const ours = dvxTemplateDir();
  const current = globalConfig(KEY);
  let report: UninstallReport = { dir: join(ours, 'hooks'), removed: [], restored: [] };
  let templateDir = current ?? null;
  if (current !== undefined && !samePath(current, ours)) {
    // An older dvx installed its hooks into the user's own template.
    report = uninstallHooks(join(expandHome(current), 'hooks'));
  } else if (current !== undefined) {
    const previous = globalConfig(PREVIOUS_KEY);
    if (previous !== undefined) setGlobalConfig(KEY, previous);
    else unsetGlobalConfig(KEY);
    templateDir = previous ?? null;
  }
  unsetGlobalConfig(PREVIOUS_KEY);
  if (existsSync(ours)) {
    const r = uninstallHooks(join(ours, 'hooks'));
    if (report.removed.length === 0) report = r;
    rmSync(ours, { recursive: true, force: true });
  }
  return { ...report, templateDir };
}

/** What to copy into dvx's folder: the template named before if it exists, else git's default one. */
function templateSource(previous: string | undefined): string | undefined {
  const named = previous ?? systemConfig(KEY);
  if (named !== undefined && isDir(expandHome(named))) return expandHome(named);
  return gitDefaultTemplate();
}

/**
 * Where git keeps its default template: beside its exec path
 * (<prefix>/libexec/git-core or <prefix>/lib/git-core, then
 * <prefix>/share/git-core/templates), else the usual install prefixes.
 */
export function gitDefaultTemplate(): string | undefined {
  const exec = gitSync(process.cwd(), ['--exec-path'], { allowFail: true }).trim();
  const candidates = [
    ...(exec ? [resolve(exec, '..', '..', 'share', 'git-core', 'templates')] : []),
    '/usr/share/git-core/templates',
    '/usr/local/share/git-core/templates',
    '/opt/homebrew/share/git-core/templates',
  ];
  return candidates.find(isDir);
}

function copyTemplate(from: string, to: string, overwrite: boolean): void {
  mkdirSync(to, { recursive: true });
  try {
    cpSync(from, to, { recursive: true, force: overwrite, errorOnExist: false, verbatimSymlinks: true });
  } catch (err) {
    throw new DvxError('template_copy_failed', `cannot copy git's template ${from} into ${to}: ${(err as Error).message}`, `check that ${from} is readable, or set init.templateDir to another folder and run \`dvx install --global\` again`);
  }
}

/** Without a template to copy, still give new repositories the info/exclude git always writes. */
function ensureExclude(dir: string): void {
  const exclude = join(dir, 'info', 'exclude');
  if (existsSync(exclude)) return;
  mkdirSync(join(dir, 'info'), { recursive: true });
  writeFileSync(exclude, "# git ls-files --others --exclude-from=.git/info/exclude\n# Lines that start with '#' are comments.\n");
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(process.env.HOME ?? '', path.slice(1)) : path;
}

function samePath(a: string, b: string): boolean {
  return resolve(expandHome(a)) === resolve(expandHome(b));
}

function globalConfig(key: string): string | undefined {
  const v = gitSync(process.cwd(), ['config', '--global', '--get', key], { allowFail: true }).replace(/\n$/, '');
  return v === '' ? undefined : v;
}

function systemConfig(key: string): string | undefined {
  const v = gitSync(process.cwd(), ['config', '--system', '--get', key], { allowFail: true }).replace(/\n$/, '');
  return v === '' ? undefined : v;
}

function setGlobalConfig(key: string, value: string): void {
  gitSync(process.cwd(), ['config', '--global', key, value]);
}

function unsetGlobalConfig(key: string): void {
  // git fails when the key is not set; whether it is gone is what matters.
  gitSync(process.cwd(), ['config', '--global', '--unset-all', key], { allowFail: true });
  if (globalConfig(key) !== undefined) throw new DvxError('git_config_failed', `cannot remove ${key} from your global git configuration`, `remove it with \`git config --global --unset ${key}\``);
}
