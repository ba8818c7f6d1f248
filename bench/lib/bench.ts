import type { ChunkerParams } from '../../core/chunker.ts';
import type { RunResult } from './proc.ts';
import type { Sizes } from '../workloads.ts';
import { summarize, type Summary } from './stats.ts';
import type { Tools } from './tools.ts';

/** What every benchmark gets, and what it gives back. */
export interface Ctx {
  /** DEFAULT_CHUNKER of the dvx being measured (its compiled core/chunker.js) */
  defaultChunker: ChunkerParams;
  /** the measured dvx's compiled core/ directory (B1 loads its fastcdc.js) */
  dvxCore: string;
  quick: boolean;
  reps: number;
  sizes: Sizes;
  work: string;
  tools: Tools;
  log: (msg: string) => void;
}

export interface BenchResult {
  name: string;
  title: string;
  /** the target, in words */
  target: string;
  /** null when the target could not be evaluated (a run failed) */
  pass: boolean | null;
  /** the measured value the target is judged on, in words */
  measured: string;
  markdown: string;
  errors: string[];
  data: unknown;
}

export interface Sample {
  rep: number;
  wallS: number;
  rssKiB?: number;
  [k: string]: unknown;
}

/** The repeated runs of one tool in one benchmark, failures included. */
export class Series {
  readonly samples: Sample[] = [];
  readonly errors: string[] = [];
  constructor(readonly name: string) {}

  get ok(): boolean {
    return this.samples.length > 0;
  }

  stat(key: string): Summary | undefined {
    return summarize(this.samples.map((s) => s[key]).filter((v): v is number => typeof v === 'number'));
  }

  get wall(): Summary | undefined {
    return this.stat('wallS');
  }

  /** user + system CPU seconds, where measured */
  get cpuS(): Summary | undefined {
    return summarize(this.samples.filter((s) => typeof s.userS === 'number' && typeof s.sysS === 'number').map((s) => (s.userS as number) + (s.sysS as number)));
  }

  get rssMiB(): Summary | undefined {
    return summarize(this.samples.filter((s) => s.rssKiB !== undefined).map((s) => s.rssKiB! / 1024));
  }

  at(rep: number): Sample | undefined {
    return this.samples.find((s) => s.rep === rep);
  }

  /** Runs one measurement; a failure is recorded (and shown in the report), never thrown. */
  async attempt(rep: number, log: (m: string) => void, fn: () => Promise<Omit<Sample, 'rep'>>): Promise<Sample | undefined> {
    try {
      const s = { rep, ...(await fn()) } as Sample;
      this.samples.push(s);
      const cpu = typeof s.userS === 'number' && typeof s.sysS === 'number' ? `, cpu ${(s.userS as number).toFixed(2)}u+${(s.sysS as number).toFixed(2)}s` : '';
      log(`  ${this.name} rep ${rep}: ${s.wallS.toFixed(2)} s${cpu}${s.rssKiB ? `, ${(s.rssKiB / 1024).toFixed(0)} MiB` : ''}`);
      return s;
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      this.errors.push(`rep ${rep}: ${msg}`);
      log(`  ${this.name} rep ${rep}: FAILED: ${msg}`);
      return undefined;
    }
  }

  toJSON() {
    return { name: this.name, samples: this.samples, errors: this.errors, wallS: this.wall, cpuS: this.cpuS, rssMiB: this.rssMiB };
  }
}

/** The figures of one timed run, as a sample's fields. */
export function measured(r: RunResult): { wallS: number; rssKiB?: number; userS?: number; sysS?: number } {
  return { wallS: r.wallS, rssKiB: r.maxRssKiB, userS: r.userS, sysS: r.sysS };
}

/** Per-repetition ratios f(a, b) over the repetitions where both runs succeeded (paired, interleaved runs). */
export function pairedRatio(a: Series, b: Series, f: (x: Sample, y: Sample) => number): Summary | undefined {
  const xs: number[] = [];
  for (const s of a.samples) {
    const t = b.at(s.rep);
    if (t) xs.push(f(s, t));
  }
  return summarize(xs);
}

export function verdict(pass: boolean | null): string {
  return pass === null ? '**n/a (a run failed)**' : pass ? '**PASS**' : '**FAIL**';
}

/** Markdown lines listing failed runs, so that a failure is visible in the report. */
export function failures(series: Series[]): string {
  const lines = series.flatMap((s) => s.errors.map((e) => `- ${s.name} ${e}`));
  return lines.length ? `\nFailed runs:\n\n${lines.join('\n')}\n` : '';
}
