import type { LockedStage, Stage } from '../../core/pipeline.ts';
import type { StatCache } from '../workspace/stat-cache.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { contentHash } from './content-hash.ts';
import type { Params } from './params.ts';

/**
 * Why a stage must run: it never ran, or its cmd, a dep's content, a tracked
 * param value, or an out changed or is missing since dvx.lock recorded it.
 * No reasons: it is up to date.
 */
export function staleReasons(ws: Workspace, stats: StatCache, stage: Stage, locked: LockedStage | undefined, params: Params): string[] {
  if (!locked) return ['it never ran'];
  const reasons: string[] = [];
  if (locked.cmd !== stage.cmd) reasons.push('its cmd changed');
  const current = params.values(stage.params, stage.name);
  for (const key of new Set([...Object.keys(current), ...Object.keys(locked.params)])) {
    const now = JSON.stringify(current[key]);
    const then = JSON.stringify(locked.params[key]);
    if (now !== then) reasons.push(`param ${key} changed: ${then ?? '(none)'} -> ${now ?? '(none)'}`);
  }
  const lockedDeps = new Map(locked.deps.map((d) => [d.path, d]));
  for (const d of stage.deps) {
    const was = lockedDeps.get(d);
    const now = contentHash(ws, stats, d);
    if (!now) reasons.push(`dep ${d} is missing`);
    else if (!was) reasons.push(`${d} is a new dep`);
    else if (was.sha256 !== now.sha256) reasons.push(`dep ${d} changed`);
  }
  for (const d of lockedDeps.keys()) if (!stage.deps.includes(d)) reasons.push(`${d} is no longer a dep`);
  const lockedOuts = new Map(locked.outs.map((o) => [o.path, o]));
  for (const o of stage.outs) {
    const was = lockedOuts.get(o);
    const now = contentHash(ws, stats, o);
    if (!now) reasons.push(`out ${o} is missing`);
    else if (!was) reasons.push(`${o} is a new out`);
    else if (was.sha256 !== now.sha256) reasons.push(`out ${o} was modified`);
  }
  return reasons;
}
