import { basename, dirname, join } from 'node:path';
import { Series, failures, measured, pairedRatio, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { fileCount, freshDir, linkFile, rmrf, treeBytes } from '../lib/fsutil.ts';
import { sync, timed, warm } from '../lib/proc.ts';
import { fmtBytes, fmtRatio, fmtSummary, mbps, sizeText, summarize, table } from '../lib/stats.ts';
import { Tools } from '../lib/tools.ts';
import { ensureLargeFile } from '../workloads.ts';

/**
 * B2 "add-large": storing one page-cached large file, fresh store each run.
 * dvx vs borg (same min/avg/max, buzhash, no compression, no encryption) vs
 * restic (its own chunker, repo v2, compression off; restic always encrypts)
 * vs git-lfs (`git add` through the LFS clean filter) vs b3sum (all threads:
 * the hashing limit). Targets: dvx >= 2x borg's throughput; dvx peak RSS <= 200 MB.
 */
const TARGET_RATIO = 2;
/** "200 MB" read as 200 MiB of peak RSS (/usr/bin/time %M is in KiB); judged on the worst repetition. */
const TARGET_RSS_MIB = 200;

export async function addLargeBench(ctx: Ctx): Promise<BenchResult> {
  const large = ensureLargeFile(ctx.sizes, ctx.quick);
  const bytes = large.bytes;
  const dir = join(ctx.work, 'b2');
  const t = ctx.tools;
  const dvx = new Series('dvx add');
  const borg = new Series('borg create');
  const restic = new Series('restic backup');
  const lfs = new Series('git add (git-lfs)');
  const b3 = new Series('b3sum');
  const cp = new Series('cp (copy floor)');
  const stored = (s: Series) => summarize(s.samples.map((x) => x.stored).filter((v): v is number => typeof v === 'number'));

  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` rep ${rep}/${ctx.reps}`);
    await dvx.attempt(rep, ctx.log, async () => {
      const ws = await t.dvxWorkspace(join(dir, 'dvx'));
      try {
        linkFile(large.file, join(ws, 'data', 'large.bin'));
        warm(large.file);
        sync();
        const r = await t.dvx(ws, ['add', 'data/large.bin', '--json']);
        const out = JSON.parse(r.stdout) as { added: { size: number }[]; newBytes: number };
        if (out.added[0]?.size !== bytes) throw new Error(`dvx add reported size ${out.added[0]?.size}, expected ${bytes}`);
        return { ...measured(r), stored: treeBytes(join(ws, '.dvx', 'cache', 'packs')), newBytes: out.newBytes };
      } finally {
        rmrf(ws);
      }
    });
    await borg.attempt(rep, ctx.log, async () => {
      const repo = join(dir, 'borg-repo');
      t.resetToolState();
      await t.borgInit(repo);
      try {
        warm(large.file);
        sync();
        const r = await t.borgCreate(repo, 'large', [basename(large.file)], dirname(large.file), ctx.defaultChunker);
        return { ...measured(r), stored: treeBytes(join(repo, 'data')) };
      } finally {
        rmrf(repo);
        t.resetToolState();
      }
    });
    await restic.attempt(rep, ctx.log, async () => {
      const repo = join(dir, 'restic-repo');
      t.resetToolState();
      await t.resticInit(repo);
      try {
        warm(large.file);
        sync();
        const r = await t.resticBackup(repo, [basename(large.file)], dirname(large.file));
        return { ...measured(r), stored: treeBytes(join(repo, 'data')) };
      } finally {
        rmrf(repo);
        t.resetToolState();
      }
    });
    await lfs.attempt(rep, ctx.log, async () => {
      const repo = await t.lfsRepo(join(dir, 'lfs'), '*.bin');
      try {
        linkFile(large.file, join(repo, 'large.bin'));
        warm(large.file);
        sync();
        const r = await t.gitAdd(repo, ['large.bin']);
        const objects = fileCount(join(repo, '.git', 'lfs', 'objects'));
        if (objects !== 1) throw new Error(`expected 1 LFS object, found ${objects}`);
        return { ...measured(r), stored: Tools.lfsObjectBytes(repo) };
      } finally {
        rmrf(repo);
      }
    });
    await b3.attempt(rep, ctx.log, async () => {
      warm(large.file);
      sync();
      const r = await timed(['b3sum', '--no-names', large.file], { env: t.env });
      return measured(r);
    });
    await cp.attempt(rep, ctx.log, async () => {
      const out = freshDir(join(dir, 'cp-out'));
      try {
        warm(large.file);
        sync();
        return measured(await timed(['cp', large.file, join(out, 'large.bin')], { env: t.env }));
      } finally {
        rmrf(out);
      }
    });
  }

  const all = [dvx, borg, restic, lfs, b3, cp];
  const rows = all.map((s) => {
    const w = s.wall;
    const tp = w && summarize(s.samples.map((x) => mbps(bytes, x.wallS)));
    const st = stored(s);
    return [s.name, s.ok ? fmtSummary(w, 2) : `FAILED (${s.errors.length}/${ctx.reps})`, fmtSummary(tp, 0), fmtSummary(s.cpuS, 2), fmtSummary(s.rssMiB, 0), st ? fmtBytes(st.median) : '–'];
  });
  const ratio = pairedRatio(dvx, borg, (d, b) => b.wallS / d.wallS);
  const vsRestic = pairedRatio(dvx, restic, (d, r) => r.wallS / d.wallS);
  const vsLfs = pairedRatio(dvx, lfs, (d, l) => l.wallS / d.wallS);
  const vsB3 = pairedRatio(dvx, b3, (d, h) => h.wallS / d.wallS);
  const vsCp = pairedRatio(dvx, cp, (d, c) => c.wallS / d.wallS);
  const cpuVsBorg = pairedRatio(dvx, borg, (d, b) => ((d.userS as number) + (d.sysS as number)) / ((b.userS as number) + (b.sysS as number)));
  const rssMax = dvx.rssMiB?.max;
  const passRatio = ratio ? ratio.median >= TARGET_RATIO : null;
  const passRss = rssMax !== undefined ? rssMax <= TARGET_RSS_MIB : null;
  const pass = passRatio === null || passRss === null ? null : passRatio && passRss;
  const md = [
    `Input: one ${sizeText(bytes)} file of pseudo-random bytes, page-cached; a fresh store each run; \`sync\` before each run. Runs interleaved (dvx, borg, restic, git-lfs, b3sum, cp) x ${ctx.reps}; median (min–max). MB/s = 10^6 bytes/s. CPU s = user + system seconds and peak RSS (largest process of the tree) from /usr/bin/time.`,
    `borg: \`borg create --compression none --chunker-params ${Tools.borgChunker(ctx.defaultChunker)}\` into \`borg init -e none\`. restic: repo v2, \`--compression off\` (restic always encrypts). git-lfs: \`git add\` with \`git lfs track "*.bin"\`. b3sum: default threads (the hashing limit). cp: the file to a new file on the same file system (the cost of writing that many new pages, which every store pays).`,
    '',
    table(['tool', 'wall s', 'MB/s', 'CPU s', 'peak RSS MiB', 'stored'], rows),
    '',
    table(['ratio (paired per repetition)', 'x'], [
      ['dvx throughput / borg throughput', fmtSummary(ratio, 2)],
      ['dvx throughput / restic throughput', fmtSummary(vsRestic, 2)],
      ['dvx throughput / git-lfs throughput', fmtSummary(vsLfs, 2)],
      ['dvx throughput / b3sum throughput', fmtSummary(vsB3, 2)],
      ['dvx throughput / cp throughput', fmtSummary(vsCp, 2)],
      ['dvx CPU seconds / borg CPU seconds', fmtSummary(cpuVsBorg, 2)],
    ]),
    '',
    `Target: dvx >= ${TARGET_RATIO}x borg's throughput. Measured: ${fmtRatio(ratio)}. ${verdict(passRatio)}`,
    '',
    `Target: dvx peak RSS <= ${TARGET_RSS_MIB} MiB (worst repetition). Measured: ${rssMax !== undefined ? rssMax.toFixed(0) : 'n/a'} MiB. ${verdict(passRss)}`,
    failures(all),
  ].join('\n');
  return {
    name: 'add-large',
    title: `B2 add-large: storing a ${sizeText(bytes)} file`,
    target: `dvx >= ${TARGET_RATIO}x borg throughput; dvx peak RSS <= ${TARGET_RSS_MIB} MiB`,
    pass,
    measured: `${fmtRatio(ratio)} borg (${verdict(passRatio)}); peak RSS ${rssMax !== undefined ? rssMax.toFixed(0) : 'n/a'} MiB (${verdict(passRss)})`,
    markdown: md,
    errors: all.flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { bytes, series: all, ratio, vsRestic, vsLfs, vsB3, vsCp, cpuVsBorg },
  };
}
