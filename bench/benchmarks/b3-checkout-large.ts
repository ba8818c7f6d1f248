import { existsSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Series, failures, measured, pairedRatio, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { freshDir, linkFile, rmrf } from '../lib/fsutil.ts';
import { sync, timed, warm } from '../lib/proc.ts';
import { fmtSummary, mbps, sizeText, summarize, table } from '../lib/stats.ts';
import { ensureLargeFile } from '../workloads.ts';

/**
 * B3 "checkout-large": restoring the 1 GiB file from a warm local store.
 * dvx checkout (after the file was added, then deleted) vs `cp` of the
 * page-cached file vs `borg extract` of the same data. Target: dvx >= 1 GB/s.
 */
const TARGET_MBPS = 1000;

export async function checkoutLargeBench(ctx: Ctx): Promise<BenchResult> {
  const large = ensureLargeFile(ctx.sizes, ctx.quick);
  const bytes = large.bytes;
  const dir = join(ctx.work, 'b3');
  const t = ctx.tools;
  const dvx = new Series('dvx checkout');
  const cp = new Series('cp');
  const borg = new Series('borg extract');
  const all = [dvx, cp, borg];
  const setupErrors: string[] = [];

  // Untimed setup: one dvx workspace and one borg repository holding the file.
  const ws = join(dir, 'dvx');
  const repo = join(dir, 'borg-repo');
  let dvxReady = false;
  let borgReady = false;
  try {
    await t.dvxWorkspace(ws);
    linkFile(large.file, join(ws, 'data', 'large.bin'));
    await t.dvx(ws, ['add', '-q', 'data/large.bin'], { timed: false });
    dvxReady = true;
  } catch (err) {
    setupErrors.push(`dvx setup: ${(err as Error).message}`);
  }
  try {
    t.resetToolState();
    await t.borgInit(repo);
    await t.borgCreate(repo, 'large', [basename(large.file)], dirname(large.file), ctx.defaultChunker);
    borgReady = true;
  } catch (err) {
    setupErrors.push(`borg setup: ${(err as Error).message}`);
  }

  const check = (path: string) => {
    const size = existsSync(path) ? statSync(path).size : -1;
    if (size !== bytes) throw new Error(`${path} has ${size} bytes after the run, expected ${bytes}`);
  };

  try {
    for (let rep = 1; rep <= ctx.reps; rep++) {
      ctx.log(` rep ${rep}/${ctx.reps}`);
      await dvx.attempt(rep, ctx.log, async () => {
        if (!dvxReady) throw new Error('setup failed');
        const target = join(ws, 'data', 'large.bin');
        if (existsSync(target)) unlinkSync(target);
        warm(join(ws, '.dvx', 'cache'));
        sync();
        const r = await t.dvx(ws, ['checkout', '--json', 'data/large.bin']);
        const out = JSON.parse(r.stdout) as { restored: string[] };
        if (!out.restored.includes('data/large.bin')) throw new Error(`dvx checkout did not restore data/large.bin: ${r.stdout.slice(0, 300)}`);
        check(target);
        return measured(r);
      });
      await cp.attempt(rep, ctx.log, async () => {
        const out = freshDir(join(dir, 'cp-out'));
        try {
          warm(large.file);
          sync();
          const r = await timed(['cp', large.file, join(out, 'large.bin')], { env: t.env });
          check(join(out, 'large.bin'));
          return measured(r);
        } finally {
          rmrf(out);
        }
      });
      await borg.attempt(rep, ctx.log, async () => {
        if (!borgReady) throw new Error('setup failed');
        const out = freshDir(join(dir, 'borg-out'));
        try {
          warm(join(repo, 'data'));
          sync();
          const r = await timed(['borg', 'extract', `${repo}::large`], { cwd: out, env: t.env });
          check(join(out, basename(large.file)));
          return measured(r);
        } finally {
          rmrf(out);
        }
      });
    }
  } finally {
    rmrf(ws);
    rmrf(repo);
    t.resetToolState();
  }
  for (const e of setupErrors) (e.startsWith('dvx') ? dvx : borg).errors.push(e);

  const rows = all.map((s) => [s.name, s.ok ? fmtSummary(s.wall, 2) : `FAILED`, fmtSummary(summarize(s.samples.map((x) => mbps(bytes, x.wallS))), 0), fmtSummary(s.cpuS, 2), fmtSummary(s.rssMiB, 0)]);
  const tp = summarize(dvx.samples.map((x) => mbps(bytes, x.wallS)));
  const vsCp = pairedRatio(dvx, cp, (d, c) => c.wallS / d.wallS);
  const vsBorg = pairedRatio(dvx, borg, (d, b) => b.wallS / d.wallS);
  const pass = tp ? tp.median >= TARGET_MBPS : null;
  const md = [
    `The ${sizeText(bytes)} file was added once (untimed); each repetition deletes it and times \`dvx checkout data/large.bin\` with the cache page-cached. \`cp\`: the page-cached source to a new file. \`borg extract\`: the same file from a borg repo made with the same chunker parameters, repo page-cached. \`sync\` before each run; interleaved x ${ctx.reps}; median (min–max).`,
    '',
    table(['tool', 'wall s', 'MB/s', 'CPU s (user+sys)', 'peak RSS MiB'], rows),
    '',
    table(['ratio (paired per repetition)', 'x'], [
      ['dvx throughput / cp throughput', fmtSummary(vsCp, 2)],
      ['dvx throughput / borg extract throughput', fmtSummary(vsBorg, 2)],
    ]),
    '',
    `Target: dvx checkout >= ${TARGET_MBPS} MB/s (1 GB/s). Measured: ${fmtSummary(tp, 0)} MB/s. ${verdict(pass)}`,
    failures(all),
  ].join('\n');
  return {
    name: 'checkout-large',
    title: `B3 checkout-large: restoring a ${sizeText(bytes)} file`,
    target: `dvx checkout >= 1 GB/s`,
    pass,
    measured: `${fmtSummary(tp, 0)} MB/s`,
    markdown: md,
    errors: all.flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { bytes, series: all, vsCp, vsBorg },
  };
}
