import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { DVX_BIN, dvx, dvxJson, dvxOk, git, workspace } from './support/cli.ts';
import { request } from './support/http.ts';
import { startServer } from './support/server.ts';

/** A workspace with a dvx.yaml (and optional files), committed. */
async function pipeline(t: Parameters<typeof workspace>[0], yaml: string, files: Record<string, string> = {}): Promise<string> {
  const ws = await workspace(t);
  writeFileSync(join(ws, 'dvx.yaml'), yaml);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(ws, p, '..'), { recursive: true });
    writeFileSync(join(ws, p), text);
  }
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'pipeline']);
  return ws;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const CHAIN = `stages:
  prepare:
    cmd: mkdir -p data && tr a-z A-Z < raw.txt > data/prepared.txt
    deps: [raw.txt]
    outs: [data/prepared.txt]
  train:
    cmd: >-
      mkdir -p models && (cat data/prepared.txt; grep lr params.yaml) > models/model.txt && echo "$LR" > env.txt &&
      echo '{"step": 1, "loss": 0.5}' >> "$DVX_METRICS" && echo '{"step": 2, "loss": 0.25}' >> "$DVX_METRICS" &&
      echo "$DVX_STAGE $DVX_RUN_ID" > run-env.txt
    deps: [data/prepared.txt]
    params: [train.lr]
    outs: [models/model.txt]
    env: {LR: "0.1"}
  report:
    cmd: >-
      mkdir -p metrics && echo '{"accuracy": 0.9, "nested": {"f1": 0.8}}' > metrics/report.json
    deps: [models/model.txt]
    metrics: [metrics/report.json]
`;

