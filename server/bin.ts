#!/usr/bin/env node
import { Command, Option } from 'commander';
import { DvxError } from '../core/errors.ts';
import { isRepoName } from '../core/repo-name.ts';
import { SCOPES, type Scope } from '../core/protocol.ts';
import { ConfigError, loadConfig, SETTINGS, type Config, type SettingName } from './config.ts';

/**
 * `dvx-server`: the server (default command) and its admin commands. Each
 * command opens only what it needs (token commands: the index; fsck, reindex,
 * gc: the index and storage). The index is SQLite in WAL mode, so admin
 * commands run while a server serves.
 */
const program = new Command('dvx-server')
  .description('The dvx server: a deduplicated chunk store on local disk or Azure Blob, with push/pull and plain HTTP access to datasets.')
  .version(process.env.npm_package_version ?? '0.1.0', '-V, --version')
  .showHelpAfterError('(run with --help for usage)');

for (const s of SETTINGS) {
  if (!('flag' in s)) continue;
  program.addOption(new Option(`--${s.flag} <value>`, `${s.description} [env ${s.env}${'default' in s ? `, default ${s.default}` : ''}]`));
}
program.addHelpText('after', `\nSecrets come from the environment only: ${SETTINGS.filter((s) => !('flag' in s)).map((s) => s.env).join(', ')}.`);

function config(cmd: Command): Config {
  const opts = cmd.optsWithGlobals() as Record<string, string | undefined>;
  const flags: Partial<Record<SettingName, string>> = {};
  for (const s of SETTINGS) {
    if (!('flag' in s)) continue;
    const key = s.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[key] !== undefined) flags[s.env] = opts[key];
  }
  return loadConfig(process.env, flags);
}

const json = () => new Option('--json', 'print a machine-readable JSON result on stdout');

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`dvx-server: invalid configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  if (err instanceof DvxError) {
    process.stderr.write(`dvx-server: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exit(1);
  }
  process.stderr.write(`dvx-server: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

function action(fn: (cmd: Command, ...args: string[]) => Promise<void>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    try {
      await fn(cmd, ...(args.slice(0, -2) as string[]));
    } catch (err) {
      fail(err);
    }
  };
}

program
  .command('serve', { isDefault: true })
  .description('run the HTTP server (the default command)')
  .action(
    action(async (cmd) => {
      const { serve } = await import('./serve.ts');
      await serve(config(cmd));
    }),
  );

const token = program.command('token').description('create, list and revoke API tokens (stored hashed; shown once)');
token
  .command('create')
  .description('create a token and print it (once)')
  .requiredOption('--repo <repo>', "the repository it is for, or '*' for all")
  .requiredOption('--scope <scope>', 'read, write or admin')
  .option('--description <text>', 'what or who it is for', '')
  .addOption(json())
  .action(
    action(async (cmd) => {
      const o = cmd.opts() as { repo: string; scope: string; description: string; json?: boolean };
      if (o.repo !== '*' && !isRepoName(o.repo)) throw new DvxError('bad_repo_name', `--repo ${JSON.stringify(o.repo)} is not a repository name or '*'`);
      if (!SCOPES.includes(o.scope as Scope)) throw new DvxError('bad_scope', `--scope must be read, write or admin, got ${JSON.stringify(o.scope)}`);
      const { Store } = await import('./store/store.ts');
      const idx = Store.indexOnly(config(cmd));
      try {
        const { token: t, row } = idx.tokens.create({ scope: o.scope as Scope, repo: o.repo, description: o.description });
        if (o.json) process.stdout.write(JSON.stringify({ token: t, ...row }) + '\n');
        else process.stdout.write(`${t}\n`);
        if (!o.json && process.stderr.isTTY) process.stderr.write(`token ${row.id}: ${row.scope} on ${row.repo}. It is not stored anywhere: copy it now.\n`);
      } finally {
        idx.close();
      }
    }),
  );
token
  .command('list')
  .description('list tokens (never their values)')
  .addOption(json())
  .action(
    action(async (cmd) => {
      const { Store } = await import('./store/store.ts');
      const idx = Store.indexOnly(config(cmd));
      try {
        const rows = idx.tokens.list();
        if (cmd.opts().json) return void process.stdout.write(JSON.stringify({ tokens: rows }) + '\n');
        const when = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
        for (const r of rows) process.stdout.write(`${r.id}\t${r.scope}\t${r.repo}\t${r.revoked ? 'revoked ' + when(r.revoked) : 'active'}\tcreated ${when(r.created)}\tlast used ${when(r.lastUsed)}\t${r.description}\n`);
      } finally {
        idx.close();
      }
    }),
  );
token
  .command('revoke')
  .description('revoke a token by its id (from `token list`)')
  .argument('<id>', 'token id')
  .addOption(json())
  .action(
    action(async (cmd, id) => {
      const n = Number(id);
      if (!Number.isSafeInteger(n) || n < 1) throw new DvxError('bad_token_id', `token id must be a number from \`dvx-server token list\`, got ${JSON.stringify(id)}`);
      const { Store } = await import('./store/store.ts');
      const idx = Store.indexOnly(config(cmd));
      try {
        const row = idx.tokens.byId(n);
        if (!row) throw new DvxError('token_not_found', `no token with id ${n}`, 'see `dvx-server token list`');
        const revoked = idx.tokens.revoke(n);
        if (cmd.opts().json) process.stdout.write(JSON.stringify({ id: n, revoked: true, already: !revoked }) + '\n');
        else process.stdout.write(revoked ? `token ${n} revoked\n` : `token ${n} was already revoked\n`);
      } finally {
        idx.close();
      }
    }),
  );

