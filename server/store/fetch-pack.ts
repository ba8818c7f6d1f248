import { Limits } from '../../core/protocol.ts';
import { PackBuilder } from '../../core/pack.ts';
import { StoreRefusal } from './errors.ts';
import { plannerFor, type Segment } from './segment-source.ts';
import type { Store } from './store.ts';

/**
 * POST /repos/{repo}/blobs/fetch: a pack of exactly the requested blobs, in
 * request order, built on the fly. The index and trailer are computed first
 * (they depend only on ids, types and lengths), so Content-Length is known
 * before the first byte is read; blobs adjacent in a stored pack are read in
 * one ranged read.
 */
export interface FetchPlan {
  readonly packId: string;
  readonly packBytes: number;
  readonly segments: Segment[];
  /** index + trailer, sent after the blobs */
  readonly tail: Buffer;
}

export function planFetchPack(store: Store, rid: number, ids: readonly string[]): FetchPlan {
  if (ids.length === 0) throw new StoreRefusal(400, 'bad_request', 'the id list is empty: ask for at least one blob');
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new StoreRefusal(400, 'bad_request', `blob ${id} is asked for twice`);
    seen.add(id);
  }
  for (const id of ids) {
    if (store.repos.memberType(rid, id) === undefined) throw new StoreRefusal(404, 'blob_not_found', `blob ${id} is not in this repository`);
  }
  const locations = store.blobs.locateMany(ids);
  const builder = new PackBuilder();
  const planner = plannerFor(store.backend);
  let total = 0;
  ids.forEach((id, i) => {
    const loc = locations[i]!;
    total += loc.length;
    if (total > Limits.maxFetchBytes) throw new StoreRefusal(413, 'too_large', `the blobs asked for exceed ${Limits.maxFetchBytes} bytes: ask for fewer per request`);
    builder.add(id, loc.type, loc.length);
    planner.add(id, loc.pack, loc.offset, loc.length);
  });
  const { tail, index } = builder.finish();
  return { packId: index.packId, packBytes: index.packBytes, segments: planner.segments, tail };
}
