import { DvxError } from '../../core/errors.ts';
import { assertComplete, reachableFrom, type Root } from '../cache/reachable.ts';
import { fetchData } from '../remote/fetch.ts';
import { openRemote } from '../remote/resolve.ts';
import { formatBytes, plural, warn } from '../ui.ts';
import { Materializer } from '../workspace/materialize.ts';
import type { Workspace } from '../workspace/workspace.ts';

/**
 * post-checkout, post-merge, post-rewrite: make the data match the pointers git
 * just wrote. Data missing from the cache is fetched from the default remote
 * (`hooks.fetch: false` in the config turns that off). These hooks cannot stop
 * git, so problems are reported as warnings, never as a failing exit.
 */
export async function materializeAfterGit(ws: Workspace): Promise<void> {
  const tracked = ws.tracked();
  for (const t of tracked) if (t.error) warn(t.error.message);
  const valid = tracked.filter((t) => t.pointer);
  if (valid.length === 0) return;
  const cache = await ws.cache();
  const roots: Root[] = valid.map((t) => ({ path: t.dataPath, pointer: t.pointer! }));

  if (ws.config.hooks?.fetch !== false && !isComplete(cache, roots)) {
    try {
      const remote = openRemote(ws);
      try {
        const s = await fetchData(cache, remote, roots);
        if (s.fetchedBytes > 0) process.stderr.write(`dvx: fetched ${formatBytes(s.fetchedBytes)} from ${remote.remote.url}\n`);
      } finally {
        remote.close();
      }
    } catch (err) {
      if (!(err instanceof DvxError)) throw err;
      warn(`could not fetch data: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
    }
  }

  const m = new Materializer(ws, cache, ws.statCache());
  for (const t of valid) await m.materialize(t);
  ws.statCache().flush();
  const r = m.result;
  if (r.restored.length + r.removed.length > 0) process.stderr.write(`dvx: checked out ${plural(r.restored.length, 'file')}${r.removed.length ? `, removed ${r.removed.length}` : ''}\n`);
  for (const c of r.conflicts) warn(`${c.path} was not updated: ${c.reason} (\`dvx checkout --force ${c.path}\` discards it)`);
  for (const f of r.failed) warn(`${f.path} was not updated: ${f.error.message}${f.error.hint ? ` (${f.error.hint})` : ''}`);
}

function isComplete(cache: Parameters<typeof reachableFrom>[0], roots: Root[]): boolean {
  try {
    assertComplete(cache, reachableFrom(cache, roots));
    return true;
  } catch {
    return false;
  }
}
