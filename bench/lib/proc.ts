import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Running peer tools and dvx: no shell, argument vectors only. A timed run goes
 * through /usr/bin/time so that peak RSS is that of the measured process tree
 * (wait4 folds the largest waited-for descendant's maxrss into its parent's);
 * wall time is taken here with a monotonic clock around the spawn.
 */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** seconds, monotonic clock around the whole process */
  wallS: number;
  /** peak RSS in KiB as reported by /usr/bin/time %M (undefined for untimed runs) */
  maxRssKiB?: number;
  /** user and system CPU seconds of the process tree, from /usr/bin/time %U %S */
  userS?: number;
  sysS?: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutS?: number;
  /** captured stdout/stderr are cut at this many bytes each */
  captureBytes?: number;
}

export class CommandError extends Error {
  constructor(readonly cmd: string[], readonly result: RunResult) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-4).join(' | ');
    super(`${cmd.join(' ')} exited with ${result.signal ?? result.code}${tail ? `: ${tail.slice(0, 400)}` : ''}`);
  }
}

const TIME = '/usr/bin/time';
let scratch: string | undefined;
function timeOutputFile(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'dvx-bench-time-'));
  return join(scratch, 'time.out');
}
process.on('exit', () => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function spawnCollect(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const cap = opts.captureBytes ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outN = 0;
    let errN = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outN < cap) out.push(b);
      outN += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errN < cap) err.push(b);
      errN += b.length;
    });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutS) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutS * 1000);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const t1 = process.hrtime.bigint();
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), wallS: Number(t1 - t0) / 1e9 });
    });
  });
}

/** Runs a command (untimed setup/cleanup); throws CommandError on a non-zero exit. */
export async function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await spawnCollect(cmd[0]!, cmd.slice(1), opts);
  if (r.code !== 0) throw new CommandError(cmd, r);
  return r;
}

/** Runs a command under /usr/bin/time; throws CommandError on a non-zero exit. */
export async function timed(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const outFile = timeOutputFile();
  rmSync(outFile, { force: true });
  const r = await spawnCollect(TIME, ['-f', '%e %M %U %S', '-o', outFile, '--', ...cmd], opts);
  try {
    // The last line: GNU time writes "Command exited with non-zero status N" before it on failure.
    const lines = readFileSync(outFile, 'utf8').trim().split('\n');
    const [, rss, user, sys] = lines[lines.length - 1]!.trim().split(/\s+/).map(Number);
    const ok = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);
    r.maxRssKiB = ok(rss);
    r.userS = ok(user);
    r.sysS = ok(sys);
  } catch {
    // no figures: the table shows n/a
  }
  if (r.code !== 0) throw new CommandError(cmd, r);
  return r;
}

/** Flushes dirty pages so that a timed run does not pay for the previous one's writes. */
export function sync(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

const warmBuf = Buffer.allocUnsafe(8 << 20);
/** Reads files (recursively for directories) so that their pages are cached: `cat f > /dev/null`. */
export function warm(...paths: string[]): number {
  let total = 0;
  const visit = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) visit(join(p, name));
      return;
    }
    if (!st.isFile()) return;
    const fd = openSync(p, 'r');
    try {
      for (;;) {
        const n = readSync(fd, warmBuf, 0, warmBuf.length, null);
        if (n === 0) break;
        total += n;
      }
    } finally {
      closeSync(fd);
    }
  };
  for (const p of paths) visit(p);
  return total;
}

/** First line of a command's output, or the error, for the machine description. */
export function versionOf(cmd: string[]): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 20000 });
  if (r.error) return `unavailable (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return text || `exit ${r.status}`;
}

export function capture(cmd: string[], cwd?: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', cwd, timeout: 20000 });
  return r.status === 0 ? r.stdout.trim() : '';
}
