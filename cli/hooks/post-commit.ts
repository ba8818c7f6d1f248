import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { gitSync } from '../git.ts';
import { hasPipeline } from '../runner/pipeline-file.ts';
import type { Workspace } from '../workspace/workspace.ts';

/**
 * post-commit: re-run the stages the commit made stale, tied to the commit and
 * to one pipeline-run id. `runner.on_commit` says how: in the background
 * (default: a detached `dvx repro`, its log kept under .dvx/logs), synchronously
 * (the commit command waits), or off. A commit made by autocommit does not
 * start another run.
 */
export async function postCommit(ws: Workspace): Promise<void> {
  if (!hasPipeline(ws) || process.env.DVX_AUTOCOMMIT === '1') return;
  const mode = ws.config.runner?.on_commit ?? 'background';
  if (mode === 'off') return;
  const commit = gitSync(ws.root, ['rev-parse', 'HEAD']).trim();
  const pipelineRun = randomUUID();
  const args = [process.argv[1]!, 'repro', '--trigger', 'commit', '--commit', commit, '--pipeline-run', pipelineRun, '--wait', '3600'];
  if (ws.config.runner?.autocommit) args.push('--autocommit');
  if (mode === 'sync') {
    const child = spawn(process.execPath, args, { cwd: ws.root, stdio: ['ignore', 'inherit', 'inherit'] });
    await new Promise((resolve) => child.on('exit', resolve));
    return;
  }
  const dir = join(ws.dvxDir, 'logs', pipelineRun);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'repro.log');
  const out = openSync(logPath, 'a');
  const child = spawn(process.execPath, args, { cwd: ws.root, detached: true, stdio: ['ignore', out, out], env: { ...process.env, DVX_NO_PROGRESS: '1' } });
  child.unref();
  process.stderr.write(`dvx: pipeline run ${pipelineRun.slice(0, 8)} started in the background for ${commit.slice(0, 8)} (log: ${logPath}; \`dvx runs\` shows progress)\n`);
}
