import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Series, failures, measured, verdict, type BenchResult, type Ctx, type Sample } from '../lib/bench.ts';
import { freshDir, rmrf } from '../lib/fsutil.ts';
import { run } from '../lib/proc.ts';
import { fmtSummary, summarize, table, type Summary } from '../lib/stats.ts';

/**
 * B7 "tracking": the runner and the tracking store.
 *
 * 1. Metric recording: a stage whose command writes 100,000 JSON lines to
 *    $DVX_METRICS, against the same stage writing the same lines to a plain
 *    file; the difference (paired per repetition) is what reading the stream
 *    and storing 100,000 points costs. Target < 1 s.
 * 2. Listing runs: 10,000 runs synced to a real dvx-server (fs backend)
 *    through POST /runs, then pages of GET /runs with the default order,
 *    sorted by a metric and by a param, filtered on a param and a metric, and
 *    deep in the list. Target: every kind of page < 100 ms (median).
 * 3. Runner overhead: `dvx repro -j 1` of 50 chained trivial stages (each
 *    writes an out that the next one reads), minus the commands' own time
 *    (the same `sh -c` commands spawned one after another). Target < 50 ms
 *    per stage, process start-up included.
 */
const POINTS = 100_000;
const RUNS = 10_000;
const STAGES = 50;
const TARGET_RECORD_S = 1;
const TARGET_PAGE_MS = 100;
const TARGET_STAGE_MS = 50;

const GEN = `// writes N JSON lines of metrics to the file named by argv[2]
const fs = require('fs');
const n = Number(process.argv[3]);
const lines = [];
for (let i = 0; i < n; i++) lines.push(JSON.stringify({ step: i, loss: 1 / (i + 1) }));
fs.writeFileSync(process.argv[2], lines.join('\\n') + '\\n');
`;

async function workspace(ctx: Ctx, dir: string, yaml: string, files: Record<string, string> = {}): Promise<string> {
  const t = ctx.tools;
  const ws = await t.dvxWorkspace(dir);
  writeFileSync(join(ws, 'dvx.yaml'), yaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(ws, name), text);
  await run(['git', 'add', '-A'], { cwd: ws, env: t.env });
  await run(['git', 'commit', '-qm', 'pipeline'], { cwd: ws, env: t.env });
  return ws;
}

async function metricRecording(ctx: Ctx) {
  const dir = join(ctx.work, 'b7');
  const stream = new Series(`repro, ${POINTS.toLocaleString('en-US')} lines to $DVX_METRICS`);
  const plain = new Series('repro, the same lines to a plain file');
  let recorded: number | undefined;
  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` metrics rep ${rep}/${ctx.reps}`);
    for (const [series, target] of [[stream, '"$DVX_METRICS"'], [plain, 'sink.jsonl']] as const) {
      await series.attempt(rep, ctx.log, async () => {
        const ws = await workspace(ctx, join(dir, 'metrics'), `stages:\n  log:\n    cmd: node gen.cjs ${target} ${POINTS}\n    deps: [gen.cjs]\n`, { 'gen.cjs': GEN });
        try {
          const r = await ctx.tools.dvx(ws, ['repro', '-j', '1', '--json']);
          const out = JSON.parse(r.stdout) as { outcomes: { result: string; runIds: string[] }[] };
          if (out.outcomes[0]?.result !== 'succeeded') throw new Error(`the stage did not succeed: ${r.stdout.slice(0, 300)}`);
          if (series === stream && recorded === undefined) {
            const show = await run(ctx.tools.dvxCmd(['runs', 'show', out.outcomes[0].runIds[0]!, '--json']), { cwd: ws, env: ctx.tools.env, captureBytes: 256 << 20 });
            recorded = (JSON.parse(show.stdout) as { metrics: unknown[] }).metrics.length;
            if (recorded !== POINTS) throw new Error(`recorded ${recorded} points, expected ${POINTS}`);
          }
          return measured(r);
        } finally {
          rmrf(ws);
        }
      });
    }
  }
  const diffs: number[] = [];
  const cpuDiffs: number[] = [];
  const cpu = (x: Sample) => (typeof x.userS === 'number' && typeof x.sysS === 'number' ? x.userS + x.sysS : NaN);
  for (const s of stream.samples) {
    const p = plain.at(s.rep);
    if (!p) continue;
    diffs.push(s.wallS - p.wallS);
    cpuDiffs.push(cpu(s) - cpu(p));
  }
  return { stream, plain, recordS: summarize(diffs), recordCpuS: summarize(cpuDiffs), recorded };
}

