import { join } from 'node:path';
import { stringify } from 'yaml';
import { DvxError } from '../../core/errors.ts';
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
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new DvxError('bad_config', `${key}: ${issue.path.join('.') === key ? '' : `${issue.path.join('.')}: `}${issue.message}`, 'see DEVELOPERS.md or README.md for the settings');
  }
  writeConfigFile(path, checked.data);
  info(opts, opts.unset ? `unset ${key}` : `${key} = ${JSON.stringify(node[last])} (in ${opts.local ? LOCAL_CONFIG_FILE : CONFIG_FILE})`);
}

function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+$/.test(v)) return Number(v);
  return v;
}
