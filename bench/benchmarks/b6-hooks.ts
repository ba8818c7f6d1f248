import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { decodePointer, encodePointer } from '../../core/pointer.ts';
import { Series, failures, measured, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { freshDir, rmrf } from '../lib/fsutil.ts';
import { run, timed } from '../lib/proc.ts';
import { startBenchServer } from '../lib/server.ts';
import { fmtSummary, summarize, table } from '../lib/stats.ts';

/**
 * B6 "hooks": the git hooks at repository scale, against a real dvx-server.
 *
 * - pre-commit: a workspace tracking 10,000 files (10,000 pointers), one of
 *   them changed and a code file staged; `git commit` runs the pre-commit hook
 *   (stat cache: only the changed file is hashed), which records the data and
 *   stages its pointer. Target: the whole `git commit` < 1 s.
 * - pre-push: 1,000 new commits, each changing one tracked file, pushed with
 *   `git push` to a bare remote while the hook uploads their data and sends
 *   the commit records (the server already has the 10,000-file base commit).
 *   Target: < 2 s.
 * Also measured once per repetition (not targets): the first push of the
 * 10,000-file commit, and the server's answers for that repository: history
 * of a path with 1,001 versions, datasets at a commit of 10,001 paths.
 */
const FILES = 10_000;
const COMMITS = 1_000;
const PRE_COMMIT_TARGET_S = 1;
const PRE_PUSH_TARGET_S = 2;

/** Deterministic bytes, cheap to make: 10,000 small files need no strong PRNG. */
function bytes(seed: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i += 4) {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
    b.writeUInt32LE(s, i - (i + 4 > length ? i + 4 - length : 0));
  }
  return b;
}

/** B6's tracked files (10,000 of 1–4 KiB in 100 folders) and hot.bin, written into `ws`; returns their paths. */
export function writeTrackedFiles(ws: string): string[] {
  const paths: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const p = `data/d${String(Math.floor(i / 100)).padStart(2, '0')}/f${String(i % 100).padStart(3, '0')}.bin`;
    mkdirSync(join(ws, dirname(p)), { recursive: true });
    writeFileSync(join(ws, p), bytes(i + 1, 1024 + (i % 3072)));
    paths.push(p);
  }
  writeFileSync(join(ws, 'hot.bin'), bytes(999_999, 64 * 1024));
  return paths;
}

/** The data of B6's 1,000 commits in `ws`/versions (to be added without staging): a version of hot.bin and of one tracked file each; returns their paths. */
export function writeVersions(ws: string): string[] {
  freshDir(join(ws, 'versions'));
  const vpaths: string[] = [];
  for (let i = 0; i < COMMITS; i++) {
    writeFileSync(join(ws, `versions/h${i}.bin`), Buffer.concat([bytes(999_999, 48 * 1024), bytes(500_000 + i, 16 * 1024)]));
    writeFileSync(join(ws, `versions/f${i}.bin`), bytes(200_000 + i, 1500));
    vpaths.push(`versions/h${i}.bin`, `versions/f${i}.bin`);
  }
  return vpaths;
}

/**
 * The `git fast-import` stream of B6's 1,000 commits on top of `base` (1,000
 * hook runs would take minutes): each sets hot.bin and one of `paths` to the
 * pointers `dvx add` wrote for the versions (writeVersions).
 */
export function versionCommits(ws: string, paths: readonly string[], base: string): string {
  const chunks: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < COMMITS; i++) {
    const target = paths[(i * 7919) % paths.length]!;
    const hot = encodePointer({ ...decodePointer(readFileSync(join(ws, `versions/h${i}.bin.dvx`))), path: 'hot.bin' });
    const f = encodePointer({ ...decodePointer(readFileSync(join(ws, `versions/f${i}.bin.dvx`))), path: target.slice(target.lastIndexOf('/') + 1) });
    const msg = `version ${i}\n`;
    chunks.push(
      `commit refs/heads/main\ncommitter bench <bench@example.invalid> ${now + i} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}`,
      i === 0 ? `from ${base}\n` : '',
      `M 100644 inline hot.bin.dvx\ndata ${Buffer.byteLength(hot)}\n${hot}\n`,
      `M 100644 inline ${target}.dvx\ndata ${Buffer.byteLength(f)}\n${f}\n`,
    );
  }
  return chunks.join('');
}

async function getMs(url: string, token: string, reps: number): Promise<{ ms: number[]; body: any }> {
  const ms: number[] = [];
  let body: any;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    body = await r.json();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return { ms, body };
}

