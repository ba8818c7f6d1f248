import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { DvxError } from '../../core/errors.ts';
import { gitSync } from '../git.ts';
import { repro, type ReproResult } from '../runner/repro.ts';
import { openTracking } from '../tracking/open.ts';
import { info, plural, printJson, type OutputOptions } from '../ui.ts';
import { Workspace } from '../workspace/workspace.ts';

export interface ReproCommandOptions extends OutputOptions {
  jobs?: string;
  force?: boolean;
  dryRun?: boolean;
  wait?: string | boolean;
  trigger?: 'manual' | 'commit';
  commit?: string;
  pipelineRun?: string;
  autocommit?: boolean;
}

/** `dvx repro [stages...]`: run what is stale, in order, in parallel where possible. */
export async function run(stages: string[], opts: ReproCommandOptions): Promise<void> {
  const ws = Workspace.find();
  const store = openTracking(ws);
  try {
    const jobs = opts.jobs !== undefined ? Number(opts.jobs) : (ws.config.runner?.jobs ?? availableParallelism());
    if (!Number.isInteger(jobs) || jobs < 1) throw new DvxError('usage', `--jobs must be a positive whole number, got ${opts.jobs}`);
    const waitMs = opts.wait === undefined || opts.wait === false ? 0 : opts.wait === true ? 3_600_000 : Number(opts.wait) * 1000;
    const commit = opts.commit ?? (gitSync(ws.root, ['rev-parse', '--verify', '--quiet', 'HEAD'], { allowFail: true }).trim() || null);
    const result = await repro(ws, store, {
      targets: stages,
      force: opts.force,
      dryRun: opts.dryRun,
      jobs,
      trigger: opts.trigger ?? 'manual',
      commit,
      pipelineRunId: opts.pipelineRun,
      waitMs,
      log: opts.json || opts.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    if (opts.autocommit && !opts.dryRun) autocommit(ws, result);
    report(result, opts);
    const failed = result.outcomes.filter((o) => ['failed', 'timeout', 'upstream_failed', 'cancelled'].includes(o.result));
    if (failed.length > 0) {
      const cancelled = failed.some((o) => o.result === 'cancelled');
      if (cancelled) process.exitCode = 130;
      throw new DvxError(cancelled ? 'cancelled' : 'stage_failed', `${plural(failed.length, 'stage')} did not succeed: ${failed.map((o) => `${o.stage} (${o.result.replaceAll('_', '-')})`).join(', ')}`, 'see `dvx runs` and the logs it names');
    }
  } finally {
    store.close();
    await ws.close();
  }
}

function report(r: ReproResult, opts: OutputOptions): void {
  if (opts.json) return printJson(r);
  if (r.dryRun) {
    for (const o of r.outcomes) info(opts, o.reasons.length ? `would run ${o.stage}: ${o.reasons.join('; ')}` : `${o.stage}: up to date`);
    return;
  }
  const ran = r.outcomes.filter((o) => o.result !== 'up_to_date');
  if (ran.length === 0) return info(opts, 'everything is up to date');
  info(opts, `pipeline run ${r.pipelineRun}: ${r.outcomes.map((o) => `${o.stage} ${o.result.replaceAll('_', '-')}`).join(', ')}`);
  if (r.changedFiles.length) info(opts, `staged for your next commit: ${r.changedFiles.join(', ')}`);
}

/** Commits what a hook-started run produced: only those files, never the user's other staged changes. */
function autocommit(ws: Workspace, r: ReproResult): void {
  if (r.changedFiles.length === 0 || r.outcomes.some((o) => o.result !== 'succeeded' && o.result !== 'up_to_date')) return;
  const short = (r.pipelineRun ?? '').slice(0, 8);
  // DVX_AUTOCOMMIT keeps this commit's own post-commit hook from starting another run.
  const env = { ...process.env, DVX_AUTOCOMMIT: '1' };
  execFileSync('git', ['commit', '-q', '-m', `dvx: outputs of pipeline run ${short}`, '--', ...r.changedFiles], { cwd: ws.root, env, stdio: ['ignore', 'ignore', 'pipe'] });
}
