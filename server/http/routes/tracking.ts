import type { Express } from 'express';
import type { TrackingHooks } from '../../index/lineage.ts';
import { RunIndex } from '../../index/run-index.ts';
import type { Store } from '../../store/store.ts';
import { lineageRoutes } from './lineage.ts';
import { modelRoutes } from './models.ts';
import { runRoutes } from './runs.ts';

/**
 * The tracking API: runs, lineage, models. `hooks` connect lineage to commit
 * records (server/index/lineage.ts TrackingHooks); without them lineage takes
 * sha256= only and raw data nodes carry introducedBy: null.
 */
export function trackingRoutes(app: Express, store: Store, hooks: TrackingHooks = {}): void {
  const index = new RunIndex(store.db);
  runRoutes(app, store, index);
  lineageRoutes(app, store, index, hooks);
  modelRoutes(app, store, index);
}
