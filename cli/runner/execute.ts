import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * One attempt of a stage's command: `/bin/sh -c cmd` in its own process group,
 * output to a log file of its own. A timeout or a cancel (Ctrl-C) ends the
 * whole group: SIGTERM, then SIGKILL if it lingers, so nothing the command
 * started outlives it.
 */
export type AttemptStatus = 'succeeded' | 'failed' | 'timeout' | 'cancelled';

export interface AttemptResult {
  status: AttemptStatus;
  exitCode: number | null;
  signal: string | null;
  error?: string;
}

const KILL_GRACE_MS = 3000;

export function runAttempt(opts: { cmd: string; cwd: string; env: NodeJS.ProcessEnv; logPath: string; header: string; timeoutMs?: number; abort: AbortSignal }): Promise<AttemptResult> {
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const log = openSync(opts.logPath, 'a');
  writeSync(log, `${opts.header}\n`);
  return new Promise((resolve) => {
    let ending: AttemptStatus | undefined;
    const child = spawn('/bin/sh', ['-c', opts.cmd], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', log, log] });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const end = (why: AttemptStatus) => {
      if (ending) return;
      ending = why;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const timer = opts.timeoutMs ? setTimeout(() => end('timeout'), opts.timeoutMs) : undefined;
    const onAbort = () => end('cancelled');
    opts.abort.addEventListener('abort', onAbort);
    if (opts.abort.aborted) onAbort();
    const finish = (r: AttemptResult) => {
      if (timer) clearTimeout(timer);
      opts.abort.removeEventListener('abort', onAbort);
      // Anything the command left running in its group goes with it.
      killGroup('SIGKILL');
      try {
        writeSync(log, `\n# dvx: ${r.status}${r.exitCode !== null ? ` (exit code ${r.exitCode})` : ''}${r.signal ? ` (signal ${r.signal})` : ''}${r.error ? `: ${r.error}` : ''}\n`);
      } finally {
        closeSync(log);
      }
      resolve(r);
    };
    child.on('error', (err) => finish({ status: 'failed', exitCode: null, signal: null, error: err.message }));
    child.on('exit', (code, signal) => {
      if (ending === 'timeout') finish({ status: 'timeout', exitCode: code, signal, error: `timed out after ${(opts.timeoutMs! / 1000).toFixed(1)} s` });
      else if (ending === 'cancelled') finish({ status: 'cancelled', exitCode: code, signal, error: 'cancelled' });
      else if (code === 0) finish({ status: 'succeeded', exitCode: 0, signal: null });
      else finish({ status: 'failed', exitCode: code, signal, error: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
  });
}
