import cliProgress from 'cli-progress';
import { DvxError, errorMessage } from '../core/errors.ts';

/**
 * Everything the CLI says to people: results on stdout (or one JSON document with
 * --json), diagnostics and progress on stderr, so pipes get only results.
 */
export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A path as a shell word, for commands a message tells the user to run: quoted when it holds anything but plain characters. */
export function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

export function warn(message: string): void {
  process.stderr.write(`dvx: warning: ${message}\n`);
}

export function info(opts: OutputOptions, message: string): void {
  if (!opts.json && !opts.quiet) process.stdout.write(message + '\n');
}

let jsonPrinted = false;

/** Prints the command's one JSON document. A later error only sets the exit code. */
export function printJson(value: unknown): void {
  jsonPrinted = true;
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A byte progress bar on an interactive stderr for work above `threshold` bytes; a no-op otherwise. */
export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  constructor(label: string, total: number, opts: OutputOptions & { threshold?: number } = {}) {
    const interactive = process.stderr.isTTY && !opts.json && !opts.quiet && !process.env.DVX_NO_PROGRESS;
    if (!interactive || total < (opts.threshold ?? 32 << 20)) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {done}/{size} | {speed}/s | eta {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { done: formatBytes(0), size: formatBytes(total), speed: '-' });
    this.started = Date.now();
  }
  private started = 0;
  update(done: number): void {
    if (!this.bar) return;
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    this.bar.update(done, { done: formatBytes(done), speed: formatBytes(done / secs) });
  }
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Prints an error for people (or as JSON) and returns the exit code. */
export function reportError(err: unknown, opts: OutputOptions = {}): number {
  const known = err instanceof DvxError;
  const code = known ? err.code : 'internal';
  const message = known ? err.message : errorMessage(err);
  const exit = !known ? 1 : err.code === 'usage' ? 2 : err.code === 'cancelled' ? 130 : 1;
  if (opts.json) {
    if (jsonPrinted) return exit;
    process.stdout.write(JSON.stringify({ error: { code, message, ...(known && err.hint ? { hint: err.hint } : {}) } }, null, 2) + '\n');
  } else {
    process.stderr.write(`dvx: error: ${message}\n`);
    if (known && err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    if (!known && process.env.DVX_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  }
  return exit;
}
