import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DvxError } from '../../core/errors.ts';
import { isCorruption } from '../damaged-sqlite.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { TrackingStore } from './store.ts';

/**
 * Opens .dvx/tracking.sqlite. Unlike the stat cache, it may hold the only copy
 * of runs, metrics, lineage and model versions not yet pushed, so a file
 * SQLite finds damaged is never moved aside here: every use of the store
 * (a damaged page may be met by any query, not only on opening) fails with an
 * error that names the file and the way out, and the user decides.
 */
export function openTracking(ws: Workspace): TrackingStore {
  mkdirSync(ws.dvxDir, { recursive: true });
  const path = join(ws.dvxDir, 'tracking.sqlite');
  const checked = (err: unknown) => (isCorruption(err) ? trackingDamaged(path, err) : err);
  let store: TrackingStore;
  try {
    store = new TrackingStore(path);
  } catch (err) {
    throw checked(err);
  }
  return new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      return (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          throw checked(err);
        }
      };
    },
  });
}

export const TRACKING_DAMAGED = 'tracking_damaged';

function trackingDamaged(path: string, err: unknown): DvxError {
  return new DvxError(
    TRACKING_DAMAGED,
    `the tracking store ${path} is damaged (${(err as Error).message}); dvx leaves it as it is, since it may hold runs not yet pushed`,
    `to go on, move it aside (\`mv ${path} ${path}.damaged\`, with its -wal and -shm files if there) and dvx starts a new one: the runs, metrics, lineage and model versions recorded in this clone and not yet pushed are lost with it (pushed ones stay on the server; sqlite3's \`.recover\` may salvage some from the moved file)`,
    { cause: err },
  );
}