export async function hooksBench(ctx: Ctx): Promise<BenchResult> {
  const t = ctx.tools;
  const dir = join(ctx.work, 'b6');
  let env: NodeJS.ProcessEnv = t.env;
  const git = (cwd: string, args: string[]) => run(['git', ...args], { cwd, env }).then((r) => r.stdout.trim());

  // ---- set-up (untimed): 10,000 tracked files and a hot file, committed with the hooks ----
  ctx.log(' set-up: 10,000 tracked files');
  const ws = await t.dvxWorkspace(join(dir, 'ws'));
  await run(['git', 'checkout', '-q', '-b', 'main'], { cwd: ws, env });
  await t.dvx(ws, ['install'], { timed: false });
  const paths = writeTrackedFiles(ws);
  for (let i = 0; i < paths.length; i += 1000) await t.dvx(ws, ['add', ...paths.slice(i, i + 1000)], { timed: false });
  await t.dvx(ws, ['add', 'hot.bin'], { timed: false });
  await git(ws, ['commit', '-qm', 'base: 10,000 files']);

  // ---- pre-commit ----
  const preCommit = new Series('git commit (pre-commit hook, 1 of 10,000 files changed)');
  for (let rep = 1; rep <= ctx.reps; rep++) {
    const p = paths[rep * 997]!;
    writeFileSync(join(ws, p), bytes(100_000 + rep, 2000));
    writeFileSync(join(ws, 'train.py'), `print(${rep})\n`);
    await git(ws, ['add', 'train.py']);
    await preCommit.attempt(rep, ctx.log, async () => {
      const r = await timed(['git', 'commit', '-qm', `change ${p}`], { cwd: ws, env });
      const staged = decodePointer(await git(ws, ['show', `HEAD:${p}.dvx`]) + '\n');
      if (staged.size !== 2000) throw new Error(`the hook did not record ${p}: its committed pointer says size ${staged.size}`);
      return measured(r);
    });
  }

  // ---- 1,000 commits, each with a new version of hot.bin and of one tracked file (made with git fast-import: 1,000 hook runs would take minutes) ----
  ctx.log(' set-up: 1,000 commits');
  const vpaths = writeVersions(ws);
  for (let i = 0; i < vpaths.length; i += 1000) await t.dvx(ws, ['add', '--no-git-add', ...vpaths.slice(i, i + 1000)], { timed: false });
  const base = await git(ws, ['rev-parse', 'HEAD']);
  const stream = versionCommits(ws, paths, base);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('git', ['fast-import', '--quiet'], { cwd: ws, env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`git fast-import exited ${c}: ${err}`))));
    p.stdin.end(stream);
  });
  const tip = await git(ws, ['rev-parse', 'refs/heads/main']);

  // ---- pre-push: per repetition a fresh server and bare remote that have the base ----
  const firstPush = new Series('first git push (10,000-file commit)');
  const prePush = new Series(`git push of ${COMMITS.toLocaleString('en-US')} new commits (pre-push hook)`);
  const queries: { history: number[]; datasets: number[]; rowsPerCommit?: number } = { history: [], datasets: [] };
  for (let rep = 1; rep <= ctx.reps; rep++) {
    const server = await startBenchServer({ dvxBin: t.dvxBin, dataDir: join(dir, 'server') });
    const adminToken = server.adminToken;
    env = { ...t.env, DVX_TOKEN: adminToken };
    try {
      const bare = freshDir(join(dir, 'bare.git'));
      await git(bare, ['init', '-q', '--bare']);
      await git(ws, ['remote', 'remove', 'origin']).catch(() => undefined);
      await git(ws, ['remote', 'add', 'origin', bare]);
      await run(t.dvxCmd(['remote', 'remove', '--local', 'origin']), { cwd: ws, env }).catch(() => undefined);
      await run(t.dvxCmd(['remote', 'add', '--local', '--default', 'origin', `${server.url}/bench`]), { cwd: ws, env });
      await firstPush.attempt(rep, ctx.log, async () => measured(await timed(['git', 'push', '-q', 'origin', `${base}:refs/heads/main`], { cwd: ws, env })));
      await prePush.attempt(rep, ctx.log, async () => {
        const r = await timed(['git', 'push', '-q', 'origin', 'main'], { cwd: ws, env });
        const known = (await getMs(`${server.url}/api/v1/repos/bench/commits/main`, adminToken, 1)).body;
        if (known.sha !== tip) throw new Error(`the server's main is ${known.sha}, not ${tip}`);
        return measured(r);
      });
      const h = await getMs(`${server.url}/api/v1/repos/bench/history?path=hot.bin&limit=2000`, adminToken, 21);
      if (h.body.versions.length !== COMMITS + 1) throw new Error(`history has ${h.body.versions.length} versions, expected ${COMMITS + 1}`);
      queries.history.push(...h.ms.slice(1));
      const d = await getMs(`${server.url}/api/v1/repos/bench/datasets?ref=main`, adminToken, 11);
      if (d.body.datasets.length !== FILES + 1) throw new Error(`datasets has ${d.body.datasets.length} paths, expected ${FILES + 1}`);
      queries.datasets.push(...d.ms.slice(1));
      const db = new Database(join(server.dataDir, 'index.sqlite'), { readonly: true });
      try {
        const n = (sql: string) => db.prepare(sql).pluck().get() as number;
        queries.rowsPerCommit = (n('SELECT count(*) FROM commit_changes') + n('SELECT count(*) FROM commit_snapshots')) / n('SELECT count(*) FROM commits');
      } finally {
        db.close();
      }
    } finally {
      await server.stop();
    }
  }
  await run(t.dvxCmd(['remote', 'remove', '--local', 'origin']), { cwd: ws, env }).catch(() => undefined);
  rmrf(dir);

  const pcWall = preCommit.wall;
  const ppWall = prePush.wall;
  const pass = pcWall && ppWall ? pcWall.median < PRE_COMMIT_TARGET_S && ppWall.median < PRE_PUSH_TARGET_S : null;
  const hist = summarize(queries.history);
  const dsets = summarize(queries.datasets);
  const md = [
    `A workspace tracking ${FILES.toLocaleString('en-US')} files of 1–4 KiB (one pointer each) plus one 64 KiB file; hooks installed by \`dvx install\`; a real dvx-server (fs backend) on this machine and a bare git remote. ${ctx.reps} repetitions; median (min–max).`,
    '',
    table(
      ['measurement', 'wall s', 'CPU s (user+sys)', 'peak RSS MiB', 'target'],
      [
        [preCommit.name, preCommit.ok ? fmtSummary(pcWall, 2) : 'FAILED', fmtSummary(preCommit.cpuS, 2), fmtSummary(preCommit.rssMiB, 0), `< ${PRE_COMMIT_TARGET_S} s`],
        [prePush.name, prePush.ok ? fmtSummary(ppWall, 2) : 'FAILED', fmtSummary(prePush.cpuS, 2), fmtSummary(prePush.rssMiB, 0), `< ${PRE_PUSH_TARGET_S} s`],
        [firstPush.name, firstPush.ok ? fmtSummary(firstPush.wall, 2) : 'FAILED', fmtSummary(firstPush.cpuS, 2), fmtSummary(firstPush.rssMiB, 0), ''],
      ],
    ),
    '',
    `Server answers after the push (HTTP round trip from this process, ${queries.history.length} and ${queries.datasets.length} requests): history of hot.bin (${COMMITS + 1} versions) ${fmtSummary(hist, 1)} ms; datasets at main (${FILES + 1} paths) ${fmtSummary(dsets, 1)} ms. Index rows (changes + snapshots) per recorded commit: ${queries.rowsPerCommit?.toFixed(1) ?? 'n/a'}.`,
    '',
    `Target: pre-commit < ${PRE_COMMIT_TARGET_S} s and pre-push < ${PRE_PUSH_TARGET_S} s. ${verdict(pass)}`,
    failures([preCommit, prePush, firstPush]),
  ].join('\n');
  return {
    name: 'hooks',
    title: `B6 hooks: pre-commit with ${FILES.toLocaleString('en-US')} tracked files, pre-push of ${COMMITS.toLocaleString('en-US')} commits`,
    target: `pre-commit < ${PRE_COMMIT_TARGET_S} s, pre-push < ${PRE_PUSH_TARGET_S} s`,
    pass,
    measured: `pre-commit ${pcWall ? pcWall.median.toFixed(2) : 'n/a'} s, pre-push ${ppWall ? ppWall.median.toFixed(2) : 'n/a'} s`,
    markdown: md,
    errors: [preCommit, prePush, firstPush].flatMap((s) => s.errors.map((e) => `${s.name} ${e}`)),
    data: { files: FILES, commits: COMMITS, series: [preCommit, prePush, firstPush], queries },
  };
}
