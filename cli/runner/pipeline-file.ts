import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { encodeLock, parseLock, parsePipeline, type LockedStage, type Pipeline } from '../../core/pipeline.ts';
import { pointerPathOf } from '../../core/pointer.ts';
import { writeFileAtomic } from '../fs-util.ts';
import { PIPELINE_FILE } from '../workspace/names.ts';
import type { Workspace } from '../workspace/workspace.ts';

export { PIPELINE_FILE };
export const LOCK_FILE = 'dvx.lock';

export function hasPipeline(ws: Workspace): boolean {
  return existsSync(join(ws.root, PIPELINE_FILE));
}

export function loadPipeline(ws: Workspace): Pipeline {
  const path = join(ws.root, PIPELINE_FILE);
  if (!existsSync(path)) throw new DvxError('no_pipeline', `no ${PIPELINE_FILE} in ${ws.root}`, `describe your stages in ${PIPELINE_FILE} (see examples/customers/dvx.yaml)`);
  // A dep is provided if it exists, or if dvx tracks it (its data may just not be checked out).
  const exists = (p: string) => existsSync(ws.abs(p)) || existsSync(ws.abs(pointerPathOf(p)));
  return parsePipeline(readFileSync(path, 'utf8'), PIPELINE_FILE, exists);
}

export function loadLock(ws: Workspace): Map<string, LockedStage> {
  const path = join(ws.root, LOCK_FILE);
  return existsSync(path) ? parseLock(readFileSync(path, 'utf8'), LOCK_FILE) : new Map();
}

export function writeLock(ws: Workspace, stages: ReadonlyMap<string, LockedStage>): void {
  writeFileAtomic(join(ws.root, LOCK_FILE), encodeLock(stages));
}
