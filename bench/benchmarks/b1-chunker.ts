import { join } from 'node:path';
import type { ChunkerParams } from '../../core/chunker.ts';
import { Series, failures, pairedRatio, verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { run, sync, timed, warm } from '../lib/proc.ts';
import { fmtRatio, fmtSummary, KiB, sizeText, summarize, table } from '../lib/stats.ts';
import { REPO_ROOT } from '../lib/tools.ts';
import { ensureLargeFile } from '../workloads.ts';

/**
 * B1 "chunker": cut-point finding alone, on one core, from memory. Target:
 * >= 1.5 GB/s (10^9 bytes/s) at the default parameters. For scale, the same
 * repetition also measures b3sum on one thread (the hashing limit of the
 * machine) and, in the child, hash-wasm BLAKE3 and node:crypto SHA-256.
 */
const TARGET_GBPS = 1.5;

interface ChildOut {
  chunker: { label: string; params: ChunkerParams; seconds: number; chunks: number; meanChunk: number }[];
  blake3StreamSeconds?: number;
  blake3ChunksSeconds?: number;
  blake3Chunks?: number;
  sha256Seconds?: number;
  bytes: number;
}

function sweepParams(DEFAULT_CHUNKER: ChunkerParams): (ChunkerParams & { label: string })[] {
  const sets: (ChunkerParams & { label: string })[] = [];
  const isDefault = (p: ChunkerParams) => p.min === DEFAULT_CHUNKER.min && p.avg === DEFAULT_CHUNKER.avg && p.max === DEFAULT_CHUNKER.max;
  for (const k of [8, 16, 32, 64]) {
    const avg = k * KiB;
    const p = { min: avg / 4, avg, max: avg * 4 };
    sets.push({ ...p, label: isDefault(p) ? `default` : `avg ${k} KiB` });
  }
  if (!sets.some((s) => s.label === 'default')) sets.unshift({ ...DEFAULT_CHUNKER, label: 'default' });
  return sets;
}

const paramText = (p: ChunkerParams) => `${p.min / KiB}/${p.avg / KiB}/${p.max / KiB} KiB`;

export async function chunkerBench(ctx: Ctx): Promise<BenchResult> {
  const large = ensureLargeFile(ctx.sizes, ctx.quick);
  const bytes = large.bytes;
  const params = sweepParams(ctx.defaultChunker);
  const child = new Series('wasm chunker + in-process hashes');
  const b3 = new Series('b3sum --num-threads 1');
  const outs = new Map<number, ChildOut>();

  for (let rep = 1; rep <= ctx.reps; rep++) {
    await child.attempt(rep, ctx.log, async () => {
      warm(large.file);
      sync();
      const spec = { file: large.file, bytes, params, hashAt: 'default', fastcdc: join(ctx.dvxCore, 'fastcdc.js') };
      const r = await run([process.execPath, '--expose-gc', '--import', 'tsx', join(REPO_ROOT, 'bench', 'chunker-child.ts'), JSON.stringify(spec)], { cwd: REPO_ROOT });
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildOut;
      outs.set(rep, out);
      const d = out.chunker.find((c) => c.label === 'default')!;
      return { wallS: d.seconds, ...Object.fromEntries(out.chunker.map((c) => [`gbps:${c.label}`, bytes / c.seconds / 1e9])), blake3Stream: out.blake3StreamSeconds, blake3Chunks: out.blake3ChunksSeconds, sha256: out.sha256Seconds };
    });
    await b3.attempt(rep, ctx.log, async () => {
      warm(large.file);
      sync();
      const r = await timed(['b3sum', '--num-threads', '1', '--no-names', large.file], { env: ctx.tools.env });
      return { wallS: r.wallS, rssKiB: r.maxRssKiB, gbps: bytes / r.wallS / 1e9 };
    });
  }

  const rows: string[][] = [];
  for (const p of params) {
    const gb = child.stat(`gbps:${p.label}`);
    const first = [...outs.values()][0]?.chunker.find((c) => c.label === p.label);
    rows.push([
      p.label === 'default' ? `**default** (${paramText(p)})` : p.label,
      paramText(p),
      fmtSummary(gb, 2),
      first ? first.chunks.toLocaleString('en-US') : 'n/a',
      first ? `${(first.meanChunk / KiB).toFixed(1)} KiB` : 'n/a',
    ]);
  }
  const ref = (key: string, label: string, perChunk = false) => {
    const s = summarize(child.samples.map((x) => x[key]).filter((v): v is number => typeof v === 'number').map((sec) => bytes / sec / 1e6));
    return [label, fmtSummary(s, 0), perChunk ? 'per chunk, at the default cut points' : 'streaming'];
  };
  const refRows = [
    ['b3sum --num-threads 1 (process, mmap, SIMD)', fmtSummary(summarize(b3.samples.map((s) => s.gbps as number)), 0, 1000), 'whole file, includes process start'],
    ref('blake3Stream', 'hash-wasm BLAKE3, 1 thread'),
    ref('blake3Chunks', 'hash-wasm BLAKE3, 1 thread', true),
    ref('sha256', 'node:crypto SHA-256, 1 thread'),
  ];

  const def = child.stat('gbps:default');
  const vsB3 = pairedRatio(child, b3, (c, b) => (c['gbps:default'] as number) / (b.gbps as number));
  const pass = def ? def.median >= TARGET_GBPS : null;
  const md = [
    `Input: ${sizeText(bytes)} of pseudo-random bytes (the large file), loaded once into a \`WasmChunker\`'s memory outside the timed region; timed: \`findCut(start, end, true)\` in a loop over the whole buffer, one thread. GB/s = 10^9 bytes/s, median of ${ctx.reps} (min–max).`,
    '',
    table(['parameters', 'min/avg/max', 'GB/s', 'chunks', 'mean chunk'], rows),
    '',
    'Hashing references (MB/s, same bytes, same repetitions):',
    '',
    table(['hash', 'MB/s', 'note'], refRows),
    '',
    `Default chunker vs b3sum on one thread (paired per repetition): ${fmtRatio(vsB3)}.`,
    '',
    `Target: default parameters >= ${TARGET_GBPS} GB/s. Measured: ${fmtSummary(def, 2)} GB/s. ${verdict(pass)}`,
    failures([child, b3]),
  ].join('\n');
  return {
    name: 'chunker',
    title: 'B1 chunker: cut-point finding alone, one core',
    target: `default params >= ${TARGET_GBPS} GB/s`,
    pass,
    measured: `${fmtSummary(def, 2)} GB/s`,
    markdown: md,
    errors: [...child.errors, ...b3.errors],
    data: { bytes, params, child, b3sum: b3, childOutputs: Object.fromEntries(outs) },
  };
}