program
  .command('fsck')
  .description('verify every stored pack and manifest against the index; exit 1 on damage')
  .addOption(json())
  .action(
    action(async (cmd) => {
      const [{ Store }, { fsck, hasDamage }] = await Promise.all([import('./store/store.ts'), import('./admin/fsck.ts')]);
      const store = await Store.open(config(cmd));
      try {
        const report = await fsck(store);
        if (cmd.opts().json) process.stdout.write(JSON.stringify(report) + '\n');
        else {
          process.stdout.write(`${report.packs} packs (${report.packBytes} bytes), ${report.blobs} blobs, ${report.manifests} manifests checked\n`);
          for (const p of report.problems) process.stdout.write(`${p.severity === 'damage' ? 'DAMAGE' : 'note'}\t${p.kind}\t${p.object}\t${p.detail}\n`);
          process.stdout.write(hasDamage(report) ? 'damage found: the objects above cannot be served intact; push the data again\n' : 'no damage\n');
        }
        process.exitCode = hasDamage(report) ? 1 : 0;
      } finally {
        await store.close();
      }
    }),
  );

program
  .command('reindex')
  .description('rebuild the pack and blob index from storage alone (keeps repositories, membership and tokens)')
  .addOption(json())
  .action(
    action(async (cmd) => {
      const [{ Store }, { reindex }] = await Promise.all([import('./store/store.ts'), import('./admin/reindex.ts')]);
      const store = await Store.open(config(cmd));
      try {
        const r = await reindex(store);
        if (cmd.opts().json) process.stdout.write(JSON.stringify(r) + '\n');
        else {
          process.stdout.write(`indexed ${r.blobs} blobs in ${r.packs} packs; dropped ${r.prunedMembers} memberships of blobs no pack holds\n`);
          for (const s of r.skipped) process.stdout.write(`skipped pack ${s.pack}: ${s.problem}\n`);
        }
      } finally {
        await store.close();
      }
    }),
  );

program
  .command('gc')
  .description('delete blobs no manifest references, repack packs that are mostly garbage (grace period: DVX_GC_GRACE)')
  .option('--dry-run', 'report what would be done, change nothing')
  .addOption(json())
  .action(
    action(async (cmd) => {
      const [{ Store }, { gc }] = await Promise.all([import('./store/store.ts'), import('./admin/gc.ts')]);
      const store = await Store.open(config(cmd));
      try {
        const o = cmd.opts() as { dryRun?: boolean; json?: boolean };
        const r = await gc(store, { dryRun: o.dryRun });
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
        else {
          const verb = r.dryRun ? 'would ' : '';
          process.stdout.write(
            `${r.live} live blobs from ${r.roots} manifests; ${verb}sweep ${r.swept.blobs} blobs (${r.swept.bytes} bytes), ${verb}repack ${r.repacked.length} packs, ${verb}retire ${r.retired.length}, ${verb}delete ${r.deleted.length} retired and ${r.orphansDeleted.length} unindexed packs\n`,
          );
        }
      } finally {
        await store.close();
      }
    }),
  );

await program.parseAsync(process.argv);