test('repro runs stages in order, tracks outs, writes dvx.lock; only what is stale runs again', async (t) => {
  const ws = await pipeline(t, CHAIN, { 'raw.txt': 'hello\n', 'params.yaml': 'train:\n  lr: 0.1\n' });
  const dry = await dvxJson(ws, ['repro', '--dry-run']);
  assert.deepEqual(dry.outcomes.map((o: any) => [o.stage, o.reasons[0]]), [['prepare', 'it never ran'], ['train', 'it never ran'], ['report', 'it never ran']]);

  const first = await dvxJson(ws, ['repro']);
  assert.deepEqual(first.outcomes.map((o: any) => o.result), ['succeeded', 'succeeded', 'succeeded']);
  assert.equal(readFileSync(join(ws, 'models/model.txt'), 'utf8'), 'HELLO\n  lr: 0.1\n');
  assert.equal(readFileSync(join(ws, 'env.txt'), 'utf8'), '0.1\n');
  assert.ok(existsSync(join(ws, 'models/model.txt.dvx')));
  assert.match(readFileSync(join(ws, "dvx.lock"), "utf8"), /\n  train:\n    cmd: /);
  const staged = git(ws, ['diff', '--cached', '--name-only']);
  for (const f of ['dvx.lock', 'models/model.txt.dvx', 'data/prepared.txt.dvx']) assert.match(staged, new RegExp(f.replace('.', '\\.')));
  const [stage, runId] = readFileSync(join(ws, 'run-env.txt'), 'utf8').trim().split(' ');
  assert.equal(stage, 'train');
  assert.equal(runId, first.outcomes[1].runIds[0]);

  assert.deepEqual((await dvxJson(ws, ['repro'])).outcomes.map((o: any) => o.result), ['up_to_date', 'up_to_date', 'up_to_date']);

  // A param: train and what is below it.
  writeFileSync(join(ws, 'params.yaml'), 'train:\n  lr: 0.2\n');
  const plan = await dvxJson(ws, ['repro', '--dry-run']);
  assert.deepEqual(plan.outcomes[1].reasons, ['param train.lr changed: 0.1 -> 0.2']);
  const p = await dvxJson(ws, ['repro']);
  assert.deepEqual(p.outcomes.map((o: any) => o.result), ['up_to_date', 'succeeded', 'succeeded']);
  // A modified out makes its stage stale; the same content downstream keeps report fresh.
  writeFileSync(join(ws, 'data/prepared.txt'), 'tampered\n');
  const o = await dvxJson(ws, ['repro', '--dry-run', 'prepare']);
  assert.deepEqual(o.outcomes.map((x: any) => x.reasons), [['out data/prepared.txt was modified']]);
  assert.deepEqual((await dvxJson(ws, ['repro'])).outcomes.map((x: any) => x.result), ['succeeded', 'up_to_date', 'up_to_date']);
  // A dep
  writeFileSync(join(ws, 'raw.txt'), 'world\n');
  assert.deepEqual((await dvxJson(ws, ['repro'])).outcomes.map((x: any) => x.result), ['succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual((await dvxJson(ws, ['repro', '--force', 'prepare'])).outcomes.map((x: any) => x.result), ['succeeded']);

  const runs = await dvxJson(ws, ['runs']);
  const train = runs.runs.find((r: any) => r.stage === 'train');
  assert.deepEqual(train.metrics, { loss: 0.25 });
  const show = await dvxJson(ws, ['runs', 'show', train.id.slice(0, 8)]);
  assert.deepEqual(show.metrics.map((m: any) => [m.key, m.step, m.value]), [['loss', 1, 0.5], ['loss', 2, 0.25]]);
  assert.deepEqual(show.params, { 'train.lr': 0.2 });
  assert.deepEqual(show.inputs.map((a: any) => a.path), ['data/prepared.txt']);
  assert.deepEqual(show.outputs.map((a: any) => a.path), ['models/model.txt']);
  const metrics = await dvxJson(ws, ['metrics', 'show']);
  assert.deepEqual(metrics.stages.report.metrics, { accuracy: 0.9, 'nested.f1': 0.8 });
});

test('independent stages run in parallel with -j 2 (each waits for the other to start)', async (t) => {
  const barrier = (me: string, other: string) => `touch ${me}.started; i=0; while [ ! -e ${other}.started ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done; echo done > ${me}.out`;
  const ws = await pipeline(t, `stages:\n  a:\n    cmd: ${barrier('a', 'b')}\n    outs: [a.out]\n  b:\n    cmd: ${barrier('b', 'a')}\n    outs: [b.out]\n`);
  const r = await dvxJson(ws, ['repro', '-j', '2']);
  assert.deepEqual(r.outcomes.map((o: any) => o.result), ['succeeded', 'succeeded']);
  assert.equal(new Set(r.outcomes.map(() => r.pipelineRun)).size, 1);
  const runs = (await dvxJson(ws, ['runs'])).runs;
  assert.equal(new Set(runs.map((x: any) => x.pipelineRun)).size, 1, 'one pipeline-run id for the invocation');
});

test('a failure marks its descendants upstream-failed while the rest go on; retries with their own logs', async (t) => {
  const ws = await pipeline(t, `stages:
  flaky:
    cmd: 'echo attempt $DVX_ATTEMPT; [ "$DVX_ATTEMPT" -ge 2 ] && echo ok > flaky.out'
    outs: [flaky.out]
    retries: 2
    retry_delay: 0.1
  broken:
    cmd: echo boom >&2; exit 3
    outs: [broken.out]
  below:
    cmd: cp broken.out below.out
    deps: [broken.out]
    outs: [below.out]
  independent:
    cmd: echo fine > independent.out
    outs: [independent.out]
`);
  const before = existsSync(join(ws, 'dvx.lock'));
  const r = await dvx(ws, ['repro', '--json']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  const by = Object.fromEntries(out.outcomes.map((o: any) => [o.stage, o]));
  assert.equal(by.flaky.result, 'succeeded');
  assert.equal(by.flaky.attempts, 2);
  assert.equal(by.broken.result, 'failed');
  assert.match(by.broken.error, /exit code 3/);
  assert.equal(by.below.result, 'upstream_failed');
  assert.equal(by.independent.result, 'succeeded');
  assert.equal(before, false);
  assert.doesNotMatch(readFileSync(join(ws, 'dvx.lock'), 'utf8'), /broken|below/);
  const runs = (await dvxJson(ws, ['runs', '--stage', 'flaky'])).runs;
  assert.deepEqual(runs.map((x: any) => [x.attempt, x.status]).sort(), [[1, 'failed'], [2, 'succeeded']]);
  for (const x of runs) assert.match(readFileSync(x.logPath, 'utf8'), new RegExp(`attempt ${x.attempt}`));
  const broken = (await dvxJson(ws, ['runs', '--stage', 'broken'])).runs[0];
  assert.match(readFileSync(broken.logPath, 'utf8'), /boom/);
});

test('a stage that hangs is killed at its timeout, with everything it started', async (t) => {
  const ws = await pipeline(t, `stages:\n  hang:\n    cmd: (sleep 300 & echo $! > child.pid; wait)\n    outs: [never.out]\n    timeout: 1s\n`);
  const r = await dvx(ws, ['repro', '--json']);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).outcomes[0].result, 'timeout');
  const child = Number(readFileSync(join(ws, 'child.pid'), 'utf8'));
  for (let i = 0; i < 50 && alive(child); i++) await sleep(100);
  assert.equal(alive(child), false, 'the background child of the stage is gone');
  assert.equal((await dvxJson(ws, ['runs'])).runs[0].status, 'timeout');
});

test('a stage killed with SIGKILL: the run is failed, its outs are not recorded, dvx.lock is unchanged', async (t) => {
  const ws = await pipeline(t, `stages:\n  ok:\n    cmd: echo v1 > ok.out\n    outs: [ok.out]\n  victim:\n    cmd: echo partial > victim.out; echo $$ > victim.pid; sleep 300; echo done > victim.out\n    outs: [victim.out]\n`);
  await dvxOk(ws, ['repro', 'ok']);
  const lock = readFileSync(join(ws, 'dvx.lock'), 'utf8');
  const repro = spawn(process.execPath, [DVX_BIN, 'repro', 'victim', '--json'], { cwd: ws, env: { ...process.env, DVX_NO_PROGRESS: '1' } });
  let stdout = '';
  repro.stdout.on('data', (d) => (stdout += d));
  const exit = new Promise<number>((r) => repro.on('exit', (c) => r(c ?? 1)));
  for (let i = 0; i < 200 && !existsSync(join(ws, 'victim.pid')); i++) await sleep(50);
  await sleep(100);
  process.kill(Number(readFileSync(join(ws, 'victim.pid'), 'utf8')), 'SIGKILL');
  assert.equal(await exit, 1);
  const out = JSON.parse(stdout);
  assert.equal(out.outcomes[0].result, 'failed');
  assert.match(out.outcomes[0].error, /SIGKILL/);
  assert.equal(readFileSync(join(ws, 'dvx.lock'), 'utf8'), lock);
  assert.ok(!existsSync(join(ws, 'victim.out.dvx')));
  const run = (await dvxJson(ws, ['runs', '--stage', 'victim'])).runs[0];
  assert.equal(run.status, 'failed');
  assert.equal(run.signal, 'SIGKILL');
});

test('after dvx repro itself is SIGKILLed, the next repro stops the orphaned command, keeps its curve and records the run failed', async (t) => {
  const ws = await pipeline(t, `stages:\n  victim:\n    cmd: >-\n      if [ -e second ]; then echo fresh > victim.out; else echo partial > victim.out; echo '{"step": 1, "loss": 0.5}' >> "$DVX_METRICS"; echo $$ > victim.pid; sleep 300; echo late > victim.out; fi\n    outs: [victim.out]\n`);
  const first = spawn(process.execPath, [DVX_BIN, 'repro'], { cwd: ws, env: { ...process.env, DVX_NO_PROGRESS: '1' }, stdio: 'ignore' });
  const exit = new Promise<void>((r) => first.on('exit', () => r()));
  for (let i = 0; i < 200 && !existsSync(join(ws, 'victim.pid')); i++) await sleep(50);
  await sleep(100);
  first.kill('SIGKILL');
  await exit;
  const orphan = Number(readFileSync(join(ws, 'victim.pid'), 'utf8'));
  t.after(() => alive(orphan) && process.kill(orphan, 'SIGKILL'));
  assert.ok(alive(orphan), 'the command outlives a SIGKILLed dvx');

  writeFileSync(join(ws, 'second'), '');
  const r = await dvx(ws, ['repro']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /victim: run [0-9a-f]{8} was interrupted \(dvx repro stopped while it ran\), and its command still ran: stopped it; recorded as failed/);
  assert.equal(alive(orphan), false);
  const runs = (await dvxJson(ws, ['runs', '--stage', 'victim'])).runs;
  assert.deepEqual(runs.map((x: any) => x.status), ['succeeded', 'failed']);
  assert.match(runs[1].error, /^interrupted: /);
  assert.notEqual(runs[1].finishedAt, null);
  assert.deepEqual(runs[1].metrics, { loss: 0.5 });
  assert.deepEqual(readdirSync(join(ws, '.dvx/tmp')), []);
  await sleep(300);
  assert.equal(readFileSync(join(ws, 'victim.out'), 'utf8'), 'fresh\n');
  assert.equal((await dvx(ws, ['status', 'victim.out'])).code, 0);
});

test('metrics the server would refuse are named and left out, the rest of their line kept; a push is never blocked by them', async (t) => {
  const s = await startServer(t, { backend: 'fs' });
  const py = [
    'import json, os',
    'f = open(os.environ["DVX_METRICS"], "a")',
    'for i in range(3): f.write(json.dumps({"step": i, "loss": float("nan") if i == 1 else 1.0 / (i + 1), "acc": 0.5 + i / 10}) + "\\n")',
    'f.write("not json\\n")',
    'f.write(json.dumps({"step": 10**20, "": 1, "k" * 201: 2, "lr": 0.1}) + "\\n")',
    'json.dump({"auc": float("inf"), "f1": 0.7, "name": "x"}, open("m.json", "w"))',
  ].join('\n');
  const ws = await pipeline(t, `stages:\n  m:\n    cmd: python3 m.py\n    metrics: [m.json]\n`, { 'm.py': py });
  const r = await dvx(ws, ['repro']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /m: metric "loss" at step 1 is NaN \(line 2 of \$DVX_METRICS\): not recorded/);
  assert.match(r.stderr, /m: a metric has an empty name \(line 5 of \$DVX_METRICS\): not recorded/);
  assert.match(r.stderr, /m: metric "k{60}…" has a name longer than 200 characters/);
  assert.match(r.stderr, /m: line 4 of \$DVX_METRICS is not a JSON object: not recorded/);
  assert.match(r.stderr, /m: metric "auc" is Infinity \(m\.json\): not recorded/);
  const run = (await dvxJson(ws, ['runs'])).runs[0];
  const shown = await dvxJson(ws, ['runs', 'show', run.id]);
  const curve = (key: string) => shown.metrics.filter((m: any) => m.key === key).map((m: any) => [m.step, m.value]);
  assert.deepEqual(curve('acc'), [[0, 0.5], [1, 0.6], [2, 0.7]]);
  assert.deepEqual(curve('loss'), [[0, 1], [2, 1 / 3]]);
  assert.deepEqual(curve('lr'), [[null, 0.1]]);
  assert.deepEqual(run.metrics, { acc: 0.7, f1: 0.7, loss: 1 / 3, lr: 0.1 });

  // A store an older dvx filled with such a point still pushes (without it).
  const db = new Database(join(ws, '.dvx/tracking.sqlite'));
  db.prepare('INSERT INTO metrics (run, key, value, step, time) VALUES (?, ?, ?, ?, ?)').run(run.id, '', 1, null, Date.now());
  db.close();
  await dvxOk(ws, ['remote', 'add', 'origin', `${s.url}/metrics`]);
  const pushed = await dvxJson(ws, ['push'], { DVX_TOKEN: await s.token('metrics', 'write') });
  assert.equal(pushed.runs, 1);
  const a = await request(s.url, `/api/v1/repos/metrics/runs/${run.id}`, { token: s.adminToken });
  assert.equal(a.status, 200, a.text());
  assert.deepEqual([...new Set((a.json() as any).metrics.map((m: any) => m.key))].sort(), ['acc', 'f1', 'loss', 'lr']);
});

test('a metrics file that holds no named numbers fails its stage, and leaves its outs untracked', async (t) => {
  const ws = await pipeline(t, `stages:\n  score:\n    cmd: echo 0.93 > score.txt && echo model > model.bin\n    outs: [model.bin]\n    metrics: [score.txt]\n`);
  const r = await dvx(ws, ['repro']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /score: failed after its command succeeded: score\.txt holds a number, not an object of named numbers/);
  assert.ok(!existsSync(join(ws, 'model.bin.dvx')));
  assert.ok(!existsSync(join(ws, 'dvx.lock')));
  assert.equal(git(ws, ['diff', '--cached', '--name-only']), '');
});

test('a second repro refuses (or waits with --wait) while one runs; Ctrl-C stops cleanly', async (t) => {
  const ws = await pipeline(t, `stages:\n  slow:\n    cmd: (sleep 300 & echo $! > slow.pid; wait)\n    outs: [slow.out]\n`);
  const first = spawn(process.execPath, [DVX_BIN, 'repro'], { cwd: ws, env: { ...process.env, DVX_NO_PROGRESS: '1' } });
  const exit = new Promise<number | null>((r) => first.on('exit', (c, s) => r(c ?? (s ? 128 : null))));
  for (let i = 0; i < 200 && !existsSync(join(ws, 'slow.pid')); i++) await sleep(50);
  const second = await dvx(ws, ['repro']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`another dvx repro is running in this workspace \\(pid ${first.pid}`));
  const waiting = dvx(ws, ['repro', '--wait', '60', '--json', '--dry-run']);
  first.kill('SIGINT');
  assert.equal(await exit, 130);
  const child = Number(readFileSync(join(ws, 'slow.pid'), 'utf8'));
  for (let i = 0; i < 50 && alive(child); i++) await sleep(100);
  assert.equal(alive(child), false);
  const w = await waiting;
  assert.equal(w.code, 0, w.stderr);
  assert.ok(!existsSync(join(ws, '.dvx/lock')));
  assert.equal((await dvxJson(ws, ['runs'])).runs[0].status, 'cancelled');
});

