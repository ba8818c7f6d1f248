import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChunkerParams } from '../core/chunker.ts';
import { chunkerBench } from './benchmarks/b1-chunker.ts';
import { addLargeBench } from './benchmarks/b2-add-large.ts';
import { checkoutLargeBench } from './benchmarks/b3-checkout-large.ts';
import { dedupSweepBench } from './benchmarks/b4-dedup-sweep.ts';
import { smallFilesBench } from './benchmarks/b5-small-files.ts';
import { hooksBench } from './benchmarks/b6-hooks.ts';
import { trackingBench } from './benchmarks/b7-tracking.ts';
import { lfsBench } from './benchmarks/b8-lfs.ts';
import { pushBench } from './benchmarks/b10-push.ts';
import { webBench } from './benchmarks/b9-web.ts';
import { serverGetBench } from './benchmarks/b11-server-get.ts';
import type { BenchResult, Ctx } from './lib/bench.ts';
import { capture, versionOf } from './lib/proc.ts';
import { table } from './lib/stats.ts';
import { buildSnapshot } from './lib/build.ts';
import { DIST_BIN, REPO_ROOT, Tools } from './lib/tools.ts';
import { FULL, QUICK, workDir } from './workloads.ts';

/**
 * npm run bench [-- [--quick] [--reps N] [--no-build] [names...]]
 *
 * Runs the benchmarks (all, or those named: chunker, add-large, checkout-large,
 * dedup-sweep, small-files, ...; `--help` lists them with their aliases), prints a Markdown report on
 * stdout (progress goes to stderr) and writes bench/.work/results.json and
 * report.md (copies of every run under bench/.work/runs/). Scratch data lives
 * under bench/.work or $DVX_BENCH_DIR. Exits 0 whatever the verdicts: the
 * report says PASS/FAIL; a crash of the harness itself exits non-zero.
 */
const BENCHES: { name: string; alias: string; fn: (ctx: Ctx) => Promise<BenchResult> }[] = [
  { name: 'chunker', alias: 'b1', fn: chunkerBench },
  { name: 'add-large', alias: 'b2', fn: addLargeBench },
  { name: 'checkout-large', alias: 'b3', fn: checkoutLargeBench },
  { name: 'dedup-sweep', alias: 'b4', fn: dedupSweepBench },
  { name: 'small-files', alias: 'b5', fn: smallFilesBench },
  { name: 'hooks', alias: 'b6', fn: hooksBench },
  { name: 'tracking', alias: 'b7', fn: trackingBench },
  { name: 'lfs', alias: 'b8', fn: lfsBench },
  { name: 'push', alias: 'b10', fn: pushBench },
  { name: 'web', alias: 'b9', fn: webBench },
  { name: 'server-get', alias: 'b11', fn: serverGetBench },
];

function usage(): never {
  process.stderr.write(
    [
      'usage: npm run bench -- [--quick] [--reps N] [--ref REV | --no-build] [name...]',
      `names: ${BENCHES.map((b) => `${b.name} (${b.alias})`).join(', ')}`,
      '  --quick     1/8-size workloads (256 MiB large file): a smoke run',
      '  --reps N    repetitions of every measurement (default 3)',
      '  --ref REV   measure the committed revision REV (git archive), not the working tree',
      '  --no-build  run the existing dist/ (scripts/build.mjs) instead of compiling a private snapshot',
      'env: DVX_BENCH_DIR overrides the work directory (default bench/.work)',
      '',
    ].join('\n'),
  );
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const opts = { quick: false, reps: 3, build: true, ref: undefined as string | undefined, names: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--no-build') opts.build = false;
    else if (a === '--reps') opts.reps = Number(argv[++i]);
    else if (a === '--ref') opts.ref = argv[++i] ?? usage();
    else if (a.startsWith('--ref=')) opts.ref = a.slice(6);
    else if (a.startsWith('--reps=')) opts.reps = Number(a.slice(7));
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('-')) usage();
    else opts.names.push(a);
  }
  if (!Number.isInteger(opts.reps) || opts.reps < 1) usage();
  for (const n of opts.names) if (!BENCHES.some((b) => b.name === n || b.alias === n)) usage();
  return opts;
}

