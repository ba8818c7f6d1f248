import { DvxError } from '../../core/errors.ts';
import { gitTopLevel } from '../git.ts';
import { installGlobal, uninstallGlobal } from '../hooks/global-template.ts';
import { hooksDir, installHooks, uninstallHooks } from '../hooks/installer.ts';
import { info, printJson, warn, type OutputOptions } from '../ui.ts';
import { excludeCloneState } from '../workspace/clone-exclude.ts';

interface InstallOptions extends OutputOptions {
  global?: boolean;
}

function repoTop(): string {
  const top = gitTopLevel(process.cwd());
  if (!top) throw new DvxError('not_a_git_repo', `${process.cwd()} is not inside a git working tree`, 'run it inside the repository, or use --global for every new clone');
  return top;
}

function installInRepo() {
  const top = repoTop();
  // Each clone runs install once: the place to keep its .dvx state ignored even in commits from before `dvx init`.
  excludeCloneState(top);
  return installHooks(hooksDir(top));
}

export async function install(opts: InstallOptions): Promise<void> {
  const g = opts.global ? installGlobal() : undefined;
  const r = g ?? installInRepo();
  for (const m of r.missing) warn(`your ${m.hook} hook is a symlink to ${m.target}, which does not exist: like git, the hooks skip it until it does`);
  if (opts.json) return printJson(r);
  info(opts, `dvx hooks ${r.installed.length ? 'installed' : 'refreshed'} in ${r.dir}${r.chained.length ? `\nkept your existing ${r.chained.join(', ')} hook(s): they run first` : ''}`);
  if (g) {
    info(opts, `init.templateDir is ${g.templateDir}${g.copiedFrom ? ` (with a copy of ${g.copiedFrom})` : ''}; \`dvx uninstall --global\` ${g.previous ? `sets it back to ${g.previous}` : 'unsets it'}`);
    info(opts, 'every new `git clone` or `git init` gets the hooks; run `dvx pull` in a fresh clone to get its data');
  }
}

export async function uninstall(opts: InstallOptions): Promise<void> {
  const g = opts.global ? uninstallGlobal() : undefined;
  const r = g ?? uninstallHooks(hooksDir(repoTop()));
  if (opts.json) return printJson(r);
  info(opts, r.removed.length ? `removed dvx hooks from ${r.dir}${r.restored.length ? `; restored ${r.restored.join(', ')}` : ''}` : `no dvx hooks in ${r.dir}`);
  if (g) info(opts, g.templateDir ? `init.templateDir is back to ${g.templateDir}` : 'init.templateDir is unset: git uses its default template again');
}
