import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, watchedPage, type WatchedPage } from './support/browser.ts';
import { dvxOk, git, REPO_ROOT, run, tempDir } from './support/cli.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The web UI in a real browser (Debian's Chromium, driven by playwright-core)
 * against a real dvx-server seeded by running the example pipeline with the
 * real CLI and git hooks: every page loads without console errors, shows the
 * numbers the API gives, its links lead where they should, its charts carry
 * the data, its main controls are reachable with the keyboard; markup in a
 * commit message, a stage name and a param value shows as text and never
 * runs. Screenshots go to test-artifacts/.
 */
const REPO = 'customers';
const XSS_MESSAGE = 'customers v2 <img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';
const XSS_STAGE = '<img src=x onerror="window.__xss=3">';
const XSS_PARAM = '<script>window.__xss=2</script><img src=x onerror="window.__xss=2">';

interface Seed {
  server: TestServer;
  token: string;
  xssRun: string;
}

async function api(s: Seed, path: string, init?: RequestInit): Promise<any> {
  const res = await fetch(`${s.server.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', ...(init?.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The example pipeline, committed twice (the second commit's message carries markup) and pushed through the hooks. */
async function seed(t: TestContext): Promise<Seed> {
  const server = await startServer(t, { backend: 'fs' });
  const token = await server.token(REPO, 'write');
  const base = tempDir(t, 'dvx-web-');
  const env = { GIT_AUTHOR_NAME: 'Dana Scientist', GIT_AUTHOR_EMAIL: 'dana@example.com', GIT_COMMITTER_NAME: 'Dana Scientist', GIT_COMMITTER_EMAIL: 'dana@example.com', XDG_CONFIG_HOME: join(base, 'config') };
  const project = join(base, 'project');
  const bare = join(base, 'origin.git');
  mkdirSync(project);
  git(base, ['init', '-q', '--bare', '-b', 'main', bare]);
  git(project, ['init', '-q', '-b', 'main']);
  git(project, ['config', 'commit.gpgsign', 'false']);
  git(project, ['remote', 'add', 'origin', bare]);
  for (const f of readdirSync(join(REPO_ROOT, 'examples', 'customers'))) cpSync(join(REPO_ROOT, 'examples', 'customers', f), join(project, f));
  const sh = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args, { cwd: project, env });
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const dvx = (...args: string[]) => dvxOk(project, args, env);
  await dvx('init');
  await dvx('install');
  await dvx('config', 'runner.on_commit', 'sync');
  await dvx('config', 'runner.autocommit', 'true');
  await sh('python3', ['generate.py', 'data/raw/customers.csv', '--rows', '3000', '--version', '1']);
  await dvx('add', 'data/raw/customers.csv');
  await dvx('remote', 'add', 'origin', `${server.url}/${REPO}`);
  await dvx('login', 'origin', '--token', token);
  await sh('git', ['add', '-A']);
  await sh('git', ['commit', '-q', '-m', 'customers v1 and the churn pipeline']);
  await sh('git', ['push', '-q', 'origin', 'main']);
  await sh('git', ['tag', 'v1']);
  await sh('git', ['push', '-q', 'origin', 'v1']);
  await sh('python3', ['generate.py', 'data/raw/customers.csv', '--rows', '3000', '--version', '2']);
  await dvx('add', 'data/raw/customers.csv');
  await sh('git', ['commit', '-q', '-m', XSS_MESSAGE]);
  await dvx('models', 'register', 'churn', 'models/churn-model.json', '--alias', 'production');
  await sh('git', ['push', '-q', 'origin', 'main']);
  await dvx('push');
  // A run sent by another client, whose stage name and param carry markup.
  const s: Seed = { server, token, xssRun: randomUUID() };
  const now = Date.now();
  const pipelineRun = randomUUID();
  await api(s, `/repos/${REPO}/runs`, {
    method: 'POST',
    body: JSON.stringify({
      pipelineRuns: [{ id: pipelineRun, commit: null, trigger: 'manual', startedAt: now, finishedAt: now + 1000, status: 'succeeded' }],
      runs: [{ id: s.xssRun, pipelineRun, stage: XSS_STAGE, attempt: 0, status: 'succeeded', startedAt: now, finishedAt: now + 1000, exitCode: 0, signal: null, cmd: 'echo "<b>hi</b>"', commit: null, params: { note: XSS_PARAM }, error: null, metrics: [{ key: 'score', value: 1, step: 0, time: now }, { key: 'score', value: 2, step: 1, time: now + 10 }], inputs: [], outputs: [], log: '<script>window.__xss=4</script>\n' }],
    }),
  });
  return s;
}

/** A fresh load of the page at `hash` (the token stays: sessionStorage is per tab), until it has rendered. */
async function open(page: Page, s: Seed, hash: string, ready: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${s.server.url}/#${hash}`);
  await page.waitForSelector(ready);
  await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
}