interface Server {
  url: string;
  child: ChildProcess;
}

function startServer(bin: string, dataDir: string, adminToken: string): Promise<Server> {
  const child = spawn(process.execPath, [bin, 'serve'], {
    env: { PATH: process.env.PATH, DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_DATA_DIR: dataDir, DVX_STORAGE: 'fs', DVX_ADMIN_TOKEN: adminToken, DVX_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        try {
          const j = JSON.parse(line) as { msg?: string; url?: string };
          if (j.msg === 'listening' && j.url) resolve({ url: j.url.replace('//localhost:', '//127.0.0.1:'), child });
        } catch {
          // a partial line
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`dvx-server exited (${code}) before listening: ${out.slice(-500)}`)));
  });
}

/** 10,000 runs as clients send them: 4 stages, 3 params, a 10-point loss curve and an accuracy, an input and an output each. */
function syntheticBatches(): unknown[] {
  const stages = ['prepare', 'train', 'evaluate', 'report'];
  const statuses = ['succeeded', 'succeeded', 'succeeded', 'failed'];
  const batches: unknown[] = [];
  const t0 = Date.now() - RUNS * 60_000;
  for (let b = 0; b < RUNS / 500; b++) {
    const pipelineRun = randomUUID();
    const runs = Array.from({ length: 500 }, (_, i) => {
      const n = b * 500 + i;
      const startedAt = t0 + n * 60_000;
      return {
        id: randomUUID(),
        pipelineRun,
        stage: stages[n % 4],
        attempt: 1,
        status: statuses[(n >> 2) % 4],
        startedAt,
        finishedAt: startedAt + 1_000 + ((n * 7919) % 50_000),
        exitCode: 0,
        signal: null,
        cmd: `python3 ${stages[n % 4]}.py`,
        commit: randomBytes(20).toString('hex'),
        params: { 'train.lr': [0.1, 0.2, 0.4, 0.8][n % 4], 'train.epochs': 10 + (n % 40), 'train.model': ['logreg', 'forest'][n % 2] },
        error: null,
        metrics: [
          ...Array.from({ length: 10 }, (_, s) => ({ key: 'loss', value: ((n * 31 + s) % 997) / 997, step: s, time: startedAt + s * 100 })),
          { key: 'accuracy', value: ((n * 17) % 1000) / 1000, step: null, time: startedAt + 1_000 },
        ],
        inputs: [{ path: 'data/valid.csv', type: 'file', sha256: randomBytes(32).toString('hex'), manifest: randomBytes(32).toString('hex'), size: 1_000_000 }],
        outputs: [{ path: `out/${stages[n % 4]}.bin`, type: 'file', sha256: randomBytes(32).toString('hex'), manifest: randomBytes(32).toString('hex'), size: 1_000 }],
        log: `run ${n}\n`.repeat(20),
      };
    });
    batches.push({ pipelineRuns: [], runs, models: [] });
  }
  return batches;
}

const PAGE_QUERIES: [string, string][] = [
  ['newest first (default)', ''],
  ['page 100 of 200', '?offset=4950'],
  ['sorted by a metric', '?sort=metric.accuracy&order=desc'],
  ['sorted by a param', '?sort=param.train.epochs&order=asc'],
  ['sorted by duration', '?sort=duration&order=desc'],
  ['filtered: stage + status', '?stage=train&status=succeeded'],
  ['filtered: param + metric, sorted by a metric', '?param=train.lr:0.4&metric=accuracy>=0.5&sort=metric.loss'],
  ['500 runs, sorted by stage', '?limit=500&sort=stage'],
];