test('dvx.yaml errors are clear: unknown keys, cycles, two writers, missing deps, bad params', async (t) => {
  const cases: [string, RegExp][] = [
    ['stages:\n  a:\n    cmd: x\n    outz: [a]\n', /stages\.a: .*outz.*known keys: cmd, deps, outs/],
    ['stage:\n  a:\n    cmd: x\n', /\(top level\): .*"stage".*known keys: stages/],
    ['stages:\n  a:\n    comd: x\n', /stages\.a: .*"comd".*known keys: cmd/],
    ['stages:\n  a:\n    cmd: x\n    deps: [b.out]\n    outs: [a.out]\n  b:\n    cmd: y\n    deps: [a.out]\n    outs: [b.out]\n', /cycle: (a -> b -> a|b -> a -> b)/],
    ['stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n', /stages a and b both write o/],
    ['stages:\n  a:\n    cmd: x\n    deps: [nowhere.csv]\n', /depends on nowhere\.csv, which no stage writes and which does not exist/],
    ['stages:\n  a:\n    cmd: x\n    timeout: soon\n', /timeout/],
    ['stages:\n  a:\n    cmd: x\n    params: [train.missing]\n', /uses param train\.missing, which params\.yaml does not have/],
    ['stages:\n  a:\n    cmd: x\n    outs: [../escape]\n', /path "\.\.\/escape" has a '\.\.' segment/],
    ['stages:\n  a:\n    cmd: x\n    outs: [.dvx/cache/x]\n', /stage a: out \.dvx\/cache\/x is inside \.dvx\/, which dvx does not track/],
    ['stages:\n  a:\n    cmd: x\n    outs: [.git/hooks]\n', /stage a: out \.git\/hooks is inside \.git\//],
    ['stages:\n  a:\n    cmd: x\n    outs: [data.dvx]\n', /stage a: out data\.dvx ends in \.dvx, the name of a pointer file/],
    ['stages:\n  a:\n    cmd: x\n    outs: [dvx.lock]\n', /stage a: out dvx\.lock is dvx\.lock, which the runner reads and git must keep/],
  ];
  for (const [yaml, message] of cases) {
    const ws = await pipeline(t, yaml, { 'params.yaml': 'train:\n  lr: 1\n' });
    const r = await dvx(ws, ['repro']);
    assert.notEqual(r.code, 0, yaml);
    assert.match(r.stderr, message, yaml);
  }
});

test('a stage whose wdir does not exist fails with a message that names it; the summary spells up-to-date', async (t) => {
  const ws = await pipeline(t, `stages:\n  ok:\n    cmd: echo 1 > ok.out\n    outs: [ok.out]\n  lost:\n    cmd: echo 1 > x.out\n    wdir: no/such/dir\n    outs: [no/such/dir/x.out]\n`);
  await dvx(ws, ['repro', 'ok']);
  const r = await dvx(ws, ['repro']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /lost: failed: wdir no\/such\/dir of stage lost is not a directory/);
  assert.doesNotMatch(r.stderr, /ENOENT/);
  assert.match(r.stdout, /pipeline run [0-9a-f-]+: lost failed, ok up-to-date\n/);
});

test('runs show takes an id prefix literally and says whether it matched none or several', async (t) => {
  const ws = await pipeline(t, `stages:\n  a:\n    cmd: echo 1 > a.out\n    outs: [a.out]\n`);
  await dvxOk(ws, ['repro']);
  const id = (await dvxJson(ws, ['runs'])).runs[0].id as string;
  for (const prefix of ['', '%', '_', `${id.slice(0, 4)}%`]) {
    const r = await dvx(ws, ['runs', 'show', prefix]);
    assert.equal(r.code, 1, `prefix ${JSON.stringify(prefix)}: ${r.stdout}`);
    assert.match(r.stderr, /no run id starts with/);
  }
  assert.equal((await dvxJson(ws, ['runs', 'show', id.slice(0, 6)])).id, id);
  const db = new Database(join(ws, '.dvx/tracking.sqlite'));
  const twin = `${id.slice(0, 8)}-0000-4000-8000-000000000000`;
  db.prepare("INSERT INTO stage_runs (id, pipeline_run, stage, attempt, status, started_at, cmd) SELECT ?, pipeline_run, stage, attempt, status, started_at, cmd FROM stage_runs WHERE id = ?").run(twin, id);
  db.close();
  const r = await dvx(ws, ['runs', 'show', id.slice(0, 8)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /more than one run id starts with/);
});

test('lineage both ways, OpenLineage events, and models tied to their run', async (t) => {
  const ws = await pipeline(t, CHAIN, { 'params.yaml': 'train:\n  lr: 0.1\n' });
  writeFileSync(join(ws, 'raw.txt'), 'raw data\n');
  await dvxOk(ws, ['add', 'raw.txt']);
  git(ws, ['commit', '-qm', 'raw data']);
  await dvxOk(ws, ['repro']);
  const up = await dvxJson(ws, ['lineage', 'models/model.txt']);
  assert.equal(up.root.producedBy.stage, 'train');
  const prepared = up.root.producedBy.inputs[0];
  assert.equal(prepared.path, 'data/prepared.txt');
  assert.equal(prepared.producedBy.stage, 'prepare');
  const raw = prepared.producedBy.inputs[0];
  assert.equal(raw.path, 'raw.txt');
  assert.equal(raw.introducedIn.message, 'raw data');
  assert.equal(raw.introducedIn.sha, git(ws, ['rev-parse', 'HEAD']).trim());

  const down = await dvxJson(ws, ['lineage', '--downstream', 'raw.txt']);
  assert.equal(down.root.consumedBy[0].stage, 'prepare');
  assert.equal(down.root.consumedBy[0].outputs[0].consumedBy[0].stage, 'train');
  assert.equal(down.root.consumedBy[0].outputs[0].consumedBy[0].outputs[0].path, 'models/model.txt');

  const events = JSON.parse((await dvxOk(ws, ['lineage', 'models/model.txt', '--format', 'openlineage'])).stdout);
  assert.deepEqual(events.map((e: any) => e.job.name).sort(), ['prepare', 'train']);
  assert.ok(events.every((e: any) => e.eventType === 'COMPLETE' && e.run.runId && e.outputs[0].facets.version.datasetVersion));

  const m = await dvxJson(ws, ['models', 'register', 'churn', 'models/model.txt', '--alias', 'production']);
  assert.equal(m.version, 1);
  assert.equal(m.run, up.root.producedBy.id);
  const list = await dvxJson(ws, ['models', 'list']);
  assert.deepEqual(list.models.map((x: any) => [x.name, x.version, x.aliases]), [['churn', 1, ['production']]]);
});

test('post-commit re-runs stale stages: in the background, synchronously with autocommit, or not at all', async (t) => {
  const ws = await pipeline(t, `stages:\n  double:\n    cmd: cat in.txt in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n`, { 'in.txt': 'a\n' });
  await dvxOk(ws, ['install']);
  writeFileSync(join(ws, 'in.txt'), 'b\n');
  git(ws, ['commit', '-qam', 'in b']);
  // background: wait for the detached run to finish
  for (let i = 0; i < 200 && (!existsSync(join(ws, 'out.txt')) || existsSync(join(ws, '.dvx/lock'))); i++) await sleep(100);
  assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'b\nb\n');
  const run = (await dvxJson(ws, ['runs'])).runs[0];
  assert.equal(run.commit, git(ws, ['rev-parse', 'HEAD']).trim());
  assert.match(git(ws, ['diff', '--cached', '--name-only']), /out\.txt\.dvx/);
  // Synchronous from here: a background run started by this commit could otherwise start late, see
  // in.txt = c below and take the run the synchronous hook is meant to make.
  await dvxOk(ws, ['config', 'runner.on_commit', 'sync']);
  git(ws, ['commit', '-qm', 'outputs']);
  await dvxOk(ws, ['config', 'runner.autocommit', 'true']);
  writeFileSync(join(ws, 'in.txt'), 'c\n');
  git(ws, ['commit', '-qam', 'in c']);
  assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'c\nc\n');
  assert.match(git(ws, ['log', '-1', '--format=%s']), /^dvx: outputs of pipeline run/);
  assert.equal(git(ws, ['status', '--porcelain']), '');

  await dvxOk(ws, ['config', 'runner.on_commit', 'off']);
  writeFileSync(join(ws, 'in.txt'), 'd\n');
  git(ws, ['commit', '-qam', 'in d']);
  assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'c\nc\n');
  const bad = await dvx(ws, ['config', 'runner.on_commit', 'sometimes']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /runner\.on_commit/);
});
