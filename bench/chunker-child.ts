import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createBLAKE3 } from 'hash-wasm';
import { pathToFileURL } from 'node:url';
import type { ChunkerParams } from '../core/chunker.ts';
import type * as Fastcdc from '../core/fastcdc.ts';

/**
 * One repetition of B1 ("chunker"), in its own process so that each 1 GiB
 * WebAssembly memory is released with the process. For each parameter set: the
 * input is loaded into a WasmChunker's memory (untimed), then every cut point
 * is found with findCut(start, end, true) on this one thread (timed). Then, for
 * reference and on the same in-memory bytes, single-thread hashing speeds:
 * hash-wasm BLAKE3 streaming, hash-wasm BLAKE3 per chunk at the default cut
 * points (what `dvx add` does for each chunk), node:crypto SHA-256 streaming.
 *
 * Usage: node --expose-gc --import tsx bench/chunker-child.ts '<json spec>'
 * (spec: file, bytes, params [{label, min, avg, max}], hashAt, fastcdc?)
 * Prints one JSON result on stdout.
 */
interface Spec {
  file: string;
  bytes: number;
  params: (ChunkerParams & { label: string })[];
  /** label of the parameter set whose cut points the per-chunk BLAKE3 uses */
  hashAt: string;
  /** the measured dvx's compiled core/fastcdc.js (default: the sources, core/fastcdc.ts) */
  fastcdc?: string;
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const { DATA_OFFSET, WasmChunker } = (await import(spec.fastcdc ? pathToFileURL(spec.fastcdc).href : '../core/fastcdc.ts')) as typeof Fastcdc;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function load(into: Uint8Array, file: string, bytes: number): void {
  const fd = openSync(file, 'r');
  try {
    let at = 0;
    while (at < bytes) {
      const n = readSync(fd, into, DATA_OFFSET + at, Math.min(64 << 20, bytes - at), at);
      if (n === 0) throw new Error(`${file}: short read at ${at}`);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

const out: {
  chunker: { label: string; params: ChunkerParams; seconds: number; chunks: number; meanChunk: number }[];
  blake3StreamSeconds?: number;
  blake3ChunksSeconds?: number;
  blake3Chunks?: number;
  sha256Seconds?: number;
  bytes: number;
} = { chunker: [], bytes: spec.bytes };

let keep: { ch: Fastcdc.WasmChunker; cuts: Uint32Array; n: number } | undefined;
for (const p of spec.params) {
  const params = { min: p.min, avg: p.avg, max: p.max };
  const ch = new WasmChunker(params, spec.bytes);
  load(ch.bytes, spec.file, spec.bytes);
  const end = DATA_OFFSET + spec.bytes;
  const cuts = p.label === spec.hashAt ? new Uint32Array(Math.ceil(spec.bytes / params.min) + 1) : undefined;
  // Timed region: nothing but the cut-point loop.
  let n = 0;
  let start = DATA_OFFSET;
  const t0 = process.hrtime.bigint();
  if (cuts) {
    while (start < end) {
      start = ch.findCut(start, end, true);
      cuts[n++] = start;
    }
  } else {
    while (start < end) {
      start = ch.findCut(start, end, true);
      n++;
    }
  }
  const seconds = secs(t0);
  if (start !== end) throw new Error(`cut points end at ${start}, not ${end}`);
  out.chunker.push({ label: p.label, params, seconds, chunks: n, meanChunk: spec.bytes / n });
  if (cuts) keep = { ch, cuts, n };
  gc();
}

if (keep) {
  const { ch, cuts, n } = keep;
  const data = ch.bytes.subarray(DATA_OFFSET, DATA_OFFSET + spec.bytes);
  const b3 = await createBLAKE3(256);
  // Streaming, 1 MiB updates.
  let t0 = process.hrtime.bigint();
  b3.init();
  for (let at = 0; at < data.length; at += 1 << 20) b3.update(data.subarray(at, Math.min(data.length, at + (1 << 20))));
  b3.digest('binary');
  out.blake3StreamSeconds = secs(t0);
  // Per chunk: init, update, digest, as the hash workers of `dvx add` do.
  t0 = process.hrtime.bigint();
  let from = DATA_OFFSET;
  for (let i = 0; i < n; i++) {
    b3.init();
    b3.update(ch.bytes.subarray(from, cuts[i]!));
    b3.digest('binary');
    from = cuts[i]!;
  }
  out.blake3ChunksSeconds = secs(t0);
  out.blake3Chunks = n;
  // SHA-256 of the whole, 4 MiB updates (dvx's read block).
  t0 = process.hrtime.bigint();
  const h = createHash('sha256');
  for (let at = 0; at < data.length; at += 4 << 20) h.update(data.subarray(at, Math.min(data.length, at + (4 << 20))));
  h.digest();
  out.sha256Seconds = secs(t0);
}

process.stdout.write(JSON.stringify(out) + '\n');