async function listRuns(ctx: Ctx) {
  const dir = freshDir(join(ctx.work, 'b7', 'server'));
  const admin = `bench-${randomBytes(24).toString('hex')}`;
  const serverBin = join(dirname(dirname(ctx.tools.dvxBin)), 'server', 'bin.js');
  const server = await startServer(serverBin, dir, admin);
  const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
  try {
    const base = `${server.url}/api/v1/repos/bench`;
    const batches = syntheticBatches();
    const t0 = performance.now();
    for (const body of batches) {
      const r = await fetch(`${base}/runs`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (r.status !== 200) throw new Error(`POST /runs: ${r.status} ${await r.text()}`);
    }
    const syncS = (performance.now() - t0) / 1000;
    ctx.log(` synced ${RUNS} runs in ${syncS.toFixed(1)} s`);
    const reps = Math.max(10, ctx.reps * 10);
    const rows: { name: string; query: string; total: number; count: number; ms: Summary }[] = [];
    for (const [name, query] of PAGE_QUERIES) {
      const times: number[] = [];
      let total = 0;
      let count = 0;
      for (let i = 0; i < reps + 2; i++) {
        const t = performance.now();
        const r = await fetch(`${base}/runs${query}`, { headers });
        const page = (await r.json()) as { total: number; runs: unknown[] };
        if (r.status !== 200) throw new Error(`GET /runs${query}: ${r.status} ${JSON.stringify(page)}`);
        if (i >= 2) times.push(performance.now() - t); // the first two warm the statement cache
        total = page.total;
        count = page.runs.length;
      }
      rows.push({ name, query, total, count, ms: summarize(times)! });
      ctx.log(`  ${name}: median ${rows.at(-1)!.ms.median.toFixed(1)} ms`);
    }
    return { syncS, rows, reps };
  } finally {
    server.child.kill('SIGTERM');
    rmrf(dir);
  }
}

async function runnerOverhead(ctx: Ctx) {
  const dir = join(ctx.work, 'b7');
  const cmd = (i: number) => (i === 0 ? `mkdir -p out && echo 0 > out/s0.txt` : `cat out/s${i - 1}.txt > out/s${i}.txt && echo ${i} >> out/s${i}.txt`);
  const yaml = (n: number) =>
    `stages:\n${Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: ${cmd(i)}\n${i > 0 ? `    deps: [out/s${i - 1}.txt]\n` : ''}    outs: [out/s${i}.txt]\n`).join('')}`;
  const series = new Map<number, Series>([
    [1, new Series('dvx repro, 1 stage')],
    [STAGES, new Series(`dvx repro, ${STAGES} chained stages`)],
  ]);
  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` runner rep ${rep}/${ctx.reps}`);
    for (const [n, s] of series) {
      await s.attempt(rep, ctx.log, async () => {
        const ws = await workspace(ctx, join(dir, 'runner'), yaml(n));
        try {
          const r = await ctx.tools.dvx(ws, ['repro', '-j', '1', '--json']);
          const out = JSON.parse(r.stdout) as { outcomes: { result: string }[] };
          if (out.outcomes.length !== n || out.outcomes.some((o) => o.result !== 'succeeded')) throw new Error(`not every stage succeeded: ${r.stdout.slice(0, 300)}`);
          // The commands alone, spawned the way the runner does (/bin/sh -c), one after another.
          rmrf(join(ws, 'out'));
          const t = performance.now();
          for (let i = 0; i < n; i++) {
            const c = spawnSync('/bin/sh', ['-c', cmd(i)], { cwd: ws, stdio: 'ignore' });
            if (c.status !== 0) throw new Error(`${cmd(i)} exited ${c.status}`);
          }
          const cmdS = (performance.now() - t) / 1000;
          return { ...measured(r), cmdS, perStageMs: ((r.wallS - cmdS) / n) * 1000 };
        } finally {
          rmrf(ws);
        }
      });
    }
  }
  // Start-up paid once per invocation, from the 1-stage runs: what the per-stage figure includes on top of the marginal cost.
  const one = series.get(1)!;
  const many = series.get(STAGES)!;
  const marginal: number[] = [];
  for (const s of many.samples) {
    const o = one.at(s.rep);
    if (o) marginal.push(((s.wallS - (s.cmdS as number) - (o.wallS - (o.cmdS as number))) / (STAGES - 1)) * 1000);
  }
  return { one, many, perStage: many.stat('perStageMs'), marginal: summarize(marginal) };
}

export async function trackingBench(ctx: Ctx): Promise<BenchResult> {
  const m = await metricRecording(ctx);
  const l = await listRuns(ctx);
  const r = await runnerOverhead(ctx);

  const worstPage = Math.max(...l.rows.map((x) => x.ms.median));
  const passRecord = m.recordS ? m.recordS.median < TARGET_RECORD_S : null;
  const passPage = l.rows.length === PAGE_QUERIES.length ? worstPage < TARGET_PAGE_MS : null;
  const passStage = r.perStage ? r.perStage.median < TARGET_STAGE_MS : null;
  const pass = passRecord === null || passPage === null || passStage === null ? null : passRecord && passPage && passStage;
  const all = [m.stream, m.plain, r.one, r.many];
  const md = [
    `### Recording ${POINTS.toLocaleString('en-US')} metric points`,
    '',
    `A stage runs \`node gen.cjs <file> ${POINTS}\`, which writes ${POINTS.toLocaleString('en-US')} JSON lines (\`{"step": i, "loss": …}\`) to \`$DVX_METRICS\`, or to a plain file; \`dvx repro -j 1\` in a fresh workspace each time. Points recorded (checked with \`dvx runs show\`): ${m.recorded ?? 'n/a'}. ${ctx.reps} repetitions; median (min–max).`,
    '',
    table(['run', 'wall s', 'CPU s', 'peak RSS MiB'], [m.stream, m.plain].map((s) => [s.name, s.ok ? fmtSummary(s.wall, 2) : 'FAILED', fmtSummary(s.cpuS, 2), fmtSummary(s.rssMiB, 0)])),
    '',
    `Recording time (wall-clock difference, paired): ${fmtSummary(m.recordS, 3)} s; CPU time it adds (user + system): ${fmtSummary(m.recordCpuS, 3)} s. Target < ${TARGET_RECORD_S} s (wall): ${verdict(passRecord)}`,
    '',
    `### Listing ${RUNS.toLocaleString('en-US')} runs (GET /runs)`,
    '',
    `${RUNS.toLocaleString('en-US')} runs (3 params, 11 metric points, an input and an output each) synced through POST /runs in ${RUNS / 500} requests of 500 to a dvx-server on the fs backend: ${l.syncS.toFixed(1)} s. Each page asked ${l.reps} times after 2 warm-ups, over loopback, JSON parsed; milliseconds.`,
    '',
    table(['page', 'query', 'total', 'runs', 'median ms', 'min–max ms'], l.rows.map((x) => [x.name, `\`${x.query || '(none)'}\``, String(x.total), String(x.count), x.ms.median.toFixed(1), `${x.ms.min.toFixed(1)}–${x.ms.max.toFixed(1)}`])),
    '',
    `Slowest median: ${worstPage.toFixed(1)} ms. Target < ${TARGET_PAGE_MS} ms for every page: ${verdict(passPage)}`,
    '',
    `### Runner overhead`,
    '',
    `\`dvx repro -j 1\` of a chain of trivial stages (each \`cat\`s the previous out into its own out, tracked), minus the same commands spawned one after another with \`/bin/sh -c\`. ${ctx.reps} repetitions; median (min–max).`,
    '',
    table(['run', 'wall s', 'commands alone s', 'overhead per stage ms'], [r.one, r.many].map((s) => [s.name, s.ok ? fmtSummary(s.wall, 2) : 'FAILED', fmtSummary(s.stat('cmdS'), 3), fmtSummary(s.stat('perStageMs'), 1)])),
    '',
    `Overhead per stage with ${STAGES} stages (start-up of dvx included): ${fmtSummary(r.perStage, 1)} ms; marginal cost of one more stage (the 1-stage run subtracted): ${fmtSummary(r.marginal, 1)} ms. Target < ${TARGET_STAGE_MS} ms: ${verdict(passStage)}`,
    failures(all),
  ].join('\n');
  return {
    name: 'tracking',
    title: 'B7 tracking: metric recording, run listing, runner overhead',
    target: `record ${POINTS / 1000}k points < ${TARGET_RECORD_S} s; a page of ${RUNS / 1000}k runs < ${TARGET_PAGE_MS} ms; < ${TARGET_STAGE_MS} ms per stage`,
    pass,
    measured: `${fmtSummary(m.recordS, 2)} s; slowest page ${worstPage.toFixed(0)} ms; ${fmtSummary(r.perStage, 1)} ms/stage`,
    markdown: md,
    errors: all.flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { metrics: { stream: m.stream, plain: m.plain, recordS: m.recordS, recordCpuS: m.recordCpuS, recorded: m.recorded }, list: l, runner: { one: r.one, many: r.many, perStage: r.perStage, marginal: r.marginal } },
  };
}
