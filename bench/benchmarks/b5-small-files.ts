import { join } from 'node:path';
import { Series, failures, measured, pairedRatio, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { fileCount, linkTree, rmrf, treeBytes } from '../lib/fsutil.ts';
import { sync, warm } from '../lib/proc.ts';
import { fmtBytes, fmtRatio, fmtSummary, summarize, table } from '../lib/stats.ts';
import { Tools } from '../lib/tools.ts';
import { ensureSmallFiles } from '../workloads.ts';

/**
 * B5 "small-files": tracking a directory of 20,000 files of 1–16 KiB.
 * `dvx add <dir>` in a fresh workspace vs `git add <dir>` in a fresh repo where
 * git-lfs tracks every one of those files (*.bin; .gitattributes itself stays
 * in git). Target: dvx >= 3x faster.
 */
const TARGET_RATIO = 3;

export async function smallFilesBench(ctx: Ctx): Promise<BenchResult> {
  const small = ensureSmallFiles(ctx.sizes, ctx.quick);
  const dir = join(ctx.work, 'b5');
  const t = ctx.tools;
  const dvx = new Series('dvx add');
  const lfs = new Series('git add (git-lfs)');
  const all = [dvx, lfs];

  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` rep ${rep}/${ctx.reps}`);
    await dvx.attempt(rep, ctx.log, async () => {
      const ws = await t.dvxWorkspace(join(dir, 'dvx'));
      try {
        await linkTree(small.dir, join(ws, 'data', 'small'));
        warm(small.dir);
        sync();
        const r = await t.dvx(ws, ['add', 'data/small', '--json']);
        const out = JSON.parse(r.stdout) as { added: { files: number; size: number }[] };
        if (out.added[0]?.files !== small.files) throw new Error(`dvx add reported ${out.added[0]?.files} files, expected ${small.files}`);
        return { ...measured(r), stored: treeBytes(join(ws, '.dvx', 'cache', 'packs')) };
      } finally {
        rmrf(ws);
      }
    });
    await lfs.attempt(rep, ctx.log, async () => {
      const repo = await t.lfsRepo(join(dir, 'lfs'), '*.bin');
      try {
        await linkTree(small.dir, join(repo, 'small'));
        warm(small.dir);
        sync();
        const r = await t.gitAdd(repo, ['small']);
        const objects = fileCount(join(repo, '.git', 'lfs', 'objects'));
        if (objects !== small.files) throw new Error(`expected ${small.files} LFS objects, found ${objects}`);
        return { ...measured(r), stored: Tools.lfsObjectBytes(repo) };
      } finally {
        rmrf(repo);
      }
    });
  }

  const rows = all.map((s) => {
    const st = summarize(s.samples.map((x) => x.stored as number));
    return [
      s.name,
      s.ok ? fmtSummary(s.wall, 2) : 'FAILED',
      fmtSummary(summarize(s.samples.map((x) => small.files / x.wallS)), 0),
      fmtSummary(s.cpuS, 2),
      fmtSummary(s.rssMiB, 0),
      st ? fmtBytes(st.median) : 'n/a',
    ];
  });
  const ratio = pairedRatio(dvx, lfs, (d, l) => l.wallS / d.wallS);
  const pass = ratio ? ratio.median >= TARGET_RATIO : null;
  const md = [
    `Input: ${small.files.toLocaleString('en-US')} files of 1–16 KiB (${fmtBytes(small.bytes)}) in 3 levels of directories, ~20 files per leaf directory, hard-linked into each fresh workspace/repo (untimed) and page-cached; \`sync\` before each run. Interleaved x ${ctx.reps}; median (min–max).`,
    '',
    table(['tool', 'wall s', 'files/s', 'CPU s (user+sys)', 'peak RSS MiB', 'stored'], rows),
    '',
    `Target: dvx >= ${TARGET_RATIO}x faster than git-lfs (paired per repetition). Measured: ${fmtRatio(ratio)}. ${verdict(pass)}`,
    failures(all),
  ].join('\n');
  return {
    name: 'small-files',
    title: `B5 small-files: ${small.files.toLocaleString('en-US')} files of 1–16 KiB`,
    target: `dvx >= ${TARGET_RATIO}x faster than git-lfs`,
    pass,
    measured: `${fmtRatio(ratio)}`,
    markdown: md,
    errors: all.flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { files: small.files, bytes: small.bytes, series: all, ratio },
  };
}
