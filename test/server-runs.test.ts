import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePointer } from '../core/pointer.ts';
import { startAzurite } from './support/azurite.ts';
import { dvxJson, dvxOk, git, REPO_ROOT, run, workspace } from './support/cli.ts';
import { errorCode, request, type Answer } from './support/http.ts';
import { BACKENDS, startServer, type TestServer } from './support/server.ts';

/**
 * The tracking API end to end: the example pipeline (examples/customers) runs
 * with the real dvx, `dvx push` sends its runs and models to a real
 * dvx-server, and every query is checked against what the client recorded.
 * Then the protocol's rules on synthetic records: limits, bad input, scopes,
 * the replace-only-if-more-final rule and all-or-nothing requests.
 */
const azurite = await startAzurite();
after(() => azurite.dispose());

function client(s: TestServer, repo: string, token: string) {
  const base = `/api/v1/repos/${repo}`;
  const get = async (path: string): Promise<any> => {
    const a = await request(s.url, `${base}${path}`, { token });
    assert.equal(a.status, 200, `GET ${path}: ${a.status} ${a.text().slice(0, 500)}`);
    return a.json();
  };
  const raw = (path: string, opts: Parameters<typeof request>[2] = {}) => request(s.url, `${base}${path}`, { token, ...opts });
  const post = (body: unknown, t = token): Promise<Answer> =>
    request(s.url, `${base}/runs`, { method: 'POST', token: t, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { get, raw, post };
}

const pointerSha = (ws: string, path: string) => /\nsha256: ([0-9a-f]{64})\n/.exec(readFileSync(join(ws, `${path}.dvx`), 'utf8'))![1]!;

/** The example project with two versions of its training (lr 0.8 x 30 epochs, then lr 0.4 x 12), two model versions, pushed. */
async function examplePushed(t: Parameters<typeof workspace>[0], s: TestServer) {
  const ws = await workspace(t);
  for (const f of ['dvx.yaml', 'params.yaml', 'generate.py', 'validate.py', 'train.py', 'evaluate.py']) cpSync(join(REPO_ROOT, 'examples', 'customers', f), join(ws, f));
  const gen = await run('python3', ['generate.py', 'data/raw/customers.csv', '--rows', '3000'], { cwd: ws });
  assert.equal(gen.code, 0, gen.stderr);
  await dvxOk(ws, ['add', 'data/raw/customers.csv']);
  git(ws, ['add', '-A']);
  git(ws, ['commit', '-qm', 'customers v1 and the churn pipeline']);
  const first = await dvxJson(ws, ['repro']);
  assert.deepEqual(first.outcomes.map((o: any) => o.result), ['succeeded', 'succeeded', 'succeeded']);
  const v1 = await dvxJson(ws, ['models', 'register', 'churn', 'models/churn-model.json', '--alias', 'production']);
  writeFileSync(join(ws, 'params.yaml'), readFileSync(join(ws, 'params.yaml'), 'utf8').replace('epochs: 30', 'epochs: 12').replace('lr: 0.8', 'lr: 0.4'));
  const second = await dvxJson(ws, ['repro']);
  assert.deepEqual(second.outcomes.map((o: any) => o.result), ['up_to_date', 'succeeded', 'succeeded']);
  const v2 = await dvxJson(ws, ['models', 'register', 'churn', 'models/churn-model.json', '--alias', 'production']);
  assert.equal(v2.version, 2);

  const token = await s.token('churn', 'write');
  await dvxOk(ws, ['remote', 'add', 'origin', `${s.url}/churn`]);
  const pushed = await dvxJson(ws, ['push'], { DVX_TOKEN: token });
  assert.equal(pushed.runs, 5);
  assert.equal(pushed.models, 2);
  const local = (await dvxJson(ws, ['runs'])).runs as any[];
  assert.equal(local.length, 5);
  return { ws, token, local, first, second, v1, v2 };
}

for (const backend of BACKENDS) {
  test(`the example pipeline's runs, metrics, lineage and models reach the server through dvx push and answer queries (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const { ws, token, local, first, second, v1, v2 } = await examplePushed(t, s);
    const api = client(s, 'churn', await s.token('churn', 'read'));
    const ids = (page: any) => page.runs.map((r: any) => r.id);

    // The list: every run, newest first, with the client's statuses, params and last metrics.
    const all = await api.get('/runs');
    assert.equal(all.total, 5);
    assert.deepEqual(new Set(ids(all)), new Set(local.map((r) => r.id)));
    const started = all.runs.map((r: any) => r.startedAt);
    assert.deepEqual(started, [...started].sort((a: number, b: number) => b - a));
    for (const r of all.runs) {
      const l = local.find((x) => x.id === r.id);
      assert.equal(r.status, 'succeeded');
      assert.equal(r.stage, l.stage);
      assert.equal(r.commit, l.commit);
      assert.deepEqual(r.params, l.params);
      assert.deepEqual(r.metrics, l.metrics);
      assert.equal(r.durationMs, r.finishedAt - r.startedAt);
    }

    // Filters.
    const trainIds = [first.outcomes[1].runIds[0], second.outcomes[1].runIds[0]];
    const train = await api.get('/runs?stage=train');
    assert.deepEqual(new Set(ids(train)), new Set(trainIds));
    assert.deepEqual(train.runs.find((r: any) => r.id === trainIds[0]).params, { 'train.epochs': 30, 'train.lr': 0.8, 'train.holdout': 0.2 });
    assert.deepEqual(ids(await api.get('/runs?param=train.lr:0.4')), [trainIds[1]]);
    assert.deepEqual(ids(await api.get('/runs?param=train.lr:0.4&param=train.epochs:12')), [trainIds[1]]);
    assert.equal((await api.get('/runs?param=train.lr:0.4&param=train.epochs:30')).total, 0);
    assert.equal((await api.get(`/runs?pipelineRun=${first.pipelineRun}`)).total, 3);
    assert.equal((await api.get(`/runs?pipelineRun=${second.pipelineRun}&stage=evaluate`)).total, 1);
    assert.equal((await api.get('/runs?status=succeeded')).total, 5);
    assert.equal((await api.get('/runs?status=failed')).total, 0);
    const commit = local[0].commit as string;
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.equal((await api.get(`/runs?commit=${commit.slice(0, 7)}`)).total, local.filter((r) => r.commit === commit).length);
    const acc = trainIds.map((id) => local.find((r) => r.id === id).metrics.train_accuracy as number);
    const best = Math.max(...acc);
    assert.deepEqual(ids(await api.get(`/runs?metric=train_accuracy>=${best}`)), trainIds.filter((_, i) => acc[i] === best));
    assert.equal((await api.get(`/runs?metric=train_accuracy>${best}`)).total, 0);
    assert.equal((await api.get(`/runs?metric=train_accuracy<=${best}&stage=train`)).total, 2);

    // Sorting: by a param (runs without it last), a metric, duration; both orders.
    const byLr = await api.get('/runs?sort=param.train.lr&order=asc');
    assert.deepEqual(byLr.runs.slice(0, 2).map((r: any) => r.params['train.lr']), [0.4, 0.8]);
    assert.ok(byLr.runs.slice(2).every((r: any) => r.params['train.lr'] === undefined));
    const byLrDesc = await api.get('/runs?sort=param.train.lr&order=desc');
    assert.deepEqual(byLrDesc.runs.slice(0, 2).map((r: any) => r.params['train.lr']), [0.8, 0.4]);
    const byLoss = await api.get('/runs?sort=metric.loss&order=desc');
    const losses = byLoss.runs.slice(0, 2).map((r: any) => r.metrics.loss);
    assert.deepEqual(losses, [...losses].sort((a: number, b: number) => b - a));
    assert.ok(byLoss.runs.slice(2).every((r: any) => r.metrics.loss === undefined));
    const byDuration = (await api.get('/runs?sort=duration&order=asc')).runs.map((r: any) => r.durationMs);
    assert.deepEqual(byDuration, [...byDuration].sort((a: number, b: number) => a - b));
    const byStage = (await api.get('/runs?sort=stage&order=asc')).runs.map((r: any) => r.stage);
    assert.deepEqual(byStage, ['evaluate', 'evaluate', 'train', 'train', 'validate']);
    assert.deepEqual(ids(await api.get('/runs?sort=startedAt&order=asc')), [...ids(all)].reverse());

    // Pagination: pages of 2 add up to the whole list, each with the same total.
    const pages = [];
    for (let offset = 0; offset < 6; offset += 2) {
      const p = await api.get(`/runs?limit=2&offset=${offset}`);
      assert.equal(p.total, 5);
      assert.equal(p.limit, 2);
      assert.equal(p.offset, offset);
      pages.push(...ids(p));
    }
    assert.deepEqual(pages, ids(all));

    // Detail: every metric point (the per-epoch curve), inputs, outputs, log.
    const show = await dvxJson(ws, ['runs', 'show', trainIds[0]]);
    const detail = await api.get(`/runs/${trainIds[0]}`);
    assert.equal(detail.cmd, show.cmd);
    assert.equal(detail.exitCode, 0);
    const lossPoints = detail.metrics.filter((m: any) => m.key === 'loss');
    assert.equal(lossPoints.length, 30, 'one loss point per epoch');
    const lossSteps = lossPoints.map((m: any) => m.step);
    assert.deepEqual(lossSteps, Array.from({ length: 30 }, (_, i) => lossSteps[0] + i), 'consecutive epochs');
    assert.deepEqual(
      detail.metrics.map((m: any) => [m.key, m.step, m.value, m.time]),
      show.metrics.map((m: any) => [m.key, m.step, m.value, m.time]),
    );
    assert.deepEqual(detail.inputs.map((a: any) => [a.path, a.sha256]), show.inputs.map((a: any) => [a.path, a.sha256]));
    assert.deepEqual(detail.outputs.map((a: any) => [a.path, a.sha256, a.manifest]), [['models/churn-model.json', v1.sha256, v1.manifest]]);
    assert.equal(typeof detail.log, 'string');
    assert.deepEqual(detail.attempts, []);

    // The curve, downsampled: at most N points, keeping the first, last, minimum and maximum.
    const values = lossPoints.map((m: any) => m.value as number);
    const curve = await api.get(`/runs/${trainIds[0]}/metrics/loss?points=8`);
    assert.equal(curve.total, 30);
    assert.ok(curve.points.length <= 8 && curve.points.length >= 4, `${curve.points.length} points`);
    const kept = curve.points.map((p: any) => p.value);
    assert.equal(kept[0], values[0]);
    assert.equal(kept.at(-1), values.at(-1));
    assert.ok(kept.includes(Math.min(...values)));
    assert.ok(kept.includes(Math.max(...values)));
    const steps = curve.points.map((p: any) => p.step);
    assert.deepEqual(steps, [...steps].sort((a: number, b: number) => a - b), 'points stay in recorded order');
    assert.deepEqual((await api.get(`/runs/${trainIds[0]}/metrics/loss`)).points.map((p: any) => p.value), values, 'under the limit: every point');

    // Lineage up from the model: the run that made it, its inputs, back to the raw data.
    const rawSha = pointerSha(ws, 'data/raw/customers.csv');
    const modelSha = pointerSha(ws, 'models/churn-model.json');
    assert.equal(modelSha, v2.sha256);
    const up = await api.get(`/lineage?path=models/churn-model.json&sha256=${modelSha}&direction=up`);
    const node = (g: any, id: string) => g.nodes.find((n: any) => n.id === id);
    const rootNode = node(up, up.root);
    assert.equal(rootNode.kind, 'data');
    assert.equal(rootNode.producedBy, trainIds[1]);
    const reached = (g: any, from: string, forward: boolean) => {
      const seen = new Set([from]);
      const queue = [from];
      while (queue.length) {
        const cur = queue.shift()!;
        for (const e of g.edges) {
          const [a, b] = forward ? [e.from, e.to] : [e.to, e.from];
          if (a === cur && !seen.has(b)) (seen.add(b), queue.push(b));
        }
      }
      return [...seen].map((id) => node(g, id));
    };
    const ancestors = reached(up, up.root, false);
    const raw = ancestors.find((n: any) => n.kind === 'data' && n.path === 'data/raw/customers.csv');
    assert.ok(raw, 'upstream reaches the raw data');
    assert.equal(raw.sha256, rawSha);
    assert.equal(raw.producedBy, null);
    assert.equal(raw.introducedBy, null, 'no commit records on this server');
    assert.deepEqual(new Set(ancestors.filter((n: any) => n.kind === 'run').map((n: any) => n.stage)), new Set(['train', 'validate']));
    assert.equal(ancestors.length, up.nodes.length, 'every node of an upstream graph is an ancestor of the root');
    for (const e of up.edges) assert.ok(node(up, e.from) && node(up, e.to));

    // Lineage down from the raw data: every run that read it, and what they made, to both models.
    const down = await api.get(`/lineage?path=data/raw/customers.csv&sha256=${rawSha}&direction=down`);
    const descendants = reached(down, down.root, true);
    assert.equal(descendants.length, down.nodes.length);
    const models = descendants.filter((n: any) => n.kind === 'data' && n.path === 'models/churn-model.json').map((n: any) => n.sha256);
    assert.deepEqual(new Set(models), new Set([v1.sha256, v2.sha256]));
    assert.deepEqual(
      descendants.filter((n: any) => n.kind === 'run').map((n: any) => n.stage).sort(),
      ['evaluate', 'evaluate', 'train', 'train', 'validate'],
    );
    for (const e of down.edges) {
      const [a, b] = [node(down, e.from), node(down, e.to)];
      assert.notEqual(a.kind, b.kind, 'edges join data and runs');
      if (b.kind === 'run') assert.ok(local.some((r) => r.id === b.run));
    }

    // With a commit record naming the raw data, lineage says which commit brought it in, and takes a ref.
    const rawPointer = decodePointer(readFileSync(join(ws, 'data/raw/customers.csv.dvx')));
    const person = { name: 'Dana', email: 'dana@example.com', time: 1732400000, tz: '+0000' };
    const commitSha = 'ab'.repeat(20);
    const recorded = await request(s.url, '/api/v1/repos/churn/commits', {
      method: 'POST',
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        commits: [{ sha: commitSha, parents: [], author: person, committer: person, message: 'raw customers', pointers: [{ path: 'data/raw/customers.csv', type: 'file', size: rawPointer.size, sha256: rawPointer.sha256, manifest: rawPointer.manifest }] }],
        refs: [{ name: 'refs/heads/main', sha: commitSha }],
      }),
    });
    assert.equal(recorded.status, 200, recorded.text());
    const upAgain = await api.get(`/lineage?path=models/churn-model.json&sha256=${modelSha}&direction=up`);
    const rawNode = upAgain.nodes.find((n: any) => n.kind === 'data' && n.path === 'data/raw/customers.csv');
    assert.deepEqual(rawNode.introducedBy, { commit: commitSha, time: person.time, message: 'raw customers' });
    const byRef = await api.get('/lineage?path=data/raw/customers.csv&ref=main&direction=down');
    assert.deepEqual(byRef.nodes.map((n: any) => n.id).sort(), down.nodes.map((n: any) => n.id).sort(), 'ref=main names the same raw version');
    assert.equal(errorCode(await api.raw('/lineage?path=data/raw/customers.csv&ref=no-such-branch')), 'ref_not_found');

    // Models: newest version first, the alias moved to v2, each tied to its training run.
    const list = (await api.get('/models')).models;
    assert.deepEqual(list.map((m: any) => [m.name, m.version, m.aliases, m.run, m.sha256]), [
      ['churn', 2, ['production'], trainIds[1], v2.sha256],
      ['churn', 1, [], trainIds[0], v1.sha256],
    ]);
    assert.equal(list[0].producedBy.stage, 'train');
    assert.equal(list[0].path, 'models/churn-model.json');
    assert.deepEqual((await api.get('/models?name=other')).models, []);

    // A push with nothing new sends no runs; the records stay as they were.
    const again = await dvxJson(ws, ['push'], { DVX_TOKEN: token });
    assert.equal(again.runs, 0);
    assert.equal((await api.get('/runs')).total, 5);
  });
}

// ---- the protocol's rules, on synthetic records ----

const sha = (c: string) => c.repeat(64);

function stageRun(o: { id?: string; pipelineRun: string; stage?: string; status?: string; finishedAt?: number | null; metrics?: unknown[]; params?: Record<string, unknown> }) {
  const finishedAt = o.finishedAt === undefined ? 2_000 : o.finishedAt;
  return {
    id: o.id ?? randomUUID(),
    pipelineRun: o.pipelineRun,
    stage: o.stage ?? 'train',
    attempt: 1,
    status: o.status ?? 'succeeded',
    startedAt: 1_000,
    finishedAt,
    exitCode: finishedAt === null ? null : 0,
    signal: null,
    cmd: 'python3 train.py',
    commit: null,
    params: o.params ?? {},
    error: null,
    metrics: o.metrics ?? [],
    inputs: [{ path: 'data/in.csv', type: 'file', sha256: sha('1'), manifest: null, size: 1 }],
    outputs: [{ path: 'model.bin', type: 'file', sha256: sha('2'), manifest: null, size: 1 }],
    log: null,
  };
}

for (const backend of BACKENDS) {
  test(`runs sync: more final records replace, others do not; requests are all or nothing; limits, bad input and scopes answer clearly (${backend})`, async (t) => {
    const s = await startServer(t, { backend, azurite });
    const write = await s.token('lab', 'write');
    const read = await s.token('lab', 'read');
    const api = client(s, 'lab', write);
    const reader = client(s, 'lab', read);
    const pr = randomUUID();
    const id = randomUUID();

    // running -> succeeded replaces; succeeded -> running and the same record again do not.
    const running = stageRun({ id, pipelineRun: pr, status: 'running', finishedAt: null, metrics: [{ key: 'loss', value: 1, step: 1, time: 1 }] });
    let a = await api.post({ pipelineRuns: [{ id: pr, commit: null, trigger: 'manual', startedAt: 1_000, finishedAt: null, status: 'running' }], runs: [running] });
    assert.equal(a.status, 200, a.text());
    assert.deepEqual(a.json(), { runs: 1, models: 0 });
    assert.equal((await reader.get(`/runs/${id}`)).status, 'running');
    assert.equal((await reader.get(`/runs/${id}`)).durationMs, null);
    const done = stageRun({ id, pipelineRun: pr, metrics: [1, 0.5, 0.25].map((value, i) => ({ key: 'loss', value, step: i + 1, time: i })), params: { lr: 0.1 } });
    a = await api.post({ runs: [done] });
    assert.deepEqual(a.json(), { runs: 1, models: 0 });
    const after1 = await reader.get(`/runs/${id}`);
    assert.equal(after1.status, 'succeeded');
    assert.deepEqual(after1.metrics.map((m: any) => m.value), [1, 0.5, 0.25], 'the finished record replaced the points too');
    assert.deepEqual((await reader.get('/runs')).runs[0].metrics, { loss: 0.25 });
    a = await api.post({ runs: [running] });
    assert.deepEqual(a.json(), { runs: 0, models: 0 }, 'never back to running');
    a = await api.post({ runs: [{ ...done, status: 'failed' }] });
    assert.deepEqual(a.json(), { runs: 0, models: 0 }, 'a finished run is not replaced by another finished record');
    assert.equal((await reader.get(`/runs/${id}`)).status, 'succeeded');
    assert.equal((await reader.get('/runs')).total, 1);
    assert.equal((await api.post({ runs: [done] })).json().runs, 0, 'sending again records nothing');

    // All or nothing: a model conflict (409) leaves the new run of the same request unrecorded.
    const model = { name: 'm', version: 1, aliases: ['prod'], path: 'model.bin', sha256: sha('2'), manifest: null, run: id, createdAt: 5 };
    assert.deepEqual((await api.post({ models: [model] })).json(), { runs: 0, models: 1 });
    assert.deepEqual((await api.post({ models: [model] })).json(), { runs: 0, models: 0 });
    const other = stageRun({ pipelineRun: pr, stage: 'eval' });
    a = await api.post({ runs: [other], models: [{ ...model, sha256: sha('3') }] });
    assert.equal(a.status, 409);
    assert.equal(errorCode(a), 'model_conflict');
    assert.match(a.json().error.message, /model m version 1 is already recorded/);
    assert.equal((await api.raw(`/runs/${other.id}`)).status, 404);
    // Aliases follow the last list sent: moving "prod" to version 2 takes it from version 1.
    assert.deepEqual((await api.post({ models: [{ ...model, version: 2, sha256: sha('4'), run: null }] })).json(), { runs: 0, models: 1 });
    assert.deepEqual((await reader.get('/models')).models.map((m: any) => [m.version, m.aliases, m.producedBy?.stage ?? null]), [
      [2, ['prod'], null],
      [1, [], 'train'],
    ]);

    // Scopes: a read token cannot POST, no token is 401, another repository's token sees nothing.
    a = await api.post({ runs: [other] }, read);
    assert.equal(a.status, 403);
    assert.equal(errorCode(a), 'forbidden');
    assert.equal((await request(s.url, '/api/v1/repos/lab/runs')).status, 401);
    const stranger = await s.token('elsewhere', 'admin');
    assert.equal((await request(s.url, '/api/v1/repos/lab/runs', { token: stranger })).status, 404);
    assert.equal((await request(s.url, '/api/v1/repos/nowhere/runs', { token: s.adminToken })).status, 404);

    // Malformed bodies.
    a = await api.post('{"runs": [');
    assert.equal(a.status, 400);
    assert.equal(errorCode(a), 'bad_json');
    a = await api.post({ runs: [{ ...other, status: 'exploded' }] });
    assert.equal(a.status, 422);
    assert.equal(errorCode(a), 'invalid_runs');
    assert.match(a.json().error.message, /runs\.0\.status/);
    a = await api.post({ runs: [{ ...other, id: 'not-a-uuid' }] });
    assert.equal(a.status, 422);
    assert.match(a.json().error.message, /runs\.0\.id/);
    a = await api.post({ runs: [other], extra: 1 });
    assert.equal(a.status, 422);
    a = await request(s.url, '/api/v1/repos/lab/runs', { method: 'POST', token: write, headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(a.status, 415);
    assert.equal((await reader.get('/runs')).total, 1, 'nothing of the refused requests was recorded');

    // Limits: 413, saying what to do.
    a = await api.post({ runs: Array.from({ length: 501 }, () => stageRun({ pipelineRun: pr })) });
    assert.equal(a.status, 413);
    assert.match(a.json().error.message, /501 runs is more than the limit of 500 per request/);
    a = await api.post({ runs: [{ ...other, log: 'x'.repeat(1024 * 1024 + 1) }] });
    assert.equal(a.status, 413);
    assert.match(a.json().error.message, /runs\[0\]\.log/);
    a = await request(s.url, '/api/v1/repos/lab/runs', { method: 'POST', token: write, headers: { 'content-type': 'application/json', 'content-length': 40 * 1024 * 1024 }, body: '{"runs": []' });
    assert.equal(a.status, 413);
    assert.equal(errorCode(a), 'too_large');
    assert.match(a.json().error.message, /larger than 33554432 bytes/);

    // Unknown things are 404; malformed ids and queries 400.
    const unknown = randomUUID();
    a = await api.raw(`/runs/${unknown}`);
    assert.equal(a.status, 404);
    assert.equal(errorCode(a), 'run_not_found');
    assert.equal(errorCode(await api.raw(`/runs/${unknown}/metrics/loss`)), 'run_not_found');
    assert.equal(errorCode(await api.raw(`/runs/${id}/metrics/accuracy`)), 'metric_not_found');
    assert.equal((await api.raw('/runs/1234')).status, 400);
    for (const q of ['limit=0', 'limit=501', 'offset=-1', 'sort=bogus', 'order=up', 'status=great', 'commit=XYZ', 'pipelineRun=1', 'param=lr', 'param=lr:notjson', 'metric=loss', 'metric=loss>=abc', 'stage=a&stage=b', 'colour=blue']) {
      a = await api.raw(`/runs?${q}`);
      assert.equal(a.status, 400, `${q}: ${a.status}`);
      assert.equal(errorCode(a), 'bad_query');
    }
    assert.equal((await api.raw(`/runs/${id}/metrics/loss?points=3`)).status, 400);
    assert.equal((await api.raw(`/lineage?path=model.bin`)).status, 400, 'neither sha256 nor ref');
    assert.equal((await api.raw(`/lineage?path=model.bin&sha256=${sha('2')}&ref=main`)).status, 400, 'both');
    assert.equal(errorCode(await api.raw(`/lineage?path=model.bin&ref=main`)), 'ref_not_found', 'no commit records in this repository');
    assert.equal((await api.raw(`/lineage?path=model.bin&sha256=${sha('2')}&direction=sideways`)).status, 400);
    a = await api.raw(`/lineage?path=model.bin&sha256=${sha('9')}`);
    assert.equal(a.status, 404);
    assert.equal(errorCode(a), 'data_not_found');
    // The synthetic run's lineage: its output came from it, its input is raw.
    const g = await reader.get(`/lineage?path=model.bin&sha256=${sha('2')}`);
    assert.deepEqual(g.nodes.map((n: any) => n.id), [`data:${sha('2')}:model.bin`, `run:${id}`, `data:${sha('1')}:data/in.csv`]);
    assert.deepEqual(g.edges, [
      { from: `run:${id}`, to: `data:${sha('2')}:model.bin` },
      { from: `data:${sha('1')}:data/in.csv`, to: `run:${id}` },
    ]);
    assert.equal(g.truncated, false);

    // Deleting the repository deletes its runs and models with it.
    assert.equal((await request(s.url, '/api/v1/repos/lab', { method: 'DELETE', token: s.adminToken })).status, 204);
    assert.equal((await request(s.url, '/api/v1/repos/lab/runs', { token: s.adminToken })).status, 404);
    assert.deepEqual((await api.post({ runs: [other] })).json(), { runs: 1, models: 0 }, 'a new repository starts empty');
    assert.equal((await reader.get('/runs')).total, 1);
    assert.deepEqual((await reader.get('/models')).models, []);
  });
}
