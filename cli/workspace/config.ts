import { existsSync, readFileSync } from 'node:fs';
import { parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { checkChunkerParams, DEFAULT_CHUNKER } from '../../core/chunker.ts';
import { DvxError } from '../../core/errors.ts';
import { writeFileAtomic } from '../fs-util.ts';

/**
 * Workspace configuration: `.dvx/config.yaml` (committed, shared by the team)
 * overlaid by `.dvx/config.local.yaml` (ignored, this clone only). Unknown keys
 * are errors, so a typo never silently does nothing.
 */
const chunkerSchema = z.strictObject({ min: z.number().int(), avg: z.number().int(), max: z.number().int() });

export const configSchema = z.strictObject({
  version: z.literal(1).default(1),
  chunker: chunkerSchema.optional(),
  cache: z
    .strictObject({
      /** A cache directory shared by several clones (absolute, or relative to the workspace). */
      dir: z.string().min(1).optional(),
      /** fsync packs before indexing them: survives power loss, costs throughput. */
      fsync: z.boolean().optional(),
    })
    .optional(),
  remotes: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/), z.strictObject({ url: z.string().url() })).optional(),
  default_remote: z.string().optional(),
  runner: z
    .strictObject({
      /** what the post-commit hook does with stages a commit made stale */
      on_commit: z.enum(['background', 'sync', 'off']).optional(),
      /** commit the outs' pointers and dvx.lock after a run the hook started */
      autocommit: z.boolean().optional(),
      /** stages run at once (default: the number of CPUs) */
      jobs: z.number().int().min(1).max(256).optional(),
    })
    .optional(),
  hooks: z
    .strictObject({
      /** post-checkout/merge/rewrite fetch missing data from the default remote */
      fetch: z.boolean().optional(),
    })
    .optional(),
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
  const header = '# dvx configuration. Commit this file; per-clone settings go in config.local.yaml.\n';
  writeFileAtomic(path, header + stringify(configSchema.parse(config)));
}

/** The local file wins key by key over the shared one. */
export function mergeConfig(shared: Config, local: Config): Config {
  const merged: Config = {
    ...shared,
    ...local,
    cache: { ...shared.cache, ...local.cache },
    hooks: { ...shared.hooks, ...local.hooks },
    runner: { ...shared.runner, ...local.runner },
    remotes: { ...shared.remotes, ...local.remotes },
    default_remote: local.default_remote ?? shared.default_remote,
  };
  if (merged.default_remote && !merged.remotes?.[merged.default_remote]) {
    throw new DvxError('bad_config', `default_remote ${JSON.stringify(merged.default_remote)} is not one of the remotes`, 'fix it with `dvx remote default <name>`');
  }
  return merged;
}

export function chunkerOf(config: Config) {
  return config.chunker ?? DEFAULT_CHUNKER;
}
