import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Series, failures, measured, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { freshDir, linkFile, rmrf, treeBytes } from '../lib/fsutil.ts';
import { run, sync, timed, warm } from '../lib/proc.ts';
import { fmtBytes, fmtSummary, mbps, summarize, table } from '../lib/stats.ts';
import { Tools } from '../lib/tools.ts';
import { ensureEvents, ensureLargeFile } from '../workloads.ts';

/**
 * B8 "lfs": dvx-server as a Git LFS server, driven by the stock git-lfs client.
 *
 * Storage: the six versions of the events table committed one after the other
 * to one path and pushed through git-lfs to dvx-server (fs backend); the
 * packs dvx-server stores versus a plain whole-object LFS store (every version
 * kept whole, as git-lfs's own .git/lfs/objects and a plain LFS server do).
 * Target: dvx-server stores at most half of what the whole-object store does.
 *
 * Throughput (reported, no target): `git push` of one 1 GiB LFS object to a
 * fresh dvx-server (fs backend: streamed into the chunker, deduplicated,
 * packed) versus `cp` of the same file into the server's data folder, the
 * floor any server storing it on that disk has to pay. Both from page cache.
 */
const TARGET_STORED_FRACTION = 0.5;

interface Server {
  url: string;
  dataDir: string;
  token: string;
  stop(): Promise<void>;
}

async function startServer(ctx: Ctx, dataDir: string): Promise<Server> {
  const bin = join(dirname(dirname(ctx.tools.dvxBin)), 'server', 'bin.js');
  const token = `bench-admin-${randomBytes(16).toString('hex')}`;
  freshDir(dataDir);
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve'], {
    env: { ...ctx.tools.env, DVX_PORT: '0', DVX_HOST: '127.0.0.1', DVX_DATA_DIR: dataDir, DVX_STORAGE: 'fs', DVX_ADMIN_TOKEN: token, DVX_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dvx-server did not start:\n${out.slice(-2000)}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      // Keep only what is needed to find the "listening" line; request logs are dropped.
      if (out.length < 1 << 16) out += d.toString();
      const m = /"msg":"listening"[^\n]*"url":"([^"]+)"|"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve((m[1] ?? m[2]!).replace('//localhost:', '//127.0.0.1:'));
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dvx-server exited (${code}):\n${out.slice(-2000)}`));
    });
  });
  return {
    url,
    dataDir,
    token,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** A git repository whose LFS objects go to `server` (repository `repo`), with a bare origin. */
async function lfsClientRepo(ctx: Ctx, dir: string, server: Server, repo: string, pattern: string): Promise<string> {
  const t = ctx.tools;
  const ws = await t.lfsRepo(join(dir, 'ws'), pattern);
  const bare = freshDir(join(dir, 'origin.git'));
  await run(['git', 'init', '-q', '--bare', bare], { env: t.env });
  const helper = join(dir, 'credential-helper.sh');
  writeFileSync(helper, `#!/bin/sh\ntest "$1" = get && printf 'username=bench\\npassword=%s\\n' '${server.token}'\nexit 0\n`);
  chmodSync(helper, 0o700);
  for (const [k, v] of [
    ['lfs.url', `${server.url}/${repo}.git/info/lfs`],
    ['lfs.locksverify', 'false'],
    ['credential.helper', helper],
    ['remote.origin.url', bare],
    ['commit.gpgsign', 'false'],
  ] as const) {
    await run(['git', 'config', k, v], { cwd: ws, env: t.env });
  }
  return ws;
}

