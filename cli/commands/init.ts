import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { appendLineOnce, writeFileAtomic } from '../fs-util.ts';
import { gitAdd, gitTopLevel } from '../git.ts';
import { info, printJson, type OutputOptions } from '../ui.ts';
import { excludeCloneState, PER_CLONE_ENTRIES } from '../workspace/clone-exclude.ts';
import { writeConfigFile } from '../workspace/config.ts';
import { CONFIG_FILE, DVX_DIR, Workspace } from '../workspace/workspace.ts';

/** Everything under .dvx/ except the shared config is per-clone. */
const DVX_GITIGNORE = `# dvx: per-clone state, never committed\n${PER_CLONE_ENTRIES.map((e) => `/${e}\n`).join('')}`;
/**
 * Pointers merge as wholes (merge=binary): on a conflict git keeps ours in the
 * working tree and writes no markers, so the pointer still names the data there.
 */
const ATTRIBUTES_LINE = '*.dvx text eol=lf -diff merge=binary';
/** What an older `dvx init` wrote: replaced by ATTRIBUTES_LINE in place. */
const OLD_ATTRIBUTES_LINES = ['*.dvx text eol=lf -diff'];
/**
 * `dvx add` appends a line to the .gitignore of the data's directory; two
 * branches that add data in the same directory would always conflict there.
 * git's union driver keeps both sides' lines.
 */
const GITIGNORE_MERGE_LINE = '.gitignore merge=union';
const GITIGNORE_MERGE = `# dvx: branches that each add data in a directory keep both ignore entries\n${GITIGNORE_MERGE_LINE}\n`;
/** Replaces the first of `old` lines found in the file by `line`, unless `line` is there already; true if it did. */
function replaceLine(path: string, old: string[], line: string): boolean {
  if (!existsSync(path)) return false;
  const lines = readFileSync(path, 'utf8').split('\n');
  const at = lines.findIndex((l) => old.includes(l));
  if (at < 0 || lines.includes(line)) return false;
  lines[at] = line;
  writeFileAtomic(path, lines.join('\n'));
  return true;
}

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
  const attributes = join(root, '.gitattributes');
  const upgraded = replaceLine(attributes, OLD_ATTRIBUTES_LINES, ATTRIBUTES_LINE);
  const appended = [appendLineOnce(attributes, ATTRIBUTES_LINE), appendLineOnce(attributes, GITIGNORE_MERGE_LINE, GITIGNORE_MERGE)];
  if (upgraded || appended.includes(true)) created.push('.gitattributes');
  if (appendLineOnce(join(root, '.gitignore'), TEMP_IGNORE_LINE, TEMP_IGNORE)) created.push('.gitignore');
  // Validates the config and creates the cache.
  const ws = Workspace.at(root);
  await ws.cache();
  await ws.close();
  gitAdd(root, [`${DVX_DIR}/${CONFIG_FILE}`, `${DVX_DIR}/.gitignore`, '.gitattributes', '.gitignore']);
  excludeCloneState(root);
  if (opts.json) printJson({ root, initialized: !already, created });
  else if (already) info(opts, `dvx is already initialized in ${root}${created.length ? ` (restored ${created.join(', ')})` : ''}`);
  else info(opts, `Initialized dvx in ${dvx}\nNext: \`dvx add <data>\`, then \`git commit\`.`);
}
