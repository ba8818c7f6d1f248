import { GEAR } from './gear.ts';
import { DvxError } from './errors.ts';

/**
 * Content-defined chunking, format version 1: FastCDC (Xia et al., 2016/2020) with
 * normalized chunking level 2 and sub-minimum cut-point skipping over the 32-bit
 * gear hash of ./gear.ts.
 *
 * The cut rule, normative for every implementation (the WebAssembly fast path in
 * ./fastcdc.wat must agree with `findCutReference` byte for byte):
 *
 *   Given the bytes from a chunk's start, with n bytes remaining in the input:
 *   - if n <= min, the rest of the input is one chunk;
 *   - else let end = min(n, max) and mid = min(n, avg), h = 0 (u32), and for
 *     i = min, min+1, ... < end:
 *       h = (h << 1) + GEAR[byte[i]]   (mod 2^32)
 *       if (h & (i < mid ? maskS : maskL)) == 0: the chunk is bytes [0, i+1).
 *     If no i matched, the chunk is bytes [0, end).
 *   - maskS has log2(avg)+2 one bits, maskL has log2(avg)-2, both the highest
 *     bits *below* bit 31 (bits 30, 29, ...). Bit 31 is left out so that the fast
 *     path can test two bytes per step on h << 1 without losing a masked bit.
 *
 * The hash restarts at each chunk, so a cut depends only on the bytes since the
 * previous cut: never on how the input was split into reads.
 */
export const CHUNKER_ALGORITHM_FASTCDC_V1 = 1;

export interface ChunkerParams {
  /** bytes; no chunk but a file's last is shorter than min+1 */
  readonly min: number;
  /** bytes, a power of two; the normalization point */
  readonly avg: number;
  /** bytes; no chunk is longer */
  readonly max: number;
}

/**
 * The default, chosen by the sweep recorded in docs/benchmarks.md (the events
 * table at 8/16/32/64 KiB average): see docs/decisions.md for why 16 KiB.
 */
export const DEFAULT_CHUNKER: ChunkerParams = Object.freeze({ min: 4096, avg: 16384, max: 65536 });

export const CHUNKER_LIMITS = Object.freeze({ minMin: 64, maxMax: 8 * 1024 * 1024, minAvgBits: 8, maxAvgBits: 22 });

/** Validates chunker parameters, throwing a DvxError that names the bad value. */
export function checkChunkerParams(p: ChunkerParams): ChunkerParams {
  const bad = (msg: string) => new DvxError('bad_chunker_params', `invalid chunker parameters ${JSON.stringify(p)}: ${msg}`);
  for (const k of ['min', 'avg', 'max'] as const) {
    if (!Number.isInteger(p[k]) || p[k] <= 0) throw bad(`${k} must be a positive integer`);
  }
  const bits = Math.log2(p.avg);
  if (!Number.isInteger(bits) || bits < CHUNKER_LIMITS.minAvgBits || bits > CHUNKER_LIMITS.maxAvgBits) {
    throw bad(`avg must be a power of two between 2^${CHUNKER_LIMITS.minAvgBits} and 2^${CHUNKER_LIMITS.maxAvgBits}`);
  }
  if (p.min < CHUNKER_LIMITS.minMin) throw bad(`min must be at least ${CHUNKER_LIMITS.minMin}`);
  if (!(p.min < p.avg && p.avg < p.max)) throw bad('need min < avg < max');
  if (p.max > CHUNKER_LIMITS.maxMax) throw bad(`max must be at most ${CHUNKER_LIMITS.maxMax}`);
  return p;
}

/** The highest `bits` one bits below bit 31, as a signed i32 (what the wasm takes). */
function highMask(bits: number): number {
  return ((2 ** bits - 1) * 2 ** (31 - bits)) | 0;
}

export function chunkerMasks(p: ChunkerParams): { maskS: number; maskL: number } {
  const bits = Math.log2(p.avg);
  return { maskS: highMask(bits + 2), maskL: highMask(bits - 2) };
}

/**
 * Where the chunk starting at `start` ends, reading `data[start..length)`.
 * Returns -1 when the chunk cannot be decided yet: fewer than `max` bytes remain
 * and more input may follow (`eof` false).
 */
export function findCutReference(data: Uint8Array, start: number, length: number, eof: boolean, p: ChunkerParams): number {
  const n = length - start;
  if (!eof && n < p.max) return -1;
  if (n <= p.min) return length;
  const { maskS, maskL } = chunkerMasks(p);
  const end = start + Math.min(n, p.max);
  const mid = start + Math.min(n, p.avg);
  let h = 0;
  for (let i = start + p.min; i < end; i++) {
    h = ((h << 1) + GEAR[data[i]!]!) | 0;
    if ((h & (i < mid ? maskS : maskL)) === 0) return i + 1;
  }
  return end;
}

/** All chunk end offsets of a whole buffer (reference implementation; slow). */
export function cutPointsReference(data: Uint8Array, p: ChunkerParams): number[] {
  const cuts: number[] = [];
  let start = 0;
  while (start < data.length) {
    start = findCutReference(data, start, data.length, true, p);
    cuts.push(start);
  }
  return cuts;
}