export async function lfsBench(ctx: Ctx): Promise<BenchResult> {
  const events = ensureEvents(ctx.sizes, ctx.quick);
  const large = ensureLargeFile(ctx.sizes, ctx.quick);
  const dir = join(ctx.work, 'b8');
  const t = ctx.tools;
  const errors: string[] = [];

  // ---------------------------------------------------------------- storage
  ctx.log(' storage: six versions of the events table through git-lfs');
  const versions: { version: number; bytes: number; whole: number; dvx: number; pushS: number }[] = [];
  {
    const server = await startServer(ctx, join(dir, 'server-events'));
    try {
      const ws = await lfsClientRepo(ctx, join(dir, 'events'), server, 'events', '*.csv');
      let whole = 0;
      for (let v = 1; v <= events.files.length; v++) {
        linkFile(events.files[v - 1]!, join(ws, 'events.csv'));
        await run(['git', 'add', 'events.csv'], { cwd: ws, env: t.env });
        await run(['git', 'commit', '-qm', `events v${v}`], { cwd: ws, env: t.env });
        const r = await timed(['git', 'push', '-q', 'origin', 'HEAD:refs/heads/main'], { cwd: ws, env: t.env });
        whole += events.bytes[v - 1]!;
        const dvx = treeBytes(join(server.dataDir, 'packs'));
        versions.push({ version: v, bytes: events.bytes[v - 1]!, whole, dvx, pushS: r.wallS });
        ctx.log(`  v${v}: whole-object store ${fmtBytes(whole)}, dvx-server packs ${fmtBytes(dvx)}, push ${r.wallS.toFixed(2)} s`);
      }
      const lfsDir = Tools.lfsObjectBytes(ws);
      if (lfsDir !== whole) errors.push(`.git/lfs/objects holds ${lfsDir} bytes, expected the sum of the versions ${whole}`);
    } catch (err) {
      errors.push(`storage: ${(err as Error).message}`);
      ctx.log(`  storage FAILED: ${(err as Error).message}`);
    } finally {
      await server.stop();
      rmrf(join(dir, 'server-events'));
      rmrf(join(dir, 'events'));
    }
  }

  // ---------------------------------------------------------------- throughput
  const push = new Series('git lfs push to dvx-server (fs)');
  const cp = new Series('cp into the data folder');
  for (let rep = 1; rep <= ctx.reps; rep++) {
    ctx.log(` throughput rep ${rep}/${ctx.reps}`);
    await push.attempt(rep, ctx.log, async () => {
      const server = await startServer(ctx, join(dir, 'server-large'));
      try {
        const ws = await lfsClientRepo(ctx, join(dir, 'large'), server, 'large', '*.bin');
        linkFile(large.file, join(ws, 'large.bin'));
        await run(['git', 'add', 'large.bin'], { cwd: ws, env: t.env });
        await run(['git', 'commit', '-qm', 'large'], { cwd: ws, env: t.env });
        warm(join(ws, '.git', 'lfs', 'objects'));
        sync();
        const r = await timed(['git', 'push', '-q', 'origin', 'HEAD:refs/heads/main'], { cwd: ws, env: t.env });
        const stored = treeBytes(join(server.dataDir, 'packs'));
        if (stored < large.bytes) throw new Error(`the server stored ${stored} bytes of a ${large.bytes}-byte object`);
        return { ...measured(r), stored };
      } finally {
        await server.stop();
        rmrf(join(dir, 'server-large'));
        rmrf(join(dir, 'large'));
      }
    });
    await cp.attempt(rep, ctx.log, async () => {
      const target = freshDir(join(dir, 'cp-data'));
      try {
        warm(large.file);
        sync();
        const r = await timed(['cp', large.file, join(target, 'large.bin')]);
        return measured(r);
      } finally {
        rmrf(target);
      }
    });
  }
  rmrf(dir);

  const last = versions[versions.length - 1];
  const fraction = last ? last.dvx / last.whole : undefined;
  const pass = fraction === undefined ? null : fraction <= TARGET_STORED_FRACTION;
  const thr = (s: Series) => summarize(s.samples.map((x) => mbps(large.bytes, x.wallS)));
  const md = [
    `Input: the ${events.files.length} versions of the events table (${fmtBytes(events.bytes[0])} to ${fmtBytes(events.bytes[events.bytes.length - 1])}) committed in turn as one git-lfs file and pushed to a fresh dvx-server (fs backend); then a ${fmtBytes(large.bytes)} object pushed to a fresh dvx-server, from page cache, x ${ctx.reps}.`,
    '',
    table(
      ['version', 'size', 'whole-object store (sum)', 'dvx-server packs', 'dvx / whole', 'git push s'],
      versions.map((v) => [`v${v.version}`, fmtBytes(v.bytes), fmtBytes(v.whole), fmtBytes(v.dvx), (v.dvx / v.whole).toFixed(3), v.pushS.toFixed(2)]),
    ),
    '',
    table(
      ['1 GiB object', 'wall s', 'MB/s', 'CPU s (user+sys)', 'peak RSS MiB'],
      [push, cp].map((s) => [s.name, s.ok ? fmtSummary(s.wall, 2) : 'FAILED', fmtSummary(thr(s), 0), fmtSummary(s.cpuS, 2), fmtSummary(s.rssMiB, 0)]),
    ),
    '',
    'CPU and RSS of the push are the git-lfs client\'s (the server is a separate process, not measured by /usr/bin/time).',
    '',
    `Target: dvx-server stores <= ${TARGET_STORED_FRACTION * 100}% of a whole-object LFS store after ${events.files.length} versions. Measured: ${fraction === undefined ? 'n/a' : `${(fraction * 100).toFixed(1)}%`}. ${verdict(pass)}`,
    errors.length ? `\nErrors:\n\n${errors.map((e) => `- ${e}`).join('\n')}\n` : '',
    failures([push, cp]),
  ].join('\n');
  return {
    name: 'lfs',
    title: 'B8 lfs: dvx-server as a Git LFS server (git-lfs client)',
    target: `stored <= ${TARGET_STORED_FRACTION * 100}% of whole objects`,
    pass,
    measured: fraction === undefined ? 'n/a' : `${(fraction * 100).toFixed(1)}% stored; push ${fmtSummary(thr(push), 0)} MB/s vs cp ${fmtSummary(thr(cp), 0)} MB/s`,
    markdown: md,
    errors: [...errors, ...push.errors, ...cp.errors],
    data: { versions, push, cp },
  };
}
