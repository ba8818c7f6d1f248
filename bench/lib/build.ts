import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmrf } from './fsutil.ts';

/**
 * Builds dvx with scripts/build.mjs into a private directory for the run,
 * without touching the shared dist/: a rebuild of dist/
 * by someone else in the middle of a 20-minute run would otherwise make dvx
 * invocations fail or measure a mix of versions.
 *
 * Source: the working tree, or with `ref` a committed revision (git archive
 * into a temporary directory, deleted after compiling), which also shields the
 * run from edits in progress. The compiled snapshot (JavaScript only) lives in
 * <repo>/bench/.work/dvx-dist (whatever DVX_BENCH_DIR says) so that its
 * imports resolve against the repository's node_modules.
 */
export interface Snapshot {
  bin: string;
  /** what was compiled: "working tree" or the commit */
  source: string;
  /** tsc's complaints, when it reported errors but still emitted JavaScript */
  warnings: string[];
}

export async function buildSnapshot(repoRoot: string, ref?: string): Promise<Snapshot> {
  const base = join(repoRoot, 'bench', '.work');
  const out = join(base, 'dvx-dist');
  let src = repoRoot;
  let source = 'working tree';
  let tmpSrc: string | undefined;
  if (ref) {
    const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: repoRoot, encoding: 'utf8' }).trim();
    // Outside the repository, so that `tsc -p tsconfig.json` (which includes bench/) never sees a second copy of the sources.
    tmpSrc = src = mkdtempSync(join(tmpdir(), 'dvx-bench-src-'));
    const tar = execFileSync('git', ['archive', '--format=tar', commit], { cwd: repoRoot, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', src], { input: tar });
    symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'), 'dir');
    source = `${commit.slice(0, 12)} (${ref})`;
  }
  try {
    return await compile(repoRoot, src, out, source);
  } finally {
    if (tmpSrc) rmrf(tmpSrc);
  }
}

async function compile(_repoRoot: string, src: string, out: string, source: string): Promise<Snapshot> {
  rmrf(out);
  // The project's own build, into a private folder (the revision's own build script for --ref).
  const r = spawnSync(process.execPath, [join(src, 'scripts', 'build.mjs'), '--out', out], { cwd: src, encoding: 'utf8' });
  const bin = join(out, 'dvx', 'dvx.js');
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`building dvx failed:\n${r.stdout}${r.stderr}`.trim());
  return { bin, source, warnings: [] };
}
