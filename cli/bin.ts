#!/usr/bin/env node
import { Command, Option } from 'commander';
import { reportError } from './ui.ts';
import { DvxError } from '../core/errors.ts';

/**
 * The `dvx` command. Each verb lives in ./commands/<verb>.ts and is loaded only
 * when used, so that git hooks, which run dvx on every commit, start fast.
 */
const program = new Command('dvx')
  .description('Version large data beside your code: git holds small pointer files, dvx holds the bytes, deduplicated in chunks.')
  .version(process.env.npm_package_version ?? '0.1.0', '-V, --version')
  .option('-C <path>', 'run as if dvx was started in <path>')
  .showHelpAfterError('(run with --help for usage)')
  // A usage error (unknown option, missing argument) exits 2, as dvx's own usage errors do; help and version 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  // Options belong to the command they follow: `dvx runs show X --json` is show's --json, not runs'.
  .enablePositionalOptions()
  .configureHelp({ sortSubcommands: false });

// A reader that stops early (`dvx log | head`) closes the pipe: what is left to
// print goes nowhere, and the command still finishes what it was doing (as
// git's output does, without dying halfway through a write to the cache).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
});

program.hook('preAction', (cmd, actionCmd) => {
  const dir = cmd.opts().C as string | undefined;
  if (!dir) return;
  try {
    process.chdir(dir);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'not a directory' : (err as Error).message;
    process.exit(reportError(new DvxError('bad_path', `-C ${dir}: ${reason}`), actionCmd.opts()));
  }
});

const json = () => new Option('--json', 'print a machine-readable JSON result on stdout');
const quiet = () => new Option('-q, --quiet', 'print nothing but errors');

/** Runs a command module's run(), turning errors into messages and exit codes. */
function action<A extends unknown[]>(load: () => Promise<{ run: (...args: A) => Promise<void> }>) {
  return async (...args: unknown[]) => {
    // commander passes (...positionals, options, command)
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts();
    try {
      const mod = await load();
      await mod.run(...(args.slice(0, -1) as A));
    } catch (err) {
      process.exitCode = reportError(err, opts);
    }
  };
}

program
  .command('init')
  .description('set up dvx in this git repository (.dvx/ with its config and cache)')
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/init.ts')));

program
  .command('add')
  .description('track files or directories: chunk them into the cache, write <path>.dvx pointers, git-ignore the data')
  .argument('<paths...>', 'files or directories inside the working tree')
  .option('--no-git-add', 'do not stage the pointer and .gitignore files')
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/add.ts')));

program
  .command('status')
  .description('list tracked paths whose data differs from their pointer')
  .argument('[paths...]', 'limit to these tracked paths')
  .addOption(json())
  .action(action(() => import('./commands/status.ts')));

program
  .command('checkout')
  .description('make the data in the working tree match the pointers, from the cache (verified by sha256)')
  .argument('[paths...]', 'limit to these tracked paths, or to files and directories inside a tracked directory')
  .option('-f, --force', 'overwrite local changes that are not stored anywhere')
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/checkout.ts')));

program
  .command('fsck')
  .description('verify the local cache: every pack re-hashed, every manifest decoded, every reference resolved')
  .option('--repair', 'move a damaged index aside and index the packs anew, index complete packs left by a crash, salvage intact blobs of damaged packs, drop the rest')
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/fsck.ts')));

const remote = program.command('remote').description('manage the dvx servers this workspace pushes data to and fetches it from');
remote
  .command('add')
  .description('add a remote: the server URL followed by the repository name, e.g. http://localhost:8080/churn-model')
  .argument('<name>', 'a short name, e.g. origin')
  .argument('<url>', 'server URL + repository name')
  .option('-d, --default', 'make it the default remote (the first remote always is)')
  .option('--local', 'store it in .dvx/config.local.yaml (this clone only) instead of the committed config')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/remote.ts')).add })));
remote
  .command('list')
  .description('list remotes; * marks the default')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/remote.ts')).list })));
remote
  .command('remove')
  .description('remove a remote')
  .argument('<name>')
  .option('--local', 'remove it from .dvx/config.local.yaml')
  .action(action(async () => ({ run: (await import('./commands/remote.ts')).remove })));
remote
  .command('default')
  .description('make a remote the default')
  .argument('<name>')
  .option('--local', 'record the choice in .dvx/config.local.yaml only')
  .action(action(async () => ({ run: (await import('./commands/remote.ts')).setDefault })));

