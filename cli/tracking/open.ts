import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Workspace } from '../workspace/workspace.ts';
import { TrackingStore } from './store.ts';

export function openTracking(ws: Workspace): TrackingStore {
  mkdirSync(ws.dvxDir, { recursive: true });
  return new TrackingStore(join(ws.dvxDir, 'tracking.sqlite'));
}
