import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import * as z from '../../core/zod.ts';
import { checkChunkerParams, DEFAULT_CHUNKER } from '../../core/chunker.ts';
import { DvxError } from '../../core/errors.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { LOCAL_CONFIG_FILE } from './names.ts';

/**
 * Workspace configuration: `.dvx/config.yaml` (committed, shared by the team)
 * overlaid by `.dvx/config.local.yaml` (ignored, this clone only). Unknown keys
 * are errors, so a typo never silently does nothing.
 */
const chunkerSchema = z.strictObject({ min: z.int(), avg: z.int(), max: z.int() });

export const configSchema = z.strictObject({
  version: z._default(z.literal(1), 1),
  chunker: z.optional(chunkerSchema),
  cache: z.optional(
    z.strictObject({
      /** A cache directory shared by several clones (absolute, or relative to the workspace). */
      dir: z.optional(z.string().check(z.minLength(1))),
      /** fsync packs before indexing them: survives power loss, costs throughput. */
      fsync: z.optional(z.boolean()),
    }),
  ),
  remotes: z.optional(z.record(z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)), z.strictObject({ url: z.url() }))),
  default_remote: z.optional(z.string()),
  runner: z.optional(
    z.strictObject({
      /** what the post-commit hook does with stages a commit made stale */
      on_commit: z.optional(z.enum(['background', 'sync', 'off'])),
      /** commit the outs' pointers and dvx.lock after a run the hook started */
      autocommit: z.optional(z.boolean()),
      /** stages run at once (default: the number of CPUs) */
      jobs: z.optional(z.int().check(z.gte(1), z.lte(256))),
    }),
  ),
  hooks: z.optional(
    z.strictObject({
      /** post-checkout/merge/rewrite fetch missing data from the default remote */
      fetch: z.optional(z.boolean()),
    }),
  ),
});

export type Config = z.infer<typeof configSchema>;

export function readConfigFile(path: string): Config {
  if (!existsSync(path)) return configSchema.parse({});
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (doc.errors.length > 0) throw new DvxError('bad_config', `${path}: ${doc.errors[0]!.message}`, 'fix the YAML syntax');
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DvxError('bad_config', `${path}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`, 'fix the setting or remove it');
  }
  const c = parsed.data;
  if (c.chunker) {
    try {
      checkChunkerParams(c.chunker);
    } catch (err) {
      throw new DvxError('bad_config', `${path}: chunker: ${(err as Error).message}`);
    }
  }
  return c;
}

export function writeConfigFile(path: string, config: Config): void {
  const header =
    basename(path) === LOCAL_CONFIG_FILE
      ? '# dvx settings for this clone only, over config.yaml key by key; git ignores this file.\n'
      : '# dvx configuration. Commit this file; per-clone settings go in config.local.yaml.\n';
  writeFileAtomic(path, header + stringify(configSchema.parse(config)));
}

/**
 * The local file wins key by key over the shared one. A default remote that
 * names no remote is not an error here: the shared file is edited by others
 * (a teammate removes a remote this clone's file names), and status, add or
 * checkout must not fail on it. The local choice yields to the shared one when
 * only the shared one exists; one that names nothing is kept, for the commands
 * that need a remote to report (cli/remote/resolve.ts).
 */
export function mergeConfig(shared: Config, local: Config): Config {
  const remotes = { ...shared.remotes, ...local.remotes };
  const choices = [local.default_remote, shared.default_remote].filter((n): n is string => n !== undefined);
  const defaultRemote = choices.find((n) => remotes[n]) ?? choices[0];
  return {
    ...shared,
    ...local,
    cache: { ...shared.cache, ...local.cache },
    hooks: { ...shared.hooks, ...local.hooks },
    runner: { ...shared.runner, ...local.runner },
    remotes,
    default_remote: defaultRemote,
  };
}

/** The default remote when it names no configured remote (see mergeConfig), else undefined. */
export function missingDefaultRemote(config: Config): string | undefined {
  const name = config.default_remote;
  return name !== undefined && !config.remotes?.[name] ? name : undefined;
}

export function chunkerOf(config: Config) {
  return config.chunker ?? DEFAULT_CHUNKER;
}