program
  .command('login')
  .description('store a token for a remote (outside the repository; DVX_TOKEN overrides it)')
  .argument('[remote]', 'remote name or URL (default: the default remote)')
  .option('--token <token>', 'the token (else read from stdin, or prompted for)')
  .addOption(json())
  .action(action(() => import('./commands/login.ts')));

program
  .command('logout')
  .description('forget the stored token of a remote')
  .argument('[remote]', 'remote name or URL (default: the default remote)')
  .action(action(async () => ({ run: (await import('./commands/login.ts')).logout })));

const transferOptions = (cmd: Command, paths = 'limit to these tracked paths (default: all)') =>
  cmd
    .argument('[paths...]', paths)
    .option('-r, --remote <name>', 'remote name or URL (default: the default remote)')
    .option('-j, --jobs <n>', 'parallel transfers', '4')
    .addOption(json())
    .addOption(quiet());

transferOptions(
  program.command('push').description('upload the data of tracked paths that the remote lacks (deduplicated, resumable); with --commits, record commits that reached git without the pre-push hook'),
  'limit to these tracked paths (default: all); with --commits, the refs to record (default: the current branch)',
)
  .option('--commits', 'do what the pre-push hook does for a `git push` of the refs: send the commits the server does not know, their data and the refs (a remote-tracking ref such as origin/main is recorded as the branch main)')
  .option('-f, --force', 'with --commits: move a ref on the server even to a commit that does not contain the one it names there')
  .addHelpText(
    'after',
    `
Commits that reach the git remote without the pre-push hook (git push
--no-verify, a clone where \`dvx install\` was not run, a CI job, a merge on
the git host) are not recorded: the server cannot serve their data by branch,
tag or commit. \`dvx push --commits origin/main v1\` records them, after
\`git fetch\`; running it again sends nothing. It fails, recording nothing,
when data the server lacks is not in the local cache.`,
  )
  .action(action(async () => ({ run: (await import('./commands/transfer.ts')).push })));
transferOptions(program.command('fetch').description('download into the cache the data of tracked paths that it lacks')).action(
  action(async () => ({ run: (await import('./commands/transfer.ts')).fetch })),
);
transferOptions(program.command('pull').description('fetch, then check out: make the working tree match the pointers'))
  .option('-f, --force', 'overwrite local changes that are not stored anywhere')
  .action(action(async () => ({ run: (await import('./commands/transfer.ts')).pull })));

program
  .command('log')
  .description('the versions of a dataset across the git history (commit, date, size, sha256, bytes new in each); a commit whose pointer file is invalid is listed as invalid')
  .argument('<path>', 'a tracked file or directory (or its pointer), or a path inside a tracked directory: the versions of the directory in which it changed')
  .option('--rev <rev>', 'start from this revision', 'HEAD')
  .option('-n, --max-count <n>', 'show at most n versions (a whole number, at least 1)')
  .addOption(json())
  .action(action(() => import('./commands/log.ts')));

program
  .command('diff')
  .description('tracked paths added, removed or changed between two revisions (default: HEAD and the pointers in the working tree; data not yet recorded with `dvx add` shows in `dvx status`). A path whose pointer file is invalid at either end is listed as invalid, and the command exits 1')
  .argument('[rev-a]', 'the older revision (default HEAD)')
  .argument('[rev-b]', 'the newer revision (default: the pointers in the working tree)')
  .addOption(json())
  .action(action(() => import('./commands/diff.ts')));

program
  .command('get')
  .description('download a dataset version from a dvx server without cloning (verified, resumable)')
  .argument('<server-url>', 'e.g. http://localhost:8080')
  .argument('<repo>', 'repository name')
  .argument('<path>', 'path of the file or directory in the repository')
  .option('--rev <rev>', 'a branch, tag or commit sha (full or abbreviated), not an expression such as main~1; HEAD is the default branch (main, else master, else the only one)', 'HEAD')
  .option('-o, --output <path>', 'where to write it (default: its name, here); - writes a file to standard output')
  .option('-f, --force', 'replace the file or folder that is there')
  .addHelpText(
    'after',
    `
A file goes to -o's path, or into -o's folder under its own name if that
folder exists (or -o ends with /). A directory is unpacked into -o's folder,
which must not exist or be empty; it cannot go to standard output.
Nothing already there is replaced without --force, and a folder is never
replaced by a file, nor a file by a folder.`,
  )
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/get.ts')));

