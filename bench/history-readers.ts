import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GitHistory } from '../cli/history/git-history.ts';
import { versionCommits, writeTrackedFiles, writeVersions } from './benchmarks/b6-hooks.ts';

/**
 * node --import tsx bench/history-readers.ts [--reps N]
 *
 * What pre-push's history read costs with isomorphic-git (object by object,
 * GitHistory.commit + changes) and with git's plumbing (GitHistory.newCommits +
 * changesMany, what pre-push uses), on B6's history: 10,000 pointers, then
 * 1,000 commits (git fast-import) each changing two of them. Each measurement
 * is a fresh node process, as a hook is: JIT warm-up is part of the cost.
 * Needs a built dvx (node scripts/build.mjs). Not part of `npm run bench`: it
 * has no target, it documents a choice (docs/decisions.md).
 */
const DVX = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'dvx', 'dvx.js');

async function measure(mode: string, ws: string, base: string): Promise<void> {
  const t0 = performance.now();
  const h = GitHistory.open(ws);
  const tip = (await h.resolve('HEAD'))!;
  let commits: { sha: string; parents: readonly string[] }[] = [];
  if (mode === 'isomorphic-git') {
    for (let c = tip; c !== base; ) {
      const ci = await h.commit(c);
      commits.push(ci);
      c = ci.parents[0]!;
    }
    commits.reverse();
  } else {
    commits = await h.newCommits([tip], async (shas) => new Set(shas.filter((s) => s === base)));
  }
  const t1 = performance.now();
  let pointers = 0;
  if (mode === 'isomorphic-git') for (const c of commits) pointers += (await h.changes(c.parents[0], c.sha)).set.size;
  else for (const ch of await h.changesMany(commits.map((c) => ({ from: c.parents[0], to: c.sha })))) pointers += ch.set.size;
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ commits: commits.length, pointers, walk: (t1 - t0) / 1000, changes: (t2 - t1) / 1000 }));
}

/** B6's repository, made the same way (bench/benchmarks/b6-hooks.ts), without hooks or a server. */
function makeHistory(ws: string): string {
  const dvx = (args: string[]) => execFileSync(process.execPath, [DVX, ...args], { cwd: ws, stdio: ['ignore', 'ignore', 'inherit'] });
  const git = (args: string[]) => execFileSync('git', args, { cwd: ws, encoding: 'utf8' }).trim();
  git(['init', '-q', '-b', 'main']);
  dvx(['init', '-q']);
  const paths = writeTrackedFiles(ws);
  for (let i = 0; i < paths.length; i += 1000) dvx(['add', '-q', ...paths.slice(i, i + 1000)]);
  dvx(['add', '-q', 'hot.bin']);
  git(['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', 'commit', '-qm', 'base']);
  const vpaths = writeVersions(ws);
  for (let i = 0; i < vpaths.length; i += 1000) dvx(['add', '-q', '--no-git-add', ...vpaths.slice(i, i + 1000)]);
  const base = git(['rev-parse', 'HEAD']);
  const r = spawnSync('git', ['fast-import', '--quiet'], { cwd: ws, input: versionCommits(ws, paths, base) });
  if (r.status !== 0) throw new Error(`git fast-import: ${r.stderr}`);
  git(['reset', '-q', '--hard', 'main']);
  return base;
}

const args = process.argv.slice(2);
if (args[0] === '--measure') {
  await measure(args[1]!, args[2]!, args[3]!);
} else {
  const reps = Number(args[args.indexOf('--reps') + 1]) || 5;
  const ws = mkdtempSync(join(tmpdir(), 'dvx-history-readers-'));
  try {
    process.stderr.write('set-up: 10,000 pointers and 1,000 commits (about a minute)\n');
    const base = makeHistory(ws);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    process.stdout.write(`| reader | read the commits, s | their pointer changes, s | total, s |\n| --- | --- | --- | --- |\n`);
    for (const mode of ['isomorphic-git', 'git plumbing']) {
      const runs = [];
      for (let i = 0; i < reps; i++) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', mode, ws, base], { encoding: 'utf8' });
        runs.push(JSON.parse(out) as { commits: number; pointers: number; walk: number; changes: number });
      }
      if (runs.some((r) => r.commits !== 1000 || r.pointers !== 2000)) throw new Error(`${mode} read ${JSON.stringify(runs[0])}, expected 1,000 commits and 2,000 pointer changes`);
      const f = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
      process.stdout.write(`| ${mode} | ${f(runs.map((r) => r.walk))} | ${f(runs.map((r) => r.changes))} | ${f(runs.map((r) => r.walk + r.changes))} |\n`);
    }
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}
