import { join } from 'node:path';
import { stringify } from 'yaml';
import { DvxError } from '../../core/errors.ts';
import { gitAdd } from '../git.ts';
import { info, printJson, type OutputOptions } from '../ui.ts';
import { configSchema, readConfigFile, writeConfigFile } from '../workspace/config.ts';
import { CONFIG_FILE, LOCAL_CONFIG_FILE, Workspace } from '../workspace/workspace.ts';

interface ConfigOptions extends OutputOptions {
  local?: boolean;
  unset?: boolean;
}

/**
 * `dvx config [key] [value]`: read or change a setting by dotted key, e.g.
 * `dvx config runner.on_commit sync`. Values are checked against the schema
 * before anything is written.
 */
export async function run(key: string | undefined, value: string | undefined, opts: ConfigOptions): Promise<void> {
  const ws = Workspace.find();
  if (!key) {
    if (opts.json) return printJson(ws.config);
    return info(opts, stringify(ws.config).trimEnd());
  }
  const parts = key.split('.');
  if (parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw new DvxError('usage', `invalid key ${JSON.stringify(key)}`);
  if (value === undefined && !opts.unset) {
    const v = parts.reduce<unknown>((o, p) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[p] : undefined), ws.config);
    if (v === undefined) throw new DvxError('not_set', `${key} is not set`);
    if (opts.json) return printJson({ key, value: v });
    return info(opts, typeof v === 'object' ? stringify(v).trimEnd() : String(v));
  }
  const path = join(ws.dvxDir, opts.local ? LOCAL_CONFIG_FILE : CONFIG_FILE);
  const raw = readConfigFile(path) as Record<string, unknown>;
  let node = raw;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (opts.unset) delete node[last];
  else node[last] = parseValue(value!);
  const checked = configSchema.safeParse(raw);
  if (!checked.success) throw new DvxError('bad_config', describeIssue(key, checked.error.issues[0]!), 'see DEVELOPERS.md or README.md for the settings');
  // The same rule as `dvx remote default`: the default must be a remote, and the committed one a committed remote.
  const chosen = checked.data.default_remote;
  if (!opts.unset && key === 'default_remote' && chosen !== undefined) {
    const known = opts.local ? ws.config.remotes : readConfigFile(join(ws.dvxDir, CONFIG_FILE)).remotes;
    if (!known?.[chosen]) {
      const cloneOnly = !opts.local && ws.config.remotes?.[chosen] !== undefined;
      throw new DvxError('no_such_remote', `default_remote: no remote named ${chosen}${opts.local ? '' : ' in the committed config'}`, cloneOnly ? `${chosen} is a remote of this clone only: add --local` : 'see `dvx remote list`');
    }
  }
  writeConfigFile(path, checked.data);
  if (!opts.local) gitAdd(ws.root, [`.dvx/${CONFIG_FILE}`]);
  info(opts, opts.unset ? `unset ${key}` : `${key} = ${JSON.stringify(node[last])} (in ${opts.local ? LOCAL_CONFIG_FILE : CONFIG_FILE})`);
}

/** One schema issue, said in terms of the key the user set. */
function describeIssue(key: string, issue: { code: string; path: PropertyKey[]; message: string; input?: unknown; keys?: string[] }): string {
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return `${key}: no such setting (${where ? `${where} has` : 'the config has'} no ${(issue.keys ?? []).map((k) => JSON.stringify(k)).join(', ')})`;
  if (where && where !== key && issue.code === 'invalid_type' && issue.input === undefined) return `${key}: ${where} must be set as well`;
  return `${key}: ${where && where !== key ? `${where}: ` : ''}${issue.message}`;
}

function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+$/.test(v)) return Number(v);
  return v;
}
