import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { parseRemoteUrl } from '../remote/remote-url.ts';
import { gitAdd } from '../git.ts';
import { info, printJson, type OutputOptions } from '../ui.ts';
import { missingDefaultRemote, readConfigFile, writeConfigFile } from '../workspace/config.ts';
import { CONFIG_FILE, LOCAL_CONFIG_FILE, Workspace } from '../workspace/workspace.ts';

/** `dvx remote add|list|remove|default`: where pushed data goes, kept in .dvx/config.yaml (or config.local.yaml with --local). */
interface RemoteOptions extends OutputOptions {
  default?: boolean;
  local?: boolean;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function configFile(ws: Workspace, local?: boolean): string {
  return join(ws.dvxDir, local ? LOCAL_CONFIG_FILE : CONFIG_FILE);
}

/** The shared config is part of the project: stage it, as `dvx add` stages pointers. */
function save(ws: Workspace, path: string, config: ReturnType<typeof readConfigFile>, local?: boolean): void {
  writeConfigFile(path, config);
  if (!local) gitAdd(ws.root, [`.dvx/${CONFIG_FILE}`]);
}

export async function add(name: string, url: string, opts: RemoteOptions): Promise<void> {
  if (!NAME_RE.test(name)) throw new DvxError('usage', `invalid remote name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-"`);
  const parsed = parseRemoteUrl(url);
  const ws = Workspace.find();
  const path = configFile(ws, opts.local);
  const config = readConfigFile(path);
  if (config.remotes?.[name]) throw new DvxError('remote_exists', `remote ${name} already exists (${config.remotes[name].url})`, `remove it first: \`dvx remote remove ${name}\``);
  config.remotes = { ...config.remotes, [name]: { url: parsed.url } };
  const makeDefault = opts.default || !ws.config.default_remote;
  if (makeDefault) config.default_remote = name;
  save(ws, path, config, opts.local);
  if (opts.json) printJson({ name, url: parsed.url, repo: parsed.repo, server: parsed.base, default: makeDefault });
  else info(opts, `added remote ${name}: repository ${parsed.repo} on ${parsed.base}${makeDefault ? ' (default)' : ''}`);
}

export async function list(opts: RemoteOptions): Promise<void> {
  const ws = Workspace.find();
  const remotes = Object.entries(ws.config.remotes ?? {}).map(([name, r]) => ({ name, url: r.url, default: ws.config.default_remote === name }));
  const dangling = missingDefaultRemote(ws.config);
  if (opts.json) printJson({ remotes, ...(dangling ? { missingDefault: dangling } : {}) });
  else {
    if (remotes.length === 0) info(opts, 'no remotes; add one with `dvx remote add --default origin <url>`');
    else for (const r of remotes) info(opts, `${r.default ? '*' : ' '} ${r.name}\t${r.url}`);
    if (dangling) info(opts, `the default remote is ${JSON.stringify(dangling)}, which is not configured: pick another with \`dvx remote default <name>\``);
  }
}

export async function remove(name: string, opts: RemoteOptions): Promise<void> {
  const ws = Workspace.find();
  const path = configFile(ws, opts.local);
  const config = readConfigFile(path);
  const otherPath = configFile(ws, !opts.local);
  const other = readConfigFile(otherPath);
  if (!config.remotes?.[name]) {
    throw new DvxError('no_such_remote', `no remote named ${name} in ${path}`, other.remotes?.[name] ? `it is in ${otherPath}: ${opts.local ? 'leave out' : 'add'} --local` : 'see `dvx remote list`');
  }
  delete config.remotes[name];
  if (config.default_remote === name) delete config.default_remote;
  save(ws, path, config, opts.local);
  // The other file may name it as the default too; once no file has the remote, that choice goes with it.
  if (other.default_remote === name && !other.remotes?.[name]) {
    delete other.default_remote;
    save(ws, otherPath, other, !opts.local);
  }
  info(opts, `removed remote ${name}`);
}

export async function setDefault(name: string, opts: RemoteOptions): Promise<void> {
  const ws = Workspace.find();
  if (!ws.config.remotes?.[name]) throw new DvxError('no_such_remote', `no remote named ${name}`, 'see `dvx remote list`');
  // A remote of this clone only cannot be the default the whole project commits to.
  const local = opts.local || !readConfigFile(configFile(ws, false)).remotes?.[name];
  const path = configFile(ws, local);
  const config = readConfigFile(path);
  config.default_remote = name;
  save(ws, path, config, local);
  info(opts, `default remote is now ${name}${local && !opts.local ? ` (for this clone only, in ${LOCAL_CONFIG_FILE}: it is a remote of this clone only)` : ''}`);
}
