import { warn } from '../ui.ts';
import type { InvalidPointer } from './git-history.ts';

/**
 * Warns about invalid pointer files in history, once per commit and file: a
 * command reads the same commit's pointers more than once (its changes, then
 * its full list as a parent), and one line per read would bury the rest.
 * `oncePer: 'blob'` warns once per file content instead: a push carries the
 * same bad bytes through every commit until one fixes them, and that is one
 * problem. `consequence` says what the command did about it.
 */
export function invalidPointerWarner(consequence: string | ((p: InvalidPointer) => string), opts: { oncePer?: 'commit' | 'blob' } = {}): (p: InvalidPointer) => void {
  const seen = new Set<string>();
  return (p) => {
    const key = opts.oncePer === 'blob' ? p.blob : `${p.commit}\0${p.pointerPath}`;
    if (seen.has(key)) return;
    seen.add(key);
    warn(`commit ${p.commit.slice(0, 10)}: ${p.pointerPath} is not a valid pointer (${p.reason}); ${typeof consequence === 'string' ? consequence : consequence(p)}`);
  };
}
