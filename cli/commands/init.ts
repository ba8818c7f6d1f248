import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { appendLineOnce, writeFileAtomic } from '../fs-util.ts';
import { gitAdd, gitTopLevel } from '../git.ts';
import { info, printJson, type OutputOptions } from '../ui.ts';
import { writeConfigFile } from '../workspace/config.ts';
import { CONFIG_FILE, DVX_DIR, Workspace } from '../workspace/workspace.ts';

/** Everything under .dvx/ except the shared config is per-clone. */
const DVX_GITIGNORE = `# dvx: per-clone state, never committed
/cache/
/tmp/
/logs/
/state.sqlite*
/tracking.sqlite*
/config.local.yaml
/lock
`;
const ATTRIBUTES_LINE = '*.dvx text eol=lf -diff';
/** A write killed halfway leaves one of these beside its file until the next checkout removes it (cli/fs-util.ts). */
const TEMP_IGNORE_LINE = '.*.dvx-tmp-*';
const TEMP_IGNORE = `# dvx: temp files of an interrupted write\n${TEMP_IGNORE_LINE}\n`;

export async function run(opts: OutputOptions): Promise<void> {
  const top = gitTopLevel(process.cwd());
  if (!top) throw new DvxError('not_a_git_repo', `${process.cwd()} is not inside a git working tree`, 'run `git init` first: dvx keeps pointers to your data in git');
  const root = realpathSync(top);
  const dvx = join(root, DVX_DIR);
  const created: string[] = [];
  mkdirSync(dvx, { recursive: true });
  const configPath = join(dvx, CONFIG_FILE);
  const already = existsSync(configPath);
  if (!already) {
    writeConfigFile(configPath, { version: 1 });
    created.push(`${DVX_DIR}/${CONFIG_FILE}`);
  }
  const ignorePath = join(dvx, '.gitignore');
  if (!existsSync(ignorePath) || readFileSync(ignorePath, 'utf8') !== DVX_GITIGNORE) {
    writeFileAtomic(ignorePath, DVX_GITIGNORE);
    created.push(`${DVX_DIR}/.gitignore`);
  }
  if (appendLineOnce(join(root, '.gitattributes'), ATTRIBUTES_LINE)) created.push('.gitattributes');
  if (appendLineOnce(join(root, '.gitignore'), TEMP_IGNORE_LINE, TEMP_IGNORE)) created.push('.gitignore');
  // Validates the config and creates the cache.
  const ws = Workspace.at(root);
  await ws.cache();
  await ws.close();
  gitAdd(root, [`${DVX_DIR}/${CONFIG_FILE}`, `${DVX_DIR}/.gitignore`, '.gitattributes', '.gitignore']);
  if (opts.json) printJson({ root, initialized: !already, created });
  else if (already) info(opts, `dvx is already initialized in ${root}${created.length ? ` (restored ${created.join(', ')})` : ''}`);
  else info(opts, `Initialized dvx in ${dvx}\nNext: \`dvx add <data>\`, then \`git commit\`.`);
}