/** Presses Tab until the focused element matches `selector`; fails after `max` presses. */
async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  await page.evaluate(() => (globalThis as any).document.activeElement?.blur());
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => (globalThis as any).document.activeElement?.matches(sel) ?? false, selector)) return;
  }
  assert.fail(`Tab never reached ${selector}`);
}

async function chartData(page: Page, title: string): Promise<{ x: number[]; series: { label: string; values: (number | null)[] }[] }> {
  const d = await page.evaluate((t) => (globalThis as any).__dvxCharts?.[t], title);
  assert.ok(d, `chart ${title} registered`);
  const canvas = await page.$(`figure[data-chart="${title}"] .uplot canvas`);
  assert.ok(canvas, `chart ${title} drew a canvas`);
  return d;
}

async function noXss(w: WatchedPage): Promise<void> {
  assert.equal(await w.page.evaluate(() => (globalThis as any).__xss), undefined, 'no injected script ran');
}

function clean(w: WatchedPage, what: string): void {
  assert.deepEqual(w.take(), [], `${what}: no console errors`);
}

test('the web UI in Chromium, against a server seeded by the example pipeline', async (t) => {
  const s = await seed(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const w = await watchedPage(browser);
  const { page } = w;

  await t.test('sign-in: a wrong token is refused, the form is reachable by keyboard, the token stays in sessionStorage', async () => {
    await page.goto(`${s.server.url}/`);
    await page.waitForSelector('#signin');
    await screenshot(page, 'signin');
    await tabTo(page, '#token');
    await page.keyboard.type('dvx_not-a-real-token-000000000000000000000000');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signin .error:not([hidden])');
    assert.match(await page.textContent('#signin .error') ?? '', /unknown or revoked/);
    w.take(); // the refused token's 401 is logged by the browser itself
    await page.fill('#token', s.token);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#repos');
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('dvx.token')), s.token);
    assert.equal((await page.context().cookies()).length, 0, 'no cookie');
    clean(w, 'sign-in');
  });

  await t.test('repositories: the numbers of the API, links to the repository', async () => {
    const { repos } = await api(s, '/repos');
    const row = page.locator(`#repos tr[data-repo="${REPO}"]`);
    const info = repos.find((r: { name: string }) => r.name === REPO);
    assert.equal(await row.locator('td').nth(2).textContent(), String(info.blobs));
    await screenshot(page, 'repos');
    await tabTo(page, `#repos a[href="#/r/${REPO}"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#datasets');
    assert.equal(new URL(page.url()).hash, `#/r/${REPO}`);
    clean(w, 'repositories');
  });

  await t.test('datasets at main and at the tag v1, with sizes and a download through a signed link', async () => {
    const main = await api(s, `/repos/${REPO}/datasets?ref=main`);
    const shown = await page.$$eval('#datasets tbody tr', (rows) => rows.map((r) => ({ path: r.getAttribute('data-path'), size: Number(r.querySelector('[data-size]')?.getAttribute('data-size')) })));
    assert.deepEqual(shown, main.datasets.map((d: { path: string; size: number }) => ({ path: d.path, size: d.size })));
    assert.equal(await page.getAttribute('[data-commit]', 'data-commit'), main.commit);
    await screenshot(page, 'datasets');
    const raw = main.datasets.find((d: { path: string }) => d.path === 'data/raw/customers.csv');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#datasets tr[data-path="data/raw/customers.csv"] a.download')]);
    const file = await download.path();
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), raw.sha256, 'the downloaded bytes are the dataset');
    assert.equal(download.suggestedFilename(), 'customers.csv');
    assert.match(download.url(), /[?&]sig=/, 'through a signed link, no token in the URL');
    assert.doesNotMatch(download.url(), new RegExp(s.token));

    await page.selectOption('#ref-select', 'v1');
    await page.waitForFunction(() => (globalThis as any).location.hash.includes('ref=v1'));
    await page.waitForSelector('#datasets');
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
    const v1 = await api(s, `/repos/${REPO}/datasets?ref=v1`);
    assert.equal(await page.getAttribute('[data-commit]', 'data-commit'), v1.commit);
    const rawV1 = v1.datasets.find((d: { path: string }) => d.path === 'data/raw/customers.csv');
    assert.equal(Number(await page.getAttribute('#datasets tr[data-path="data/raw/customers.csv"] [data-size]', 'data-size')), rawV1.size);
    clean(w, 'datasets');
  });

  await t.test('history: versions, chart data, storage saved by dedup; the markup of a commit message shows as text', async () => {
    await page.selectOption('#ref-select', 'main');
    await page.waitForFunction(() => (globalThis as any).location.hash.includes('ref=main'));
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
    await page.click('#datasets tr[data-path="data/raw/customers.csv"] td:first-child a');
    await page.waitForSelector('#versions');
    assert.match(new URL(page.url()).hash, /^#\/r\/customers\/history\?path=data%2Fraw%2Fcustomers\.csv/);
    const h = await api(s, `/repos/${REPO}/history?path=data/raw/customers.csv`);
    assert.ok(h.versions.length >= 2);
    assert.equal(await page.locator('#versions tbody tr').count(), h.versions.length);
    assert.equal(await page.textContent('#stat-versions .v'), String(h.versions.length));
    const saved = h.versions.reduce((n: number, v: { size: number }) => n + v.size, 0) - h.versions.reduce((n: number, v: { newBytes: number }) => n + v.newBytes, 0);
    assert.equal(Number(await page.getAttribute('#saved-bytes', 'data-value')), saved);
    const chart = await chartData(page, 'size and new bytes per version');
    assert.deepEqual(chart.series[0]!.values, [...h.versions].reverse().map((v: { size: number }) => v.size));
    assert.deepEqual(chart.series[1]!.values, [...h.versions].reverse().map((v: { newBytes: number }) => v.newBytes));
    const messages = await page.$$eval('#versions td.message', (tds) => tds.map((td) => td.textContent));
    assert.ok(messages.includes(XSS_MESSAGE.split('\n')[0]!), `the message shows literally: ${messages.join(' | ')}`);
    assert.equal(await page.locator('#versions img').count(), 0, 'no element made from the message');
    await noXss(w);
    await screenshot(page, 'history');
    clean(w, 'history');
  });

  await t.test('runs: server-side totals, sorting, filtering and pagination, by mouse and keyboard; markup in a stage name shows as text', async () => {
    const all = await api(s, `/repos/${REPO}/runs?limit=500`);
    await open(page, s, `/r/${REPO}/runs`, '#runs');
    assert.equal(Number(await page.getAttribute('#runs', 'data-total')), all.total);
    assert.equal(await page.locator('#runs tbody tr').count(), Math.min(50, all.total));
    assert.deepEqual(await page.$$eval('#runs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-run'))), all.runs.slice(0, 50).map((r: { id: string }) => r.id));
    assert.ok(all.runs.some((r: { stage: string }) => r.stage === 'train') && all.runs.some((r: { stage: string }) => r.stage === 'evaluate'));
    const stageCell = await page.textContent(`#runs tr[data-run="${s.xssRun}"] td:nth-child(2) a`);
    assert.equal(stageCell, XSS_STAGE);
    assert.equal(await page.textContent(`#runs tr[data-run="${s.xssRun}"] td[data-param="note"]`), XSS_PARAM);
    await noXss(w);
    await screenshot(page, 'runs');

    // Sort by stage with the keyboard.
    await tabTo(page, 'button[data-sort="stage"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('th[aria-sort="descending"] button[data-sort="stage"]');
    const byStage = await api(s, `/repos/${REPO}/runs?sort=stage&order=desc`);
    assert.deepEqual(await page.$$eval('#runs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-run'))), byStage.runs.map((r: { id: string }) => r.id));
    await page.click('button[data-sort="stage"]');
    await page.waitForSelector('th[aria-sort="ascending"] button[data-sort="stage"]');

    // Filter by status and stage.
    await page.selectOption('#f-status', 'succeeded');
    await page.fill('#f-stage', 'train');
    await page.click('#run-filters button[type=submit]');
    await page.waitForFunction(() => (globalThis as any).location.hash.includes('stage=train'));
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
    const trains = await api(s, `/repos/${REPO}/runs?status=succeeded&stage=train`);
    assert.equal(Number(await page.getAttribute('#runs', 'data-total')), trains.total);
    assert.ok(trains.total >= 2, 'two commits trained');

    // Pagination, two runs a page.
    await open(page, s, `/r/${REPO}/runs?limit=2`, '#runs');
    assert.equal(await page.textContent('#range'), `1–2 of ${all.total}`);
    assert.ok(await page.isDisabled('#prev'));
    await tabTo(page, '#next');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (globalThis as any).document.getElementById('range')?.textContent?.startsWith('3–'));
    assert.deepEqual(await page.$$eval('#runs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-run'))), all.runs.slice(2, 4).map((r: { id: string }) => r.id));
    clean(w, 'runs');
  });

  await t.test('a run: params, metrics and their curves, log, inputs and outputs; links to lineage and history', async () => {
    const trains = await api(s, `/repos/${REPO}/runs?stage=train&status=succeeded`);
    const id = trains.runs[0].id as string;
    const detail = await api(s, `/repos/${REPO}/runs/${id}`);
    await open(page, s, `/r/${REPO}/runs?stage=train&status=succeeded`, '#runs');
    await page.click(`#runs tr[data-run="${id}"] td:nth-child(2) a`);
    await page.waitForSelector('#run-info');
    assert.equal(new URL(page.url()).hash, `#/r/${REPO}/runs/${id}`);
    assert.equal(await page.textContent('#run-stage'), 'train');
    for (const [k, v] of Object.entries(detail.params as Record<string, unknown>)) {
      assert.equal(await page.textContent(`#params tr[data-param="${k}"] td`), typeof v === 'string' ? v : JSON.stringify(v));
    }
    const keys = [...new Set((detail.metrics as { key: string }[]).map((m) => m.key))];
    assert.ok(keys.length > 0, 'train logs metrics');
    for (const k of keys) {
      const points = (detail.metrics as { key: string }[]).filter((m) => m.key === k).length;
      if (points < 2) continue;
      const curve = await api(s, `/repos/${REPO}/runs/${id}/metrics/${encodeURIComponent(k)}?points=500`);
      const chart = await chartData(page, k);
      assert.deepEqual(chart.series[0]!.values, curve.points.map((p: { value: number }) => p.value), `curve ${k}`);
    }
    assert.ok((await page.textContent('#log'))?.length, 'the log is shown');
    assert.deepEqual(await page.$$eval('#outputs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-path'))), detail.outputs.map((o: { path: string }) => o.path));
    assert.deepEqual(await page.$$eval('#inputs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-path'))), detail.inputs.map((o: { path: string }) => o.path));
    await screenshot(page, 'run');
    clean(w, 'run');

    // The run that carries markup.
    await open(page, s, `/r/${REPO}/runs/${s.xssRun}`, '#run-info');
    assert.equal(await page.textContent('#run-stage'), XSS_STAGE);
    assert.equal(await page.textContent('#params tr[data-param="note"] td'), XSS_PARAM);
    assert.equal(await page.textContent('#log'), '<script>window.__xss=4</script>\n');
    assert.equal(await page.locator('main script, main img').count(), 0);
    await noXss(w);
    await screenshot(page, 'run-markup');
    clean(w, 'run with markup');
  });

  await t.test('compare: runs side by side, curves overlaid', async () => {
    const trains = await api(s, `/repos/${REPO}/runs?stage=train&status=succeeded`);
    const [a, b] = trains.runs as { id: string; metrics: Record<string, number> }[];
    await open(page, s, `/r/${REPO}/runs?stage=train&status=succeeded`, '#runs');
    await page.check(`input[data-run="${a!.id}"]`);
    assert.ok(await page.isDisabled('#compare'));
    await page.check(`input[data-run="${b!.id}"]`);
    await page.click('#compare');
    await page.waitForSelector('#compare-table');
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
    assert.equal(await page.locator('#compare-table thead th').count(), 3);
    const key = Object.keys(a!.metrics).sort()[0]!;
    const chart = await chartData(page, key);
    assert.equal(chart.series.length, 2, 'one curve per run');
    const curveA = await api(s, `/repos/${REPO}/runs/${a!.id}/metrics/${encodeURIComponent(key)}?points=500`);
    assert.deepEqual(chart.series[0]!.values.filter((v) => v !== null), curveA.points.map((p: { value: number }) => p.value));
    await screenshot(page, 'compare');
    clean(w, 'compare');
  });

  await t.test('lineage: the model upstream to raw data through runs, clickable both ways', async () => {
    // From the menu: the tracked paths to start from.
    await open(page, s, `/r/${REPO}/lineage`, '#lineage-picks');
    const atMain = await api(s, `/repos/${REPO}/datasets`);
    assert.deepEqual(await page.$$eval('#lineage-picks a', (as) => as.map((a) => a.textContent)), atMain.datasets.map((d: { path: string }) => d.path));
    const model = (await api(s, `/repos/${REPO}/datasets?ref=main`)).datasets.find((d: { path: string }) => d.path === 'models/churn-model.json');
    const g = await api(s, `/repos/${REPO}/lineage?path=models/churn-model.json&sha256=${model.sha256}&direction=up`);
    await open(page, s, `/r/${REPO}/lineage?path=models%2Fchurn-model.json&ref=main&direction=up`, '#lineage-graph svg');
    assert.equal(await page.locator('#lineage-graph a.node').count(), g.nodes.length);
    assert.equal(await page.locator('#lineage-graph path.edge').count(), g.edges.length);
    assert.ok(g.nodes.some((n: { kind: string }) => n.kind === 'run') && g.nodes.some((n: { path?: string }) => n.path === 'data/raw/customers.csv'));
    await screenshot(page, 'lineage-up');
    const rawNode = g.nodes.find((n: { path?: string }) => n.path === 'data/raw/customers.csv');
    // A data node opens that version's lineage; from there, downstream.
    await page.click(`#lineage-graph a.node[data-node="${rawNode.id}"]`);
    await page.waitForFunction(() => (globalThis as any).location.hash.includes('sha256='));
    await page.waitForSelector('#lineage-graph svg');
    await page.click('text=Show downstream');
    await page.waitForFunction(() => (globalThis as any).location.hash.includes('direction=down'));
    await page.waitForSelector('#lineage-graph svg');
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('main')?.hasAttribute('aria-busy'));
    const down = await api(s, `/repos/${REPO}/lineage?path=data/raw/customers.csv&sha256=${rawNode.sha256}&direction=down`);
    assert.equal(await page.locator('#lineage-graph a.node').count(), down.nodes.length);
    await screenshot(page, 'lineage-down');
    // A run node opens the run, by keyboard.
    const runNode = down.nodes.find((n: { kind: string }) => n.kind === 'run');
    await tabTo(page, `#lineage-graph a.node[data-node="${runNode.id}"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#run-info');
    assert.equal(new URL(page.url()).hash, `#/r/${REPO}/runs/${runNode.run}`);
    clean(w, 'lineage');
  });

  await t.test('models: versions with aliases, linked to their run and lineage', async () => {
    const { models } = await api(s, `/repos/${REPO}/models`);
    await open(page, s, `/r/${REPO}/models`, 'table.model');
    const churn = models.find((m: { name: string }) => m.name === 'churn');
    assert.ok(churn, 'the registered model arrived with dvx push');
    const row = page.locator(`table.model[data-model="churn"] tr[data-version="${churn.version}"]`);
    assert.equal(await row.locator('.tag').first().textContent(), 'production');
    await row.locator('a', { hasText: 'lineage' }).click();
    await page.waitForSelector('#lineage-graph svg');
    assert.match(new URL(page.url()).hash, new RegExp(`sha256=${churn.sha256}`));
    await open(page, s, `/r/${REPO}/models`, 'table.model');
    await screenshot(page, 'models');
    clean(w, 'models');
  });

  await t.test('navigation: the main menu is reachable by keyboard; signing out forgets the token', async () => {
    await tabTo(page, `header nav a[href="#/r/${REPO}/runs"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#runs');
    await tabTo(page, '#signout');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signin');
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('dvx.token')), null);
    // A page asked for without a token, or with one the server refuses, leads to the sign-in form.
    await page.goto(`${s.server.url}/#/r/${REPO}/runs`);
    await page.waitForSelector('#signin');
    await page.evaluate(() => (globalThis as any).sessionStorage.setItem('dvx.token', 'dvx_revoked-or-never-was-00000000000000000000000'));
    await page.goto('about:blank');
    await page.goto(`${s.server.url}/#/r/${REPO}/runs`);
    await page.waitForSelector('#signin');
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('dvx.token')), null, 'a refused token is forgotten');
    w.take(); // the browser logs the refused call's 401
    await noXss(w);
    clean(w, 'navigation');
  });
});
