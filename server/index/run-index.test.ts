import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runsSyncRequestSchema } from '../../core/protocol.ts';
import { openDatabase } from './database.ts';
import { lineageGraph } from './lineage.ts';
import { RepoIndex } from './repo-index.ts';
import { canonicalJson, RunIndex } from './run-index.ts';

/** The tracking store's own rules, on a real SQLite index: downsampling, lineage hooks, canonical params. */
function fixture(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'dvx-runindex-'));
  const db = openDatabase(join(dir, 'index.sqlite'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rid = new RepoIndex(db).ensure('r', 1).repo.rid;
  return { db, rid, runs: new RunIndex(db) };
}

const h = (c: string) => c.repeat(64);

function run(o: { stage: string; inputs: [string, string][]; outputs: [string, string][]; metrics?: { key: string; value: number; step: number | null; time: number }[]; startedAt?: number }) {
  const art = ([path, c]: [string, string]) => ({ path, type: 'file' as const, sha256: h(c), manifest: null, size: 1 });
  return {
    id: randomUUID(),
    pipelineRun: randomUUID(),
    stage: o.stage,
    attempt: 1,
    status: 'succeeded' as const,
    startedAt: o.startedAt ?? 1,
    finishedAt: (o.startedAt ?? 1) + 1,
    exitCode: 0,
    signal: null,
    cmd: o.stage,
    commit: null,
    params: {},
    error: null,
    metrics: o.metrics ?? [],
    inputs: o.inputs.map(art),
    outputs: o.outputs.map(art),
    log: null,
  };
}

test('a curve is downsampled to at most N points keeping every bucket\'s first, min, max and last, in order', (t) => {
  const { rid, runs } = fixture(t);
  // A slow wave with one spike up and one spike down hidden among 10,000 points.
  const values = Array.from({ length: 10_000 }, (_, i) => Math.sin(i / 500) + (i === 3_333 ? 50 : 0) - (i === 7_777 ? 50 : 0));
  const r = run({ stage: 'train', inputs: [], outputs: [], metrics: values.map((value, i) => ({ key: 'loss', value, step: i, time: i })) });
  runs.record(rid, runsSyncRequestSchema.parse({ runs: [r] }));
  for (const n of [4, 5, 10, 100, 999]) {
    const c = runs.metricCurve(rid, r.id, 'loss', n)!;
    assert.equal(c.total, 10_000);
    assert.ok(c.points.length <= n, `${c.points.length} > ${n}`);
    const v = c.points.map((p) => p.value);
    assert.ok(v.includes(50 + Math.sin(3_333 / 500)) && v.includes(Math.sin(7_777 / 500) - 50), `spikes kept with ${n} points`);
    assert.equal(c.points[0]!.step, 0);
    assert.equal(c.points.at(-1)!.step, 9_999);
    const steps = c.points.map((p) => p.step!);
    assert.deepEqual(steps, [...new Set(steps)].sort((a, b) => a - b));
  }
  assert.equal(runs.metricCurve(rid, r.id, 'loss', 20_000)!.points.length, 10_000);
  assert.equal(runs.metricCurve(rid, r.id, 'nothing', 100)!.total, 0);
  assert.equal(runs.metricCurve(rid, randomUUID(), 'loss', 100), undefined);
});

test('lineage asks the hooks for the commit of raw data only, and follows the newest producer', (t) => {
  const { rid, runs } = fixture(t);
  const prep = run({ stage: 'prep', inputs: [['raw.csv', 'a']], outputs: [['clean.csv', 'b']], startedAt: 10 });
  const prepAgain = run({ stage: 'prep', inputs: [['raw.csv', 'a']], outputs: [['clean.csv', 'b']], startedAt: 20 });
  const train = run({ stage: 'train', inputs: [['clean.csv', 'b'], ['train.py', 'c']], outputs: [['model.bin', 'd']], startedAt: 30 });
  runs.record(rid, runsSyncRequestSchema.parse({ runs: [prep, prepAgain, train] }));
  const asked: string[] = [];
  const hooks = {
    introducedBy: (q: { rid: number; repo: string; path: string; sha256: string }) => {
      asked.push(q.path);
      assert.equal(q.repo, 'r');
      return q.path === 'raw.csv' ? { commit: 'f'.repeat(40), time: 1_700_000_000, message: 'raw data v1' } : undefined;
    },
  };
  const up = lineageGraph({ runs, rid, repo: 'r', path: 'model.bin', sha256: h('d'), direction: 'up', hooks })!;
  const byPath = (p: string) => up.nodes.find((n) => n.kind === 'data' && n.path === p) as { producedBy: string | null; introducedBy?: unknown };
  assert.deepEqual(asked.sort(), ['raw.csv', 'train.py']);
  assert.deepEqual(byPath('raw.csv').introducedBy, { commit: 'f'.repeat(40), time: 1_700_000_000, message: 'raw data v1' });
  assert.equal(byPath('train.py').introducedBy, null);
  assert.equal(byPath('clean.csv').producedBy, prepAgain.id, 'the newest run that produced it');
  assert.equal('introducedBy' in byPath('clean.csv'), false);
  assert.equal(up.nodes.filter((n) => n.kind === 'run').length, 2);

  // Downstream reaches every consumer, both prep runs included.
  const down = lineageGraph({ runs, rid, repo: 'r', path: 'raw.csv', sha256: h('a'), direction: 'down', hooks })!;
  assert.deepEqual(down.nodes.filter((n) => n.kind === 'run').map((n) => (n as { run: string }).run).sort(), [prep.id, prepAgain.id, train.id].sort());
  assert.ok(down.nodes.some((n) => n.kind === 'data' && n.path === 'model.bin'));

  // A version no run names is known through the hook alone, else unknown.
  const only = lineageGraph({ runs, rid, repo: 'r', path: 'raw.csv', sha256: h('e'), direction: 'up', hooks: { introducedBy: () => ({ commit: 'e'.repeat(40), time: 1, message: 'm' }) } })!;
  assert.equal(only.nodes.length, 1);
  assert.equal(lineageGraph({ runs, rid, repo: 'r', path: 'raw.csv', sha256: h('e'), direction: 'up' }), undefined);

  // The node limit truncates, keeping the nearest nodes.
  const small = lineageGraph({ runs, rid, repo: 'r', path: 'model.bin', sha256: h('d'), direction: 'up', maxNodes: 3 })!;
  assert.equal(small.truncated, true);
  assert.ok(small.nodes.length <= 3);
  assert.equal(small.nodes[0]!.id, small.root);
});

test('params compare by canonical JSON: key order and number spelling do not matter', (t) => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 0.5 }] }), '{"a":[1,{"c":0.5,"d":2}],"b":1}');
  assert.equal(canonicalJson(JSON.parse('0.10')), canonicalJson(0.1));
  const { rid, runs } = fixture(t);
  const r = { ...run({ stage: 's', inputs: [], outputs: [] }), params: { opt: { momentum: 0.9, name: 'sgd' }, layers: [64, 32], code: '007' } };
  runs.record(rid, runsSyncRequestSchema.parse({ runs: [r] }));
  const list = (params: { key: string; value: string }[]) => runs.list({ rid, filter: { params }, sort: { kind: 'param', key: 'code' }, order: 'asc', limit: 10, offset: 0 }).total;
  assert.equal(list([{ key: 'opt', value: canonicalJson(JSON.parse('{"name":"sgd","momentum":0.90}')) }]), 1);
  assert.equal(list([{ key: 'layers', value: canonicalJson([64, 32]) }]), 1);
  assert.equal(list([{ key: 'code', value: canonicalJson('007') }]), 1, 'a string param stays a string');
  assert.equal(list([{ key: 'code', value: canonicalJson(7) }]), 0);
});