const started = Date.now();
function log(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

function machine(work: string, dvxSource: string, defaultChunker: ChunkerParams): Record<string, string> {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const lscpu = capture(['lscpu']);
  const field = (k: string) => lscpu.split('\n').find((l) => l.startsWith(`${k}:`))?.split(':')[1]?.trim();
  const commit = capture(['git', 'rev-parse', '--short', 'HEAD'], REPO_ROOT);
  const dirty = capture(['git', 'status', '--porcelain', '--untracked-files=no'], REPO_ROOT) ? ' + uncommitted changes' : '';
  return {
    nproc: capture(['nproc']),
    cpu: field('Model name') ?? cpu,
    'cpu flags (selected)': ['sha_ni', 'avx2', 'avx512f', 'aes'].filter((f) => readFileSync('/proc/cpuinfo', 'utf8').includes(` ${f}`)).join(' '),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: capture(['uname', '-sr']),
    'work dir filesystem': capture(['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '-T', work]) || capture(['stat', '-f', '-c', '%T', work]),
    node: process.version,
    'repository HEAD': `${commit}${dirty}`,
    'dvx measured': dvxSource,
    'dvx default chunker': JSON.stringify(defaultChunker),
    borg: versionOf(['borg', '--version']),
    restic: versionOf(['restic', 'version']),
    git: versionOf(['git', '--version']),
    'git-lfs': versionOf(['git', 'lfs', 'version']),
    b3sum: versionOf(['b3sum', '--version']),
    time: existsSync('/usr/bin/time') ? '/usr/bin/time' : 'MISSING /usr/bin/time',
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const work = workDir();
  mkdirSync(work, { recursive: true });
  let dvxBin = DIST_BIN;
  let dvxSource = 'dist/ as built by scripts/build.mjs (--no-build)';
  const buildWarnings: string[] = [];
  if (opts.build) {
    log(`compiling ${opts.ref ? `revision ${opts.ref}` : 'the working tree'} into bench/.work/dvx-dist (the shared dist/ is left alone)`);
    const snap = await buildSnapshot(REPO_ROOT, opts.ref);
    dvxBin = snap.bin;
    dvxSource = snap.source;
    buildWarnings.push(...snap.warnings);
    for (const w of snap.warnings) log(`tsc: ${w}`);
  } else if (!existsSync(DIST_BIN)) {
    throw new Error(`${DIST_BIN} is missing: run \`node scripts/build.mjs\`, or drop --no-build`);
  }
  const selected = opts.names.length ? BENCHES.filter((b) => opts.names.some((n) => n === b.name || n === b.alias)) : BENCHES;
  const dvxCore = join(dirname(dirname(dvxBin)), 'core');
  const { DEFAULT_CHUNKER } = (await import(pathToFileURL(join(dvxCore, 'chunker.js')).href)) as { DEFAULT_CHUNKER: ChunkerParams };
  log(`dvx default chunker: ${JSON.stringify(DEFAULT_CHUNKER)}`);
  const ctx: Ctx = { defaultChunker: DEFAULT_CHUNKER, dvxCore, quick: opts.quick, reps: opts.reps, sizes: opts.quick ? QUICK : FULL, work, tools: new Tools(work, dvxBin), log };
  const mach = machine(work, dvxSource, DEFAULT_CHUNKER);
  const results: BenchResult[] = [];
  const timings: Record<string, number> = {};
  for (const b of selected) {
    log(`${b.name}: start`);
    const t0 = Date.now();
    try {
      results.push(await b.fn(ctx));
    } catch (err) {
      const e = err as Error;
      log(`${b.name}: ERROR ${e.stack ?? e.message}`);
      results.push({ name: b.name, title: b.name, target: '?', pass: null, measured: 'error', markdown: `The benchmark itself failed: ${e.message}`, errors: [e.message], data: null });
    }
    timings[b.name] = (Date.now() - t0) / 1000;
    log(`${b.name}: done in ${timings[b.name]!.toFixed(0)} s`);
  }
  const totalS = (Date.now() - started) / 1000;

  const verdictWord = (p: boolean | null) => (p === null ? 'n/a' : p ? 'PASS' : 'FAIL');
  const md = [
    `# dvx benchmarks${opts.quick ? ' (--quick: reduced workloads, not for the record)' : ''}`,
    '',
    `Run ${new Date(started).toISOString()}, ${totalS.toFixed(0)} s in all, ${opts.reps} repetitions per measurement.`,
    '',
    table(['machine', ''], Object.entries(mach)),
    '',
    ...(buildWarnings.length ? ['**Warning:** tsc reported type errors while compiling dvx (JavaScript was emitted and measured):', '', ...buildWarnings.map((w) => `- ${w}`), ''] : []),
    '## Summary',
    '',
    table(['benchmark', 'target', 'measured', 'verdict', 'run time s'], results.map((r) => [r.name, r.target, r.measured, verdictWord(r.pass), (timings[r.name] ?? 0).toFixed(0)])),
    '',
    ...results.flatMap((r) => [`## ${r.title}`, '', r.markdown, '']),
  ].join('\n');
  process.stdout.write(md + '\n');
  const json = { started: new Date(started).toISOString(), totalSeconds: totalS, quick: opts.quick, reps: opts.reps, ref: opts.ref ?? null, buildWarnings, sizes: ctx.sizes, machine: mach, timings, results };
  const text = JSON.stringify(json, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2) + '\n';
  writeFileSync(join(work, 'results.json'), text);
  writeFileSync(join(work, 'report.md'), md + '\n');
  // Every run is also kept under runs/, so that a later partial run does not erase a full one.
  const runs = join(work, 'runs');
  mkdirSync(runs, { recursive: true });
  const stamp = `${new Date(started).toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}${opts.names.length ? `-${opts.names.join('-')}` : ''}`;
  writeFileSync(join(runs, `${stamp}.json`), text);
  writeFileSync(join(runs, `${stamp}.md`), md + '\n');
  log(`wrote ${join(work, 'results.json')} and report.md (also in runs/${stamp}.*) (${totalS.toFixed(0)} s)`);
}

await main();