program
  .command('gc')
  .summary('delete cache data that nothing git can bring back needs')
  .description(
    'delete cache data that nothing git can bring back needs. Kept: what any commit names that is reachable from a ref (branches, tags, remote-tracking branches), HEAD, ORIG_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD, REVERT_HEAD or a stash; the pointers staged in git\'s index; the working tree\'s pointers. Reflogs are not kept.',
  )
  .option('-n, --dry-run', 'only say what would be freed')
  .option('--shared-cache', 'collect a cache that cache.dir shares with other clones, keeping only what this clone needs')
  .addOption(json())
  .action(action(() => import('./commands/gc.ts')));

program
  .command('repro')
  .description('run the stale stages of dvx.yaml in dependency order (independent ones in parallel), tracking their outs')
  .argument('[stages...]', 'run these stages and what they depend on (default: all)')
  .option('-j, --jobs <n>', 'stages run at once (default: runner.jobs, else the number of CPUs)')
  .option('-f, --force', 'run the stages even if they are up to date')
  .option('-n, --dry-run', 'say what would run and why, run nothing')
  .option('--wait [seconds]', 'wait for another repro in this workspace to finish instead of failing')
  .addOption(new Option('--trigger <trigger>').choices(['manual', 'commit']).hideHelp())
  .addOption(new Option('--commit <sha>').hideHelp())
  .addOption(new Option('--pipeline-run <id>').hideHelp())
  .addOption(new Option('--autocommit').hideHelp())
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/repro.ts')));

const runs = program
  .command('runs')
  .enablePositionalOptions()
  .description('stage runs recorded by the tracking store, newest first')
  .option('--stage <name>', 'only this stage')
  .option('--status <status>', 'only runs with this status (succeeded, failed, timeout, upstream_failed, cancelled, running)')
  .option('-n, --limit <n>', 'at most n runs (default 50)')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).runs })));
runs
  .command('show')
  .description('one run: params, metrics, inputs and outputs, log')
  .argument('<id>', 'run id or a unique prefix')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).showRun })));

const metrics = program.command('metrics').description('metrics recorded by stage runs');
metrics
  .command('show')
  .description('the latest metrics of each stage')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).metricsShow })));
metrics
  .command('diff')
  .description('metrics of the runs at two revisions, side by side')
  .argument('<rev-a>')
  .argument('<rev-b>')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).metricsDiff })));

program
  .command('lineage')
  .description('which runs and data versions produced this data version (or, with --downstream, what was derived from it)')
  .argument('<path[@rev]>', 'a tracked path, optionally at a git revision')
  .option('--downstream', 'follow the data forward: runs that read it and what they wrote')
  .addOption(new Option('--format <format>', 'text, json or openlineage').default('text'))
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).lineage })));

const models = program.command('models').description('named model versions, tied to the run and data that produced them');
models
  .command('register')
  .description('record a tracked path as the next version of a named model')
  .argument('<name>')
  .argument('<path[@rev]>')
  .option('--alias <alias>', 'e.g. production or staging; moves if already set')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).modelsRegister })));
models
  .command('list')
  .description('every registered model version')
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/tracking.ts')).modelsList })));

program
  .command('config')
  .description('show or change settings, e.g. `dvx config runner.on_commit sync`')
  .argument('[key]', 'dotted key')
  .argument('[value]', 'new value')
  .option('--local', 'in .dvx/config.local.yaml (this clone only)')
  .option('--unset', 'remove the setting')
  .addOption(json())
  .action(action(() => import('./commands/config.ts')));

program
  .command('import-lfs')
  .description('move files from Git LFS to dvx: verified against their LFS oids, LFS pointers replaced by dvx pointers')
  .argument('[paths...]', 'only these LFS files or directories (default: all)')
  .option('--keep-attributes', 'leave the filter=lfs lines in .gitattributes')
  .addOption(json())
  .addOption(quiet())
  .action(action(() => import('./commands/import-lfs.ts')));

program
  .command('install')
  .description('install git hooks that record pointers on commit, push data on push and check data out after checkout/merge/rebase')
  .option('--global', "for every new clone and init: point git's init.templateDir at dvx's own template folder, holding the hooks and a copy of the template git used before (its hooks chained)")
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/install.ts')).install })));

program
  .command('uninstall')
  .description('remove the dvx git hooks and restore the hooks that were there before')
  .option('--global', "undo `install --global`: init.templateDir goes back to its previous value (or is unset) and dvx's template folder is deleted")
  .addOption(json())
  .action(action(async () => ({ run: (await import('./commands/install.ts')).uninstall })));

program
  .command('hook', { hidden: true })
  .description('run a git hook (called by the shims that `dvx install` writes)')
  .argument('<name>')
  .argument('[args...]')
  .allowUnknownOption()
  .action(action(() => import('./commands/hook.ts')));

await program.parseAsync(process.argv);
