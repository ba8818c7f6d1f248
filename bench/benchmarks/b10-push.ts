import { join } from 'node:path';
import { failures, measured, Series, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { linkFile, linkTree, rmrf } from '../lib/fsutil.ts';
import { run, timed } from '../lib/proc.ts';
import { startBenchServer } from '../lib/server.ts';
import { fmtBytes, fmtInt, fmtSummary, table } from '../lib/stats.ts';
import { startWireProxy } from '../lib/wire-proxy.ts';
import { ensureEvents, ensureSmallFiles } from '../workloads.ts';

/**
 * B10 "push": what a push costs on the wire, against a real dvx-server (fs
 * backend) behind a byte-counting TCP relay.
 *
 * - Events table v1..v6 pushed in turn by `dvx add` + `dvx push`. Target, for
 *   every version N+1: client→server bytes <= 1.1 x (bytes of the chunks new in
 *   N+1) + 1 % of the file's size. The same versions pushed by `git lfs push`
 *   (git-lfs's pre-push hook) to dvx-server's LFS endpoint through the same
 *   relay, for comparison: git-lfs sends whole objects.
 * - 20,000 small files: `dvx push` of the directory. Target: at most one HTTP
 *   request per 200 files (counted by the server's own request counter).
 */
const WIRE_FACTOR = 1.1;
const FILE_ALLOWANCE = 0.01;
const FILES_PER_REQUEST = 200;

export async function pushBench(ctx: Ctx): Promise<BenchResult> {
  const events = ensureEvents(ctx.sizes, ctx.quick);
  const small = ensureSmallFiles(ctx.sizes, ctx.quick);
  const dir = join(ctx.work, 'b10');
  rmrf(dir);
  const t = ctx.tools;
  const server = await startBenchServer({ dvxBin: t.dvxBin, dataDir: join(dir, 'server') });
  const proxy = await startWireProxy(server.url);
  const env = { ...t.env, DVX_TOKEN: server.adminToken } as Record<string, string>;
  const dvxSeries = new Series('dvx push');
  const lfsSeries = new Series('git lfs push');
  const smallSeries = new Series('dvx push (small files)');
  const rows: { v: number; size: number; newBytes: number; dvxUp?: number; dvxS?: number; lfsUp?: number; lfsS?: number }[] = [];
  try {
    for (const repo of ['events', 'events-lfs', 'small']) {
      const res = await fetch(`${server.url}/api/v1/repos/${repo}`, { method: 'PUT', headers: { authorization: `Bearer ${server.adminToken}` } });
      if (!res.ok) throw new Error(`creating repository ${repo}: ${res.status} ${await res.text()}`);
    }

    // dvx: one workspace, the versions in turn.
    const ws = await t.dvxWorkspace(join(dir, 'dvx'));
    await run(t.dvxCmd(['remote', 'add', '--default', 'origin', `${proxy.url}/events`]), { cwd: ws, env });
    for (let v = 1; v <= events.files.length; v++) {
      rmrf(join(ws, 'data', 'events.csv'));
      linkFile(events.files[v - 1]!, join(ws, 'data', 'events.csv'));
      const add = await run(t.dvxCmd(['add', 'data/events.csv', '--json']), { cwd: ws, env });
      const newBytes = (JSON.parse(add.stdout) as { newBytes: number }).newBytes;
      const row: (typeof rows)[number] = { v, size: events.bytes[v - 1]!, newBytes };
      rows.push(row);
      await dvxSeries.attempt(v, ctx.log, async () => {
        proxy.reset();
        const r = await timed(t.dvxCmd(['push', '--json']), { cwd: ws, env });
        row.dvxUp = proxy.up();
        row.dvxS = r.wallS;
        return { ...measured(r), up: row.dvxUp, down: proxy.down() };
      });
    }

    // git-lfs: a repository whose LFS endpoint is dvx-server's, through the relay.
    const bare = join(dir, 'lfs-origin.git');
    const repo = await t.lfsRepo(join(dir, 'lfs'), '*.csv');
    await run(['git', 'init', '-q', '--bare', bare], { env });
    const git = (args: string[]) => run(['git', ...args], { cwd: repo, env });
    await git(['remote', 'add', 'origin', bare]);
    await git(['config', 'lfs.url', `${proxy.url}/events-lfs.git/info/lfs`]);
    await git(['config', `http.${proxy.url}/.extraHeader`, `Authorization: Bearer ${server.adminToken}`]);
    await git(['config', 'lfs.locksverify', 'false']);
    for (let v = 1; v <= events.files.length; v++) {
      rmrf(join(repo, 'events.csv'));
      linkFile(events.files[v - 1]!, join(repo, 'events.csv'));
      await git(['add', 'events.csv']);
      await git(['commit', '-q', '-m', `v${v}`]);
      await lfsSeries.attempt(v, ctx.log, async () => {
        proxy.reset();
        const r = await timed(['git', 'push', '-q', 'origin', 'HEAD:main'], { cwd: repo, env });
        rows[v - 1]!.lfsUp = proxy.up();
        rows[v - 1]!.lfsS = r.wallS;
        return { ...measured(r), up: proxy.up() };
      });
    }

    // 20,000 small files: requests per push.
    for (let rep = 1; rep <= ctx.reps; rep++) {
      await smallSeries.attempt(rep, ctx.log, async () => {
        const sws = await t.dvxWorkspace(join(dir, 'small-ws'));
        await run(t.dvxCmd(['remote', 'add', '--default', 'origin', `${proxy.url}/small-${rep}`]), { cwd: sws, env });
        await fetch(`${server.url}/api/v1/repos/small-${rep}`, { method: 'PUT', headers: { authorization: `Bearer ${server.adminToken}` } });
        await linkTree(small.dir, join(sws, 'data', 'small'));
        await run(t.dvxCmd(['add', 'data/small']), { cwd: sws, env });
        const before = await server.requests();
        proxy.reset();
        const r = await timed(t.dvxCmd(['push', '--json']), { cwd: sws, env });
        const requests = (await server.requests()) - before;
        rmrf(sws);
        return { ...measured(r), requests, up: proxy.up() };
      });
    }
  } finally {
    await proxy.close();
    await server.stop();
    rmrf(dir);
  }

  const budget = (r: (typeof rows)[number]) => WIRE_FACTOR * r.newBytes + FILE_ALLOWANCE * r.size;
  const later = rows.filter((r) => r.v > 1);
  const wirePass = later.length > 0 && later.every((r) => r.dvxUp !== undefined) ? later.every((r) => r.dvxUp! <= budget(r)) : null;
  const reqs = smallSeries.samples.map((s) => s.requests as number);
  const maxReq = Math.floor(small.files / FILES_PER_REQUEST);
  const reqPass = reqs.length ? Math.max(...reqs) <= maxReq : null;
  const pass = wirePass === null || reqPass === null ? null : wirePass && reqPass;
  const worst = later.reduce((m, r) => (r.dvxUp === undefined ? m : Math.max(m, r.dvxUp / budget(r))), 0);
  const md = [
    `Input: the events table v1..v${events.files.length} pushed in turn to a real dvx-server (fs backend, loopback) through a byte-counting TCP relay; "up" = client→server bytes of the whole push (HTTP headers, negotiation, packs and manifests). "new chunk bytes" = what \`dvx add --json\` reported as new for that version. git-lfs: the same versions committed in a git-lfs repository whose \`lfs.url\` is dvx-server's LFS endpoint (through the same relay), pushed with \`git push\` (git-lfs's pre-push hook uploads the objects).`,
    '',
    table(
      ['version', 'size', 'new chunk bytes', 'dvx up', 'budget (1.1 x new + 1 % of size)', 'dvx up / budget', 'dvx push s', 'git-lfs up', 'git-lfs push s', 'git-lfs up / dvx up'],
      rows.map((r) => [
        `v${r.v}`,
        fmtBytes(r.size),
        fmtBytes(r.newBytes),
        r.dvxUp === undefined ? 'FAILED' : fmtBytes(r.dvxUp),
        r.v === 1 ? '(first push)' : fmtBytes(budget(r)),
        r.v === 1 || r.dvxUp === undefined ? '–' : (r.dvxUp / budget(r)).toFixed(3),
        r.dvxS === undefined ? '–' : r.dvxS.toFixed(2),
        r.lfsUp === undefined ? 'FAILED' : fmtBytes(r.lfsUp),
        r.lfsS === undefined ? '–' : r.lfsS.toFixed(2),
        r.lfsUp === undefined || r.dvxUp === undefined ? '–' : (r.lfsUp / r.dvxUp).toFixed(1),
      ]),
    ),
    '',
    `Target: for every version after the first, dvx up <= 1.1 x new chunk bytes + 1 % of the file size. Worst version: ${worst.toFixed(3)} of the budget. ${verdict(wirePass)}`,
    '',
    `${fmtInt(small.files)} small files (${fmtBytes(small.bytes)}), \`dvx push\` into an empty repository, x ${ctx.reps}: requests (server's counter) ${reqs.join(', ') || 'n/a'}; up ${smallSeries.samples.map((s) => fmtBytes(s.up as number)).join(', ')}; wall s ${fmtSummary(smallSeries.wall, 2)}.`,
    '',
    `Target: at most one request per ${FILES_PER_REQUEST} files (${maxReq}). ${verdict(reqPass)}`,
    failures([dvxSeries, lfsSeries, smallSeries]),
  ].join('\n');
  return {
    name: 'push',
    title: 'B10 push: bytes on the wire and requests',
    target: `push of N+1 <= 1.1 x new chunks + 1 % of size; <= 1 request per ${FILES_PER_REQUEST} small files`,
    pass,
    measured: `worst ${worst.toFixed(3)} of the byte budget; ${reqs.length ? Math.max(...reqs) : 'n/a'} requests for ${fmtInt(small.files)} files`,
    markdown: md,
    errors: [dvxSeries, lfsSeries, smallSeries].flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { rows, requests: reqs },
  };
}
