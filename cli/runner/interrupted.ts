import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat } from '../pid.ts';
import { readMetricsStream } from '../tracking/metrics.ts';
import type { StageRun, TrackingStore } from '../tracking/store.ts';

/**
 * Runs that a killed `dvx repro` left behind. SIGKILL (or a crash, or the
 * machine going down) gives dvx no chance to record how a stage ended: its
 * run stays `running` for ever, is never pushed (only finished runs are), the
 * curve it streamed to DVX_METRICS stays in .dvx/tmp, and the stage's command,
 * in a process group of its own, goes on — and may write its outs while the
 * next repro runs the same stage. The next repro, holding the repro lock (so
 * no live repro owns a `running` run), settles them before it plans: stops
 * what is left of their commands, keeps their curves, and records them failed.
 * Their outs were never tracked (that happens only after a command succeeds),
 * and dvx.lock still names the old inputs, so those stages run again.
 */
export const INTERRUPTED = 'interrupted: dvx repro stopped (killed, or the machine went down) while this ran; its outs were not recorded';

export async function settleInterruptedRuns(store: TrackingStore, dvxDir: string, log: (line: string) => void): Promise<StageRun[]> {
  const orphans = store.runs({ status: 'running' });
  if (orphans.length === 0) return [];
  const stopped = await stopLeftoverCommands(new Set(orphans.map((r) => r.id)));
  for (const r of orphans) {
    const metricsPath = join(dvxDir, 'tmp', `metrics-${r.id}.jsonl`);
    const { points, problems } = readMetricsStream(metricsPath, r.startedAt);
    store.addMetrics(r.id, points);
    for (const p of problems) log(`${r.stage}: ${p}`);
    // The last sign of life is a better end time than now, which may be days later.
    const finishedAt = Math.max(r.startedAt, mtimeOf(r.logPath), mtimeOf(metricsPath));
    rmSync(metricsPath, { force: true });
    const error = stopped.has(r.id) ? `${INTERRUPTED}; dvx stopped the processes its command had left running` : INTERRUPTED;
    store.finishStageRun(r.id, { status: 'failed', exitCode: null, signal: null, error, finishedAt });
    if (r.logPath && existsSync(r.logPath)) appendFileSync(r.logPath, `\n# dvx: failed: ${error}\n`);
    log(`${r.stage}: run ${r.id.slice(0, 8)} was interrupted (dvx repro stopped while it ran)${stopped.has(r.id) ? ', and its command still ran: stopped it' : ''}; recorded as failed`);
  }
  store.finishInterruptedPipelineRuns();
  return orphans;
}

function mtimeOf(path: string | null): number {
  try {
    return path ? Math.floor(statSync(path).mtimeMs) : 0;
  } catch {
    return 0;
  }
}

/**
 * Ends the process groups whose members carry one of these DVX_RUN_IDs (every
 * command dvx starts gets its run id in its environment, and its own process
 * group). Found through /proc; where there is none, nothing is stopped.
 */
async function stopLeftoverCommands(runIds: ReadonlySet<string>): Promise<Set<string>> {
  const groups = new Map<number, string>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return new Set();
  }
  for (const pid of pids) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const id = env.find((e) => e.startsWith('DVX_RUN_ID='))?.slice('DVX_RUN_ID='.length);
      if (!id || !runIds.has(id)) continue;
      const pgid = Number(procStat(Number(pid))?.fields[2]);
      if (pgid > 1 && pgid !== process.pid) groups.set(pgid, id);
    } catch {
      // gone, or not ours to read
    }
  }
  const signal = (s: NodeJS.Signals) => {
    for (const pgid of groups.keys()) {
      try {
        process.kill(-pgid, s);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 30 && [...groups.keys()].some(groupAlive); i++) await sleep(100);
  signal('SIGKILL');
  return new Set(groups.values());
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
